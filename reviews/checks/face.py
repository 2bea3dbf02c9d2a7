"""Is the person in the handheld photo the person on the card? A distance, not a verdict.

dlib finds faces (its HOG frontal detector), places five landmarks on each and turns the
aligned face into a 128-number embedding with the ResNet model that the
``face-recognition-models`` package ships. Two photos of one person are usually under
0.6 apart (dlib's own threshold), different people over it; the bands' limits are
settings (FACE_MATCH_SAME_MAX_DISTANCE, FACE_MATCH_DIFFERENT_MIN_DISTANCE).
"""

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import dlib
import numpy as np
from PIL import Image

from . import native_memory

SAME = "same"
UNSURE = "unsure"
DIFFERENT = "different"
NOT_FOUND = "not_found"

# Faces are looked for on a copy this size: a card's portrait in a photo of the card is
# still 100+ pixels high, more than the detector's 80-pixel window; smaller faces get a
# second, upsampled look.
DETECT_LONG_SIDE = 1024

_models = None
_models_lock = threading.Lock()
# dlib's models keep state while they work: one thread of a process uses them at a time.
_use_lock = threading.Lock()


def _model_file(name: str) -> str:
    # Located without importing the package, whose __init__ needs pkg_resources
    # (setuptools), gone from recent setuptools releases.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The face-recognition-models package is not installed (see requirements.txt).")
    return str(Path(next(iter(spec.submodule_search_locations))) / "models" / name)


def models():
    """The detector, landmark and embedding models of this process (loaded on first use, ~1 s)."""
    global _models
    if _models is None:
        with _models_lock:
            if _models is None:
                native_memory.fix_mmap_threshold()
                _models = (
                    dlib.get_frontal_face_detector(),
                    dlib.shape_predictor(_model_file("shape_predictor_5_face_landmarks.dat")),
                    dlib.face_recognition_model_v1(_model_file("dlib_face_recognition_resnet_model_v1.dat")),
                )
    return _models


@dataclass
class Face:
    embedding: np.ndarray
    size: int  # the side of the detected square, in pixels of the scaled copy
    box: tuple[int, int, int, int]  # left, top, right, bottom in the given image's pixels


def _scaled(image: Image.Image) -> np.ndarray:
    image = image.convert("RGB")
    if max(image.size) > DETECT_LONG_SIDE:
        image = image.copy()
        image.thumbnail((DETECT_LONG_SIDE, DETECT_LONG_SIDE), Image.Resampling.BILINEAR)
    return np.asarray(image)


def _found(detector, pixels: np.ndarray) -> list:
    """The faces' squares, largest first; a second, upsampled look if the first finds none."""
    found = detector(pixels, 0) or detector(pixels, 1)
    return sorted(found, key=lambda rect: rect.width(), reverse=True)


def _face(landmarks, encoder, pixels: np.ndarray, rect, scale: float) -> Face:
    embedding = np.asarray(encoder.compute_face_descriptor(pixels, landmarks(pixels, rect)))
    box = tuple(round(value * scale) for value in (rect.left(), rect.top(), rect.right(), rect.bottom()))
    return Face(embedding=embedding, size=int(rect.width()), box=box)


def faces(image: Image.Image) -> list[Face]:
    """Every face dlib finds, largest first."""
    detector, landmarks, encoder = models()
    pixels = _scaled(image)
    scale = image.width / pixels.shape[1]
    with _use_lock:
        return [_face(landmarks, encoder, pixels, rect, scale) for rect in _found(detector, pixels)]


def largest_face(image: Image.Image) -> Face | None:
    """The largest face dlib finds, or None; only its embedding is computed (about 0.1 s a face)."""
    detector, landmarks, encoder = models()
    pixels = _scaled(image)
    scale = image.width / pixels.shape[1]
    with _use_lock:
        found = _found(detector, pixels)
        return _face(landmarks, encoder, pixels, found[0], scale) if found else None


def distance(first: Face, second: Face) -> float:
    return float(np.linalg.norm(first.embedding - second.embedding))


def band(value: float | None, *, same_max: float, different_min: float) -> str:
    if value is None:
        return NOT_FOUND
    if value <= same_max:
        return SAME
    if value >= different_min:
        return DIFFERENT
    return UNSURE
