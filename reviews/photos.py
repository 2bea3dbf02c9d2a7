"""The ID photo pipeline: one job, from an uploaded file to safe stored bytes and hints.

1. Refuse by size, then read only the header: unknown formats, SVG, text files and
   images over the pixel limit are refused before any pixel is decoded.
2. Refuse what would cost too much to decode: the memory the decoded image takes,
   from its size after any reduced-scale decode, its mode and its bit depth, must fit
   ``PHOTO_MAX_DECODE_BYTES`` (a 111 KB 16-bit 7000×7000 PNG would need over 800 MB).
3. Decode (JPEGs at a reduced DCT scale: a 12 MP photo is decoded at 1/2, which is
   still far more than a reviewer needs to read an ID card), apply the EXIF
   orientation, flatten to RGB.
4. Re-encode as a fresh JPEG: EXIF (GPS!), ICC, comments and any bytes after the
   image are gone because nothing of the original file is copied.
5. Make a thumbnail and compute quality hints on a small grey copy.
"""

import hashlib
import io
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "HEIF", "MPO"}
STORED_MIN_LONG_SIDE = 1600  # draft scaling never goes below this
STORED_MAX_LONG_SIDE = 2048
THUMBNAIL_SIZE = (480, 480)
HINT_LONG_SIDE = 640
JPEG_QUALITY = 88

ERR_TOO_LARGE = _("The photo is larger than 10 MB. Take it again at a normal size, or send a smaller copy.")
ERR_NOT_AN_IMAGE = _("This file is not a photo we can read. Use a JPEG, PNG, WebP or HEIC photo.")
ERR_FORMAT = _("This kind of file is not accepted. Use a JPEG, PNG, WebP or HEIC photo.")
ERR_TOO_MANY_PIXELS = _("The photo's dimensions are too large. Use a normal camera photo.")
ERR_TOO_COSTLY = _(
    "The photo is too large to open: too many pixels for its colour depth. "
    "Use a normal camera photo (JPEG or HEIC), or save it again as a smaller JPEG."
)
ERR_TOO_SMALL = _("The photo is too small to read. Take it again closer to the card.")
ERR_DAMAGED = _("The photo file is damaged or incomplete. Take it again and upload the new one.")
ERR_EMPTY = _("The file is empty.")


# Bytes per pixel Pillow keeps for a decoded mode (every other mode takes 4).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def decode_cost(image: Image.Image) -> int:
    """The bytes that decoding ``image`` (opened, not loaded) will hold at once, as budgeted.

    The decoded image takes its size (after any reduced-scale decode) times the bytes
    Pillow keeps per pixel for its mode. Samples of more than 8 bits count twice: they
    are unpacked from rows twice as wide and scaled down to 8 bits through a copy.
    """
    width, height = image.size
    per_pixel = _MODE_BYTES.get(image.mode, 4)
    rawmode = image.tile[0][3] if image.tile else ""
    if isinstance(rawmode, tuple):
        rawmode = rawmode[0] if rawmode else ""
    if image.mode in SIXTEEN_BIT_MODES or ";16" in str(rawmode):
        per_pixel *= 2
    return width * height * per_pixel


class PhotoRejected(Exception):
    """The upload cannot be used; the message tells the customer why."""


HINT_MESSAGES = {
    "low_resolution": _("Low resolution — move closer so the card fills the frame."),
    "blurry": _("Looks blurry — hold still and let the camera focus."),
    "too_dark": _("Too dark — retake in even light."),
    "too_bright": _("Too bright — avoid direct sunlight or flash."),
    "glare": _("Glare on the card — tilt it slightly away from the light."),
    "black_and_white": _("Looks like a black-and-white copy — photograph the original card."),
    "no_face": _("No face found — the photo side of the card (or your face) must be clearly visible."),
    "unexpected_face": _("A face was found — this should be the side without the photo."),
    "faces_missing": _("We could not see both your face and the card's photo — hold the card next to your face."),
}


@dataclass
class ProcessedPhoto:
    jpeg: bytes
    thumbnail: bytes
    width: int
    height: int
    original_width: int
    original_height: int
    original_format: str
    original_sha256: str
    dhash: int
    hints: dict = field(default_factory=dict)

    @property
    def warnings(self) -> list[str]:
        return list(self.hints.get("warnings", []))


# The same findings worded for the reviewer, who looks at someone else's photo.
STAFF_HINT_MESSAGES = {
    "low_resolution": _("Low resolution: the card may be too small to read."),
    "blurry": _("Looks blurry."),
    "too_dark": _("Too dark."),
    "too_bright": _("Too bright: parts are burnt out."),
    "glare": _("Glare on the card."),
    "black_and_white": _("Looks like a black-and-white copy."),
    "no_face": _("No face found: the photo side may be missing."),
    "unexpected_face": _("A face was found on what should be the back of the card."),
    "faces_missing": _("The customer's face and the card's photo were not both found."),
}


def staff_hint_messages(hints: dict) -> list[str]:
    return [str(STAFF_HINT_MESSAGES[code]) for code in hints.get("warnings", []) if code in STAFF_HINT_MESSAGES]


def signed_hash(value: int) -> int:
    """A 64-bit hash as a signed bigint column holds it."""
    return value - (1 << 64) if value >= (1 << 63) else value


@dataclass
class StoredPhoto:
    """A photo already in private storage (a draft, or an earlier submission's), reused by reference.

    ``record`` is a ``DraftPhoto`` or a ``SubmissionPhoto``: both carry the same fields.
    """

    image_name: str
    thumbnail_name: str
    width: int
    height: int
    original_format: str
    original_sha256: str
    dhash: int  # unsigned, as ProcessedPhoto's
    hints: dict = field(default_factory=dict)

    @classmethod
    def of(cls, record) -> "StoredPhoto":
        return cls(
            image_name=record.image.name,
            thumbnail_name=record.thumbnail.name,
            width=record.width,
            height=record.height,
            original_format=record.original_format,
            original_sha256=record.original_sha256,
            dhash=record.dhash + (1 << 64) if record.dhash < 0 else record.dhash,
            hints=record.hints,
        )


def hint_messages(hints: dict) -> list[str]:
    return [str(HINT_MESSAGES[code]) for code in hints.get("warnings", []) if code in HINT_MESSAGES]


def process_photo(upload, *, kind: str) -> ProcessedPhoto:
    """Validate and re-encode one uploaded photo; raise PhotoRejected with a clear reason."""
    size = getattr(upload, "size", None)
    if size is not None and size > settings.PHOTO_MAX_BYTES:
        raise PhotoRejected(ERR_TOO_LARGE)
    upload.seek(0)
    data = upload.read(settings.PHOTO_MAX_BYTES + 1)
    if len(data) > settings.PHOTO_MAX_BYTES:
        raise PhotoRejected(ERR_TOO_LARGE)
    if not data:
        raise PhotoRejected(ERR_EMPTY)

    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError as error:
        # Pillow's own check (over twice MAX_IMAGE_PIXELS) fires inside open(), from the header.
        raise PhotoRejected(ERR_TOO_MANY_PIXELS) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise PhotoRejected(ERR_NOT_AN_IMAGE) from error
    if image.format not in ALLOWED_FORMATS:
        raise PhotoRejected(ERR_FORMAT)
    original_width, original_height = image.size
    if original_width * original_height > settings.PHOTO_MAX_PIXELS:
        raise PhotoRejected(ERR_TOO_MANY_PIXELS)
    if min(original_width, original_height) < settings.PHOTO_MIN_SIDE:
        raise PhotoRejected(ERR_TOO_SMALL)
    original_format = "HEIC" if image.format == "HEIF" else image.format

    if image.format in ("JPEG", "MPO"):
        long_side = max(original_width, original_height)
        factor = 1
        while factor < 8 and long_side // (factor * 2) >= STORED_MIN_LONG_SIDE:
            factor *= 2
        if factor > 1:
            image.draft("RGB", (-(-original_width // factor), -(-original_height // factor)))
    if decode_cost(image) > settings.PHOTO_MAX_DECODE_BYTES:
        raise PhotoRejected(ERR_TOO_COSTLY)

    try:
        image.load()
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)  # animated files: the first frame only
        if image.mode in SIXTEEN_BIT_MODES and max(image.size) > STORED_MAX_LONG_SIDE:
            # Shrink while still 16-bit (resize keeps the mode): the scaling to 8 bits in
            # _to_rgb then copies the stored size, not the whole original.
            image.thumbnail((STORED_MAX_LONG_SIDE, STORED_MAX_LONG_SIDE), Image.Resampling.BILINEAR)
        image = ImageOps.exif_transpose(image)
        image = _to_rgb(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, EOFError) as error:
        raise PhotoRejected(ERR_DAMAGED) from error

    if max(image.size) > STORED_MAX_LONG_SIDE:
        image.thumbnail((STORED_MAX_LONG_SIDE, STORED_MAX_LONG_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    # Pillow carries some metadata of the original in ``info`` and writes it back on save
    # (a JPEG comment, where a JPEG/HTML polyglot hides its page): keep none of it.
    image.info = {}
    stored = io.BytesIO()
    image.save(stored, "JPEG", quality=JPEG_QUALITY)

    hint_image = image.copy()
    hint_image.thumbnail((HINT_LONG_SIDE, HINT_LONG_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    # The thumbnail is smaller than the hint copy: shrink that rather than the stored image again.
    small = hint_image.copy()
    small.thumbnail(THUMBNAIL_SIZE, Image.Resampling.BILINEAR)
    thumbnail = io.BytesIO()
    small.save(thumbnail, "JPEG", quality=80)
    return ProcessedPhoto(
        jpeg=stored.getvalue(),
        thumbnail=thumbnail.getvalue(),
        width=image.width,
        height=image.height,
        original_width=original_width,
        original_height=original_height,
        original_format=original_format,
        original_sha256=hashlib.sha256(data).hexdigest(),
        dhash=difference_hash(hint_image),
        hints=quality_hints(hint_image, kind=kind, original_size=(original_width, original_height)),
    )


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in SIXTEEN_BIT_MODES:
        # 16-bit greyscale PNGs: scale to 8 bits instead of clipping everything to white.
        array = np.asarray(image, dtype=np.uint32)
        peak = max(int(array.max()), 1)
        image = Image.fromarray((array * 255 // peak).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def difference_hash(image: Image.Image) -> int:
    """A 64-bit perceptual hash: the same photo re-saved or resized hashes (almost) the same."""
    grey = image.convert("L").resize((9, 8), Image.Resampling.BILINEAR)
    pixels = np.asarray(grey, dtype=np.int16)
    bits = (pixels[:, 1:] > pixels[:, :-1]).flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value


def dhash_bands(value: int) -> tuple[int, int, int, int]:
    """Split a 64-bit hash into four 16-bit bands.

    Two hashes within Hamming distance 3 share at least one band exactly, so an indexed
    equality lookup on the bands finds every near-duplicate without scanning the table.
    """
    return tuple((value >> shift) & 0xFFFF for shift in (48, 32, 16, 0))


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


_cascade_local = threading.local()


@lru_cache(maxsize=1)
def _cv2():
    """OpenCV, imported on the first photo rather than at start-up.

    Every process imports this module (the admin imports the review services), and
    OpenCV adds about 56 MB to each: batch commands and Celery workers that never see a
    photo should not carry it.
    """
    import cv2

    return cv2


@lru_cache(maxsize=1)
def _cascade_path() -> str:
    return _cv2().data.haarcascades + "haarcascade_frontalface_default.xml"


def _face_detector():
    # CascadeClassifier objects are not safe to share between threads.
    detector = getattr(_cascade_local, "detector", None)
    if detector is None:
        detector = _cv2().CascadeClassifier(_cascade_path())
        _cascade_local.detector = detector
    return detector


# Thresholds, calibrated on the generated corpus of tests/photo_corpus.py (bench/photo_calibration.py
# prints the rates, docs/PERFORMANCE.md quotes them). All on the ≤640 px grey copy.
BLURRY_BELOW_SHARPNESS = 60  # variance of the Laplacian: sharp cards 340+, out-of-focus ones under 25
DARK_BELOW_HIGHLIGHTS = 120  # 95th percentile: the paper or the card itself, dim light leaves it under 90
CLIPPED_LEVEL = 250
BRIGHT_ABOVE_CLIPPED = 0.15  # share of clipped pixels: an over-exposed scene; good photos have none
GLARE_ABOVE_CLIPPED = 0.03  # a smaller clipped patch: a reflection on the card
GREY_BELOW_COLOUR = 20  # 99th percentile of saturation: an ID card's colours (emblem, print) reach 40+


def quality_hints(image: Image.Image, *, kind: str, original_size: tuple[int, int]) -> dict:
    """Measure what makes an ID photo hard to review. All figures are on a ≤640 px copy.

    The customer guide asks for a plain white background, so no check may depend on the
    background: a white sheet of paper is bright (mean brightness 220 and more) and
    colourless, and a card on it is a well-lit photo. Light is therefore judged by the
    brightest part of the scene (too dark) and by clipped, burnt-out pixels (too bright,
    glare), colour by the most colourful pixels rather than the average.
    """
    cv2 = _cv2()
    rgb = np.asarray(image.convert("RGB"))
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    brightness = float(grey.mean())
    highlights = float(np.percentile(grey, 95))
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    glare_ratio = float((grey >= CLIPPED_LEVEL).mean())
    saturation_channel = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[:, :, 1]
    saturation = float(saturation_channel.mean())
    colour = float(np.percentile(saturation_channel, 99))
    # Window scale steps of 20% (OpenCV's own face-detection sample uses 30%): 40% less time
    # than 10% steps, and the count is a hint for the reviewer, who sees the photo anyway.
    faces = _face_detector().detectMultiScale(grey, scaleFactor=1.2, minNeighbors=5, minSize=(24, 24))
    face_count = len(faces)

    warnings = []
    if min(original_size) < 1000:
        warnings.append("low_resolution")
    if sharpness < BLURRY_BELOW_SHARPNESS:
        warnings.append("blurry")
    if highlights < DARK_BELOW_HIGHLIGHTS:
        warnings.append("too_dark")
    elif glare_ratio > BRIGHT_ABOVE_CLIPPED:
        warnings.append("too_bright")
    elif glare_ratio > GLARE_ABOVE_CLIPPED:
        warnings.append("glare")
    if colour < GREY_BELOW_COLOUR and glare_ratio <= BRIGHT_ABOVE_CLIPPED:
        # A burnt-out photo has lost its colours too: it is told "too bright", once.
        warnings.append("black_and_white")
    if kind == "id_front" and face_count == 0:
        warnings.append("no_face")
    elif kind == "id_back" and face_count > 0:
        warnings.append("unexpected_face")
    elif kind == "id_handheld" and face_count < 2:
        warnings.append("faces_missing")
    return {
        "width": original_size[0],
        "height": original_size[1],
        "brightness": round(brightness, 1),
        "highlights": round(highlights, 1),
        "sharpness": round(sharpness, 1),
        "glare_ratio": round(glare_ratio, 4),
        "saturation": round(saturation, 1),
        "colour": round(colour, 1),
        "faces": face_count,
        "warnings": warnings,
    }
