"""All machine checks of one submission's photos: reads and computes, writes nothing.

``reviews.services.checks`` calls ``run`` outside any transaction (it takes seconds) and
records what it returns. Each part that cannot be done (no photo, nothing read, no face)
says so in its result instead of failing the others.
"""

import datetime
import time
from dataclasses import dataclass, field

from PIL import Image

from . import face, identity, ocr

# Each photo is decoded once, to a copy this size, from which OCR and the face detector
# take theirs (neither works on more pixels).
WORKING_LONG_SIDE = max(ocr.CLOSER_LONG_SIDE, face.DETECT_LONG_SIDE)


@dataclass
class Typed:
    """What the customer typed on the form (the ID number in full, already validated)."""

    full_name: str
    id_number: str


@dataclass
class Thresholds:
    face_same_max: float
    face_different_min: float


@dataclass
class Outcome:
    fields: dict = field(default_factory=dict)
    sides: dict = field(default_factory=dict)  # "front"/"back" → "ok" | "looks_like_other_side" | "no_text" | "missing"
    face_distance: float | None = None
    face_band: str = face.NOT_FOUND
    face_note: str = ""  # which photo had no face
    document_expiry: str = identity.UNREADABLE
    valid_from: datetime.date | None = None
    valid_until: datetime.date | None = None
    timings: dict = field(default_factory=dict)


def working_copy(image: Image.Image | None) -> Image.Image | None:
    """An RGB copy of ``image`` at most WORKING_LONG_SIDE pixels long.

    A JPEG not decoded yet (as ``reviews.services.checks`` opens the stored photos) is
    decoded at a half, quarter or eighth of its size where that is still at least
    WORKING_LONG_SIDE: libjpeg scales while it decodes, so the full-size pixels (9 MB for
    a 2048×1536 photo, and as much again for each copy made of them) are never held.
    Such an ``image`` is left set to decode at that size.
    """
    if image is None:
        return None
    if max(image.size) > WORKING_LONG_SIDE:
        ratio = WORKING_LONG_SIDE / max(image.size)
        image.draft("RGB", (round(image.width * ratio), round(image.height * ratio)))  # no-op unless a JPEG
    copy = image.convert("RGB")
    copy.thumbnail((WORKING_LONG_SIDE, WORKING_LONG_SIDE), Image.Resampling.BILINEAR)
    return copy


def read_front(image: Image.Image, *, typed_id_number: str) -> list[str]:
    """The front's lines; read again closer when the number read is not the one typed.

    Most cards are read right on the smaller copy. Where the card fills less of the photo
    its small print is misread, and a misread number is a mismatch the reviewer would be
    shown: it gets a second look (about 0.8 s) before it counts.
    """
    lines = ocr.read_lines(image)
    if identity.parse_front(lines).get("id_number") != typed_id_number:
        lines = ocr.read_lines(image, ocr.CLOSER_LONG_SIDE)
    return lines


def read_back(image: Image.Image) -> list[str]:
    """The back's lines; read again closer when no validity period was read."""
    lines = ocr.read_lines(image)
    if "valid_from" not in identity.parse_back(lines):
        lines = ocr.read_lines(image, ocr.CLOSER_LONG_SIDE)
    return lines


def _side(lines, *, expected: str) -> str:
    if not lines:
        return "no_text"
    if expected == "front" and identity.looks_like_back(lines) and not identity.looks_like_front(lines):
        return "looks_like_other_side"
    if expected == "back" and identity.looks_like_front(lines) and not identity.looks_like_back(lines):
        return "looks_like_other_side"
    return "ok"


def run(
    *,
    front: Image.Image | None,
    back: Image.Image | None,
    handheld: Image.Image | None,
    typed: Typed,
    on_day: datetime.date,
    thresholds: Thresholds,
) -> Outcome:
    """OCR both sides, compare the fields, match the faces, read the validity period."""
    outcome = Outcome()
    started = time.perf_counter()

    moment = time.perf_counter()
    front = working_copy(front)
    front_lines = read_front(front, typed_id_number=typed.id_number) if front is not None else []
    outcome.timings["ocr_front"] = round(time.perf_counter() - moment, 3)
    outcome.sides["front"] = _side(front_lines, expected="front") if front is not None else "missing"
    outcome.fields.update(
        identity.compare_front(
            identity.parse_front(front_lines), typed_name=typed.full_name, typed_id_number=typed.id_number
        )
    )

    moment = time.perf_counter()
    back = working_copy(back)
    back_lines = read_back(back) if back is not None else []
    outcome.timings["ocr_back"] = round(time.perf_counter() - moment, 3)
    outcome.sides["back"] = _side(back_lines, expected="back") if back is not None else "missing"
    back_read = identity.parse_back(back_lines)
    back_fields, outcome.document_expiry, validity = identity.compare_back(back_read, on_day=on_day)
    outcome.fields.update(back_fields)
    outcome.valid_from = validity.get("valid_from")
    outcome.valid_until = validity.get("valid_until")

    moment = time.perf_counter()
    # The largest face: on the card its portrait; in the handheld photo the person, whose
    # face is nearer the camera than the portrait on the card they hold.
    card_face = face.largest_face(front) if front is not None else None
    person_face = face.largest_face(working_copy(handheld)) if handheld is not None else None
    outcome.timings["face"] = round(time.perf_counter() - moment, 3)
    if card_face is None:
        outcome.face_note = "no_face_on_card"
    elif person_face is None:
        outcome.face_note = "no_face_in_handheld"
    else:
        outcome.face_distance = round(face.distance(card_face, person_face), 4)
    outcome.face_band = face.band(
        outcome.face_distance, same_max=thresholds.face_same_max, different_min=thresholds.face_different_min
    )
    outcome.timings["total"] = round(time.perf_counter() - started, 3)
    return outcome
