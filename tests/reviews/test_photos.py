"""The photo pipeline: what is refused (and why), what is accepted, and what is left of it."""

import hashlib
import io
import random

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageFile, ImageFilter

from reviews import photos
from reviews.photos import (
    ERR_DAMAGED,
    ERR_EMPTY,
    ERR_FORMAT,
    ERR_NOT_AN_IMAGE,
    ERR_TOO_LARGE,
    ERR_TOO_MANY_PIXELS,
    ERR_TOO_SMALL,
    PhotoRejected,
)
from tests.images import GPS_IFD, card_image, encode
from tests.reviews import payloads


def upload(data: bytes, name="photo.jpg", content_type="image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def process(data: bytes, name="photo.jpg", kind="id_back"):
    return photos.process_photo(upload(data, name), kind=kind)


def refusal(data: bytes, name="photo.jpg") -> str:
    with pytest.raises(PhotoRejected) as caught:
        process(data, name)
    return str(caught.value)


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# Refused ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "name", "message"),
    [
        (payloads.text_file, "passport.jpg", ERR_NOT_AN_IMAGE),
        (payloads.truncated_jpeg, "front.jpg", ERR_DAMAGED),
        (lambda: payloads.SVG, "front.svg", ERR_NOT_AN_IMAGE),
        (lambda: payloads.SVG, "front.jpg", ERR_NOT_AN_IMAGE),
        (payloads.gif_bytes, "front.gif", ERR_FORMAT),
        (lambda: b"", "front.jpg", ERR_EMPTY),
        (lambda: payloads.jpeg_bytes(400, 200), "tiny.jpg", ERR_TOO_SMALL),
    ],
    ids=["text-renamed-jpg", "truncated-jpeg", "svg", "svg-renamed-jpg", "gif", "empty", "too-small"],
)
def test_unusable_upload_is_refused_with_its_reason(make, name, message):
    assert refusal(make(), name) == str(message)


def test_file_over_10_mb_is_refused_by_its_size():
    assert refusal(payloads.oversized_file(30)) == str(ERR_TOO_LARGE)


def test_file_over_10_mb_without_a_declared_size_is_refused_after_reading_11_mb_at_most(settings):
    stream = io.BytesIO(payloads.oversized_file(30))
    with pytest.raises(PhotoRejected) as caught:
        photos.process_photo(stream, kind="id_back")
    assert str(caught.value) == str(ERR_TOO_LARGE)
    assert stream.tell() == settings.PHOTO_MAX_BYTES + 1


@pytest.fixture
def decoded(monkeypatch):
    """Record every time Pillow decodes pixels (ImageFile.load)."""
    calls = []
    real_load = ImageFile.ImageFile.load

    def spy(self):
        calls.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return calls


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("size", [(20_000, 20_000), (10_000, 6_000)], ids=["400-megapixels", "60-megapixels"])
def test_decompression_bomb_is_refused_from_its_header_before_any_pixel_is_decoded(size, decoded):
    bomb = payloads.png_bomb(*size)
    assert len(bomb) < 100_000  # tiny on disk…
    assert refusal(bomb, "bomb.png") == str(ERR_TOO_MANY_PIXELS)
    assert decoded == []

    # …whereas an ordinary PNG does go through the (spied) decoder.
    process(encode(card_image(*payloads.SMALL), "PNG"), "ok.png")
    assert payloads.SMALL in decoded


def test_pixel_limit_comes_from_settings(settings):
    settings.PHOTO_MAX_PIXELS = 480 * 360 - 1
    assert refusal(payloads.small_jpeg()) == str(ERR_TOO_MANY_PIXELS)


# Accepted and cleaned ----------------------------------------------------------------------


def test_jpeg_with_gps_exif_and_trailing_html_is_stored_as_a_clean_jpeg():
    data = payloads.jpeg_with_html_payload()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)  # the upload does carry GPS

    processed = process(data)

    assert processed.jpeg.startswith(b"\xff\xd8")
    assert processed.jpeg.endswith(b"\xff\xd9")
    assert b"<html" not in processed.jpeg
    assert b"<script" not in processed.jpeg
    stored = opened(processed.jpeg)
    assert stored.format == "JPEG"
    assert dict(stored.getexif()) == {}
    assert stored.getexif().get_ifd(GPS_IFD) == {}
    assert "exif" not in stored.info
    assert b"Exif" not in processed.jpeg
    assert processed.original_sha256 == hashlib.sha256(data).hexdigest()
    thumbnail = opened(processed.thumbnail)
    assert dict(thumbnail.getexif()) == {}
    assert max(thumbnail.size) <= max(photos.THUMBNAIL_SIZE)


def test_heic_photo_from_an_iphone_is_accepted_and_stored_as_jpeg():
    processed = process(payloads.heic_bytes(), "IMG_0001.HEIC")
    assert processed.original_format == "HEIC"
    assert opened(processed.jpeg).format == "JPEG"
    assert (processed.width, processed.height) == payloads.SMALL


def test_png_with_alpha_is_accepted_and_flattened_on_white():
    processed = process(payloads.png_with_alpha(), "front.png")
    stored = opened(processed.jpeg)
    assert processed.original_format == "PNG"
    assert stored.mode == "RGB"
    # Half-transparent light card over white: lighter than the card itself, never black.
    assert min(stored.convert("L").getextrema()) > 100


def test_webp_is_accepted():
    processed = process(payloads.webp_bytes(), "front.webp")
    assert processed.original_format == "WEBP"
    assert opened(processed.jpeg).size == payloads.SMALL


def test_exif_orientation_is_applied_so_the_card_is_upright():
    data = payloads.rotated_jpeg()
    assert Image.open(io.BytesIO(data)).size == (480, 360)

    processed = process(data)

    assert (processed.width, processed.height) == (360, 480)
    assert opened(processed.jpeg).size == (360, 480)
    assert (processed.original_width, processed.original_height) == (480, 360)
    assert 0x0112 not in opened(processed.jpeg).getexif()


def test_large_photo_is_stored_at_most_2048_pixels_wide():
    data = encode(Image.new("RGB", (3000, 400), (200, 190, 170)), "PNG")
    processed = process(data, "wide.png")
    assert max(processed.width, processed.height) == photos.STORED_MAX_LONG_SIDE
    assert (processed.original_width, processed.original_height) == (3000, 400)


# Hints -------------------------------------------------------------------------------------


def test_sharp_bright_card_has_no_quality_warnings():
    processed = process(payloads.small_jpeg(), kind="id_back")
    assert {"blurry", "too_dark", "too_bright", "glare", "black_and_white"}.isdisjoint(processed.warnings)
    assert processed.hints["width"] == 480
    assert processed.hints["faces"] == 0


def _with_reflection(image):
    """A burnt-out patch over a tenth of the card: a lamp reflected in its surface."""
    image.paste((255, 255, 255), (100, 100, 220, 240))
    return image


@pytest.mark.parametrize(
    ("image", "warning"),
    [
        (card_image(480, 360, brightness=40), "too_dark"),
        (card_image(480, 360).filter(ImageFilter.GaussianBlur(6)), "blurry"),
        (card_image(480, 360).convert("L"), "black_and_white"),
        (_with_reflection(card_image(480, 360)), "glare"),
        (Image.new("RGB", (480, 360), (255, 255, 255)), "too_bright"),
    ],
    ids=["dark", "blurry", "photocopy", "glare", "burnt-out"],
)
def test_poor_photo_gets_the_matching_hint(image, warning):
    processed = process(encode(image, "PNG"), "poor.png")
    assert warning in processed.warnings
    assert str(photos.HINT_MESSAGES[warning]) in photos.hint_messages(processed.hints)


def test_low_resolution_and_kind_specific_hints():
    processed = process(payloads.small_jpeg(), kind="id_front")
    assert "low_resolution" in processed.warnings  # shorter side under 1000 px
    assert "no_face" in processed.warnings  # the photo side must show a face
    handheld = process(payloads.small_jpeg(), kind="id_handheld")
    assert "faces_missing" in handheld.warnings


def test_hint_messages_ignore_unknown_codes():
    assert photos.hint_messages({"warnings": ["glare", "made_up"]}) == [str(photos.HINT_MESSAGES["glare"])]
    assert photos.hint_messages({}) == []


# Perceptual hash ----------------------------------------------------------------------------


def test_same_card_resaved_smaller_hashes_within_the_duplicate_distance_another_card_does_not(settings):
    card = card_image(640, 480, seed=3)
    original = process(encode(card, "JPEG", quality=90)).dhash
    resaved = process(encode(card.resize((400, 300)), "JPEG", quality=40)).dhash
    as_png = process(encode(card, "PNG"), "card.png").dhash
    other = process(encode(card_image(640, 480, seed=4), "JPEG", quality=90)).dhash

    assert photos.hamming(original, resaved) <= settings.PHOTO_DUPLICATE_MAX_DISTANCE
    assert photos.hamming(original, as_png) <= settings.PHOTO_DUPLICATE_MAX_DISTANCE
    assert photos.hamming(original, other) > settings.PHOTO_DUPLICATE_MAX_DISTANCE
    assert 0 <= original < 1 << 64


def test_dhash_bands_split_the_hash_and_near_duplicates_share_a_band():
    rng = random.Random(5)
    for _ in range(200):
        value = rng.getrandbits(64)
        bands = photos.dhash_bands(value)
        assert all(0 <= band <= 0xFFFF for band in bands)
        assert (bands[0] << 48) | (bands[1] << 32) | (bands[2] << 16) | bands[3] == value
        near = value
        for bit in rng.sample(range(64), 3):
            near ^= 1 << bit
        assert photos.hamming(value, near) == 3
        assert any(a == b for a, b in zip(bands, photos.dhash_bands(near), strict=True))


def test_hamming_counts_differing_bits():
    assert photos.hamming(0, 0) == 0
    assert photos.hamming(0b1011, 0b0001) == 2
    assert photos.hamming(0, (1 << 64) - 1) == 64


def test_opencv_is_imported_by_the_first_photo_not_at_start_up():
    """OpenCV is ~56 MB per process: commands and workers that never see a photo must not load it."""
    import subprocess
    import sys

    from django.conf import settings

    script = (
        "import sys, django; django.setup(); from django.contrib import admin; admin.autodiscover(); "
        "import reviews.services; print('cv2' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=settings.BASE_DIR, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip().splitlines()[-1] == "False"
