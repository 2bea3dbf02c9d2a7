"""Text on an ID card photo, with rapidocr-onnxruntime's PP-OCRv4 Chinese models.

The models ship inside the rapidocr-onnxruntime wheel: nothing is downloaded. The engine
is built once per process, on first use (about a second), and reused; a lock keeps two
threads from building it twice.
"""

import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

# Memory and time grow with the pixels OCR is given: a 1024-pixel copy of a card photo
# keeps text lines about 25 pixels high, which PP-OCRv4 reads, and text is looked for on
# an 800-pixel copy of that (the detector's activations are most of the memory). The
# bench (bench/machine_checks.py) measured accuracy, time and peak memory at these sizes.
OCR_LONG_SIDE = 1024
DETECT_LONG_SIDE = 800

_engine = None
_engine_lock = threading.Lock()


def engine():
    """The process's OCR engine (built on first use)."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                # Imported here, not at the top: importing it costs 0.6 s and 60 MB (onnxruntime),
                # which every web process would pay although only the process running checks uses it.
                from rapidocr_onnxruntime import RapidOCR

                # One thread per model: the checks run beside web requests or other tasks
                # on a few cores, where onnxruntime's default (a thread per core) was
                # several times slower on a busy two-core machine (docs/PERFORMANCE.md).
                _engine = RapidOCR(
                    intra_op_num_threads=1,
                    inter_op_num_threads=1,
                    det_limit_type="max",
                    det_limit_side_len=DETECT_LONG_SIDE,
                )
    return _engine


@dataclass
class TextBox:
    text: str
    score: float
    left: float
    top: float
    bottom: float

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def height(self) -> float:
        return self.bottom - self.top


def read_boxes(image: Image.Image) -> list[TextBox]:
    """Every piece of text OCR finds in ``image``, with its position."""
    image = image.convert("RGB")
    if max(image.size) > OCR_LONG_SIDE:
        image = image.copy()
        image.thumbnail((OCR_LONG_SIDE, OCR_LONG_SIDE), Image.Resampling.BILINEAR)
    result, _elapsed = engine()(np.asarray(image)[:, :, ::-1])  # the engine takes OpenCV's BGR
    boxes = []
    for corners, text, score in result or ():
        ys = [point[1] for point in corners]
        xs = [point[0] for point in corners]
        boxes.append(TextBox(text=text, score=float(score), left=min(xs), top=min(ys), bottom=max(ys)))
    return boxes


def group_lines(boxes: list[TextBox]) -> list[str]:
    """Boxes on the same line of the card, left to right, joined; lines top to bottom.

    A box belongs to a line when its middle lies within half its height of the line's
    middle, which tolerates the few degrees a hand-held card is turned.
    """
    lines: list[list[TextBox]] = []
    for box in sorted(boxes, key=lambda b: b.middle):
        if lines:
            current = lines[-1]
            middle = sum(b.middle for b in current) / len(current)
            if abs(box.middle - middle) <= max(box.height, current[-1].height) / 2:
                current.append(box)
                continue
        lines.append([box])
    return ["".join(b.text for b in sorted(line, key=lambda b: b.left)) for line in lines]


def read_lines(image: Image.Image) -> list[str]:
    return group_lines(read_boxes(image))
