"""Text on an ID card photo, with rapidocr-onnxruntime's PP-OCRv4 Chinese models.

The models ship inside the rapidocr-onnxruntime wheel: nothing is downloaded. The engine
is built once per process, on first use (about a second), and reused; a lock keeps two
threads from building it twice.
"""

import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import native_memory

# Text is looked for and read on a copy of the photo OCR_LONG_SIDE long (its long side, in
# pixels), and on one CLOSER_LONG_SIDE long when what matters was not read there (see
# ``runner.read_front``). The text detector's memory and time grow with the pixels it is
# given. On the bench's corpus (bench/machine_checks.py) 800 pixels read every ID number
# and as many fields as 1024 for a quarter less CPU; once the card filled only half the
# photo, 800 pixels misread 2 ID numbers of 80 and 1024 none.
OCR_LONG_SIDE = 800
CLOSER_LONG_SIDE = 1024

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

                native_memory.fix_mmap_threshold()
                _engine = RapidOCR(
                    # One thread per model: the checks run beside web requests or other tasks
                    # on a few cores, where onnxruntime's default (a thread per core) was
                    # several times slower on a busy two-core machine (docs/PERFORMANCE.md).
                    intra_op_num_threads=1,
                    inter_op_num_threads=1,
                    # The detector takes the copy as it is. rapidocr 1.4.4's "max" limit type
                    # replaces a limit under 960 with 960, 1500 or 2000 by the image's size,
                    # so a smaller limit never applied; "min" only enlarges an image whose
                    # short side is under the limit, which no card photo's is.
                    det_limit_type="min",
                    det_limit_side_len=32,
                    # One text line at a time: a batch is padded to its widest line, and the
                    # ID number's and the address's lines are several times the others'.
                    rec_batch_num=1,
                    # The angle classifier stays (its model is 0.6 MB, 0.01 s a side): it turns
                    # upside-down lines round, so the number of a card photographed upside
                    # down is still read.
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


def read_boxes(image: Image.Image, long_side: int = OCR_LONG_SIDE) -> list[TextBox]:
    """Every piece of text OCR finds in a copy of ``image`` at most ``long_side`` long, with its position."""
    image = image.convert("RGB")
    if max(image.size) > long_side:
        image = image.copy()
        image.thumbnail((long_side, long_side), Image.Resampling.BILINEAR)
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


def read_lines(image: Image.Image, long_side: int = OCR_LONG_SIDE) -> list[str]:
    return group_lines(read_boxes(image, long_side))
