"""Hostile and broken uploads through every page that takes a photo, over HTTP.

Each file of the corpus (tests/security/bad_uploads.py) is either refused with a clear
message — and then no Submission row exists and no file is left on storage — or
accepted and re-encoded into a plain JPEG that carries nothing of the original file.
The same corpus goes through the customer's submission, the instant pre-check and the
clerk's desk photo capture.

What one upload may cost is bounded too: a form with a typing mistake decodes its photos
once, to keep them for the next try (the customer's and the clerk's alike), an image whose
decoded pixels would not fit PHOTO_MAX_DECODE_BYTES is refused from its header, and
submissions and pre-checks are counted per customer and per address.
"""

import io
import re
import time
import tracemalloc

import pytest
from django.test import override_settings
from django.utils import translation
from django.utils.html import escape
from PIL import Image, ImageFile

from accounts.models import Line
from reviews import photos
from reviews.models import Certificate, DraftPhoto, Submission, SubmissionEvent, SubmissionPhoto
from reviews.photos import (
    ERR_DAMAGED,
    ERR_EMPTY,
    ERR_FORMAT,
    ERR_NOT_AN_IMAGE,
    ERR_TOO_COSTLY,
    ERR_TOO_LARGE,
    ERR_TOO_MANY_PIXELS,
    PhotoRejected,
    process_photo,
)
from reviews.validators import ERR_ID_CHECKSUM
from tests.factories import CustomerFactory, ServicePointFactory, make_line, make_staff
from tests.reviews import payloads
from tests.reviews.conftest import private_files
from tests.security import bad_uploads
from tests.security.forms import PRECHECK_URL, SUBMIT_URL, fresh_id_number, submission_form, upload

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")]

# Django's own FileField message for a zero-byte upload, before the pipeline sees it.
ERR_DJANGO_EMPTY = "The submitted file is empty."

REFUSED = [
    ("html-page-with-a-jpeg-inside", bad_uploads.html_with_jpeg_inside, "front.jpg", "image/jpeg", ERR_NOT_AN_IMAGE),
    ("svg-with-script", lambda: payloads.SVG, "front.svg", "image/svg+xml", ERR_NOT_AN_IMAGE),
    ("svg-named-jpg", lambda: payloads.SVG, "front.jpg", "image/jpeg", ERR_NOT_AN_IMAGE),
    ("png-bomb-400-megapixels", payloads.png_bomb, "front.png", "image/png", ERR_TOO_MANY_PIXELS),
    ("png-bomb-60-megapixels", lambda: payloads.png_bomb(10_000, 6_000), "front.png", "image/png", ERR_TOO_MANY_PIXELS),
    (
        "jpeg-bomb-900-megapixels",
        lambda: bad_uploads.jpeg_claiming(30_000, 30_000),
        "f.jpg",
        "image/jpeg",
        ERR_TOO_MANY_PIXELS,
    ),
    (
        "jpeg-81-megapixels",
        lambda: bad_uploads.jpeg_claiming(9_000, 9_000),
        "front.jpg",
        "image/jpeg",
        ERR_TOO_MANY_PIXELS,
    ),
    ("truncated-jpeg", payloads.truncated_jpeg, "front.jpg", "image/jpeg", ERR_DAMAGED),
    ("truncated-png", bad_uploads.truncated_png, "front.png", "image/png", ERR_DAMAGED),
    ("jpeg-headers-only", bad_uploads.header_only_jpeg, "front.jpg", "image/jpeg", ERR_NOT_AN_IMAGE),
    ("zero-bytes", lambda: b"", "front.jpg", "image/jpeg", ERR_DJANGO_EMPTY),
    ("text-named-jpg", payloads.text_file, "front.jpg", "image/jpeg", ERR_NOT_AN_IMAGE),
    ("gif", payloads.gif_bytes, "front.gif", "image/gif", ERR_FORMAT),
    ("over-10-mb", lambda: payloads.oversized_file(12), "front.jpg", "image/jpeg", ERR_TOO_LARGE),
    # Under the pixel limit, but 16-bit: 250 KB that decode to 98 MB (and used to cost 893 MB).
    ("png-16-bit-grey-7000x7000", bad_uploads.grey_16_bit_png_7000, "front.png", "image/png", ERR_TOO_COSTLY),
    (
        "png-48-bit-rgb-20-megapixels",
        lambda: bad_uploads.rgb_16_bit_png_black(5000, 4000),
        "front.png",
        "image/png",
        ERR_TOO_COSTLY,
    ),
]

ACCEPTED = [
    ("jpeg-html-polyglot", bad_uploads.jpeg_html_polyglot, "front.jpg", "image/jpeg", "JPEG"),
    ("jpeg-with-trailing-html-and-gps", payloads.jpeg_with_html_payload, "front.jpg", "image/jpeg", "JPEG"),
    ("png-named-jpg", bad_uploads.png_named_jpg, "front.jpg", "image/jpeg", "PNG"),
    ("jpeg-named-html", lambda: payloads.small_jpeg(seed=31), "front.html", "text/html", "JPEG"),
    ("cmyk-jpeg", bad_uploads.cmyk_jpeg, "front.jpg", "image/jpeg", "JPEG"),
    ("16-bit-grey-png", bad_uploads.grey_16_bit_png, "front.png", "image/png", "PNG"),
    ("48-bit-rgb-png", bad_uploads.rgb_16_bit_png, "front.png", "image/png", "PNG"),
    ("animated-webp", bad_uploads.animated_webp, "front.webp", "image/webp", "WEBP"),
    ("animated-png", bad_uploads.animated_png, "front.png", "image/png", "PNG"),
]


def ids(cases):
    return [case[0] for case in cases]


def en(message) -> str:
    with translation.override("en"):
        return str(message)


def shows(response, message) -> bool:
    return escape(en(message)) in response.content.decode()


@pytest.fixture(autouse=True)
def _english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def assert_clean_jpeg(data: bytes, original: bytes):
    assert data.startswith(b"\xff\xd8\xff")
    assert data.endswith(b"\xff\xd9")
    for marker in (b"<html", b"<script", b"<svg", b"Exif"):
        assert marker not in data
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    assert getattr(image, "n_frames", 1) == 1
    assert dict(image.getexif()) == {}
    assert "icc_profile" not in image.info
    assert data != original


# The customer's submission --------------------------------------------------------------


@pytest.mark.parametrize(("case", "make", "name", "content_type", "message"), REFUSED, ids=ids(REFUSED))
@pytest.mark.parametrize("field", ["id_front", "id_handheld"])
def test_bad_photo_in_a_submission_is_refused_with_its_reason_and_nothing_is_stored(
    client, case, make, name, content_type, message, field
):
    customer = CustomerFactory()
    client.force_login(customer)
    before = private_files()

    response = client.post(SUBMIT_URL, submission_form(customer, **{field: upload(make(), name, content_type)}))

    assert response.status_code == 200
    assert shows(response, message), case
    assert not Submission.objects.exists()
    assert not SubmissionPhoto.objects.exists()
    assert not SubmissionEvent.objects.exists()
    # Nothing of the refused file; the two good photos are kept for the next try.
    kept = {"id_front", "id_back", "id_handheld"} - {field}
    assert set(DraftPhoto.objects.filter(user=customer).values_list("kind", flat=True)) == kept
    added = private_files() - before
    assert len(added) == 4 and all(f"/{field}-" not in name for name in added)


@pytest.mark.parametrize(("case", "make", "name", "content_type", "original_format"), ACCEPTED, ids=ids(ACCEPTED))
def test_tricky_photo_in_a_submission_is_re_encoded_into_a_plain_jpeg(
    client, case, make, name, content_type, original_format
):
    customer = CustomerFactory()
    client.force_login(customer)
    original = make()
    before = private_files()

    response = client.post(SUBMIT_URL, submission_form(customer, id_back=upload(original, name, content_type)))

    assert response.status_code == 302, case
    photo = Submission.objects.get(user=customer).photos.get(kind="id_back")
    assert photo.original_format == original_format
    # Our own name (plus the suffix storage adds to avoid a clash), never the uploaded one: the
    # form keeps the photo as the customer's draft and the submission takes that file over.
    own_name = rf"drafts/{customer.pk}/id_back-[0-9a-f]{{16}}(_[A-Za-z0-9]{{7}})?\.jpg"
    assert re.fullmatch(own_name, photo.image.name), photo.image.name
    for field in (photo.image, photo.thumbnail):
        with field.open("rb") as handle:
            assert_clean_jpeg(handle.read(), original)
    assert len(private_files() - before) == 6


def test_animated_webp_keeps_only_its_first_frame(client):
    customer = CustomerFactory()
    client.force_login(customer)

    client.post(
        SUBMIT_URL, submission_form(customer, id_back=upload(bad_uploads.animated_webp(), "a.webp", "image/webp"))
    )

    photo = Submission.objects.get(user=customer).photos.get(kind="id_back")
    with photo.image.open("rb") as handle:
        red, _green, blue = Image.open(handle).convert("RGB").getpixel((10, 10))
    assert red > 180 and blue < 80  # the red first frame, not the blue second one


def test_16_bit_grey_png_keeps_its_tones_instead_of_turning_white(client):
    customer = CustomerFactory()
    client.force_login(customer)

    client.post(
        SUBMIT_URL, submission_form(customer, id_back=upload(bad_uploads.grey_16_bit_png(), "g.png", "image/png"))
    )

    photo = Submission.objects.get(user=customer).photos.get(kind="id_back")
    with photo.image.open("rb") as handle:
        image = Image.open(handle).convert("L")
    left, right = image.getpixel((2, 10)), image.getpixel((image.width - 3, 10))
    assert left < 40 and right > 200


def test_photo_served_back_is_the_re_encoded_jpeg_never_the_polyglot(client):
    customer = CustomerFactory()
    client.force_login(customer)
    polyglot = bad_uploads.jpeg_html_polyglot()
    client.post(SUBMIT_URL, submission_form(customer, id_front=upload(polyglot, "front.html", "text/html")))
    photo = Submission.objects.get(user=customer).photos.get(kind="id_front")

    response = client.get(f"/verification/photos/{photo.pk}/full/")

    body = b"".join(response.streaming_content)
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'"
    assert b"<script" not in body
    assert_clean_jpeg(body, polyglot)


# The instant pre-check ------------------------------------------------------------------


@pytest.mark.parametrize(("case", "make", "name", "content_type", "message"), REFUSED, ids=ids(REFUSED))
def test_precheck_explains_every_bad_file_and_stores_nothing(client, case, make, name, content_type, message):
    client.force_login(CustomerFactory())
    before = private_files()

    response = client.post(PRECHECK_URL, {"kind": "id_front", "photo": upload(make(), name, content_type)})

    assert response.status_code == 422, case
    expected = en(ERR_EMPTY) if message == ERR_DJANGO_EMPTY else en(message)
    assert response.json() == {"ok": False, "error": expected}
    assert not Submission.objects.exists()
    assert private_files() == before


@pytest.mark.parametrize(("case", "make", "name", "content_type", "original_format"), ACCEPTED, ids=ids(ACCEPTED))
def test_precheck_accepts_what_the_submission_accepts(client, case, make, name, content_type, original_format):
    client.force_login(CustomerFactory())
    before = private_files()

    response = client.post(PRECHECK_URL, {"kind": "id_back", "photo": upload(make(), name, content_type)})

    assert response.status_code == 200, case
    assert response.json()["ok"] is True
    assert private_files() == before


# The clerk's desk ---------------------------------------------------------------------


@pytest.fixture
def clerk():
    return make_staff("clerk", service_point=ServicePointFactory())


def desk_form(code, **photos):
    return {
        "activation_code": code,
        "full_name": "韩梅梅",
        "id_number": fresh_id_number(),
        "customer_phone": "+8613711112222",
        "card_checked": "on",
        **photos,
    }


@pytest.mark.parametrize(("case", "make", "name", "content_type", "message"), REFUSED, ids=ids(REFUSED))
def test_bad_photo_at_the_desk_is_refused_and_nothing_is_issued(client, clerk, case, make, name, content_type, message):
    line, code = make_line()
    client.force_login(clerk)
    before = private_files()
    photos = {
        "id_front": upload(payloads.small_jpeg(seed=41), "front.jpg"),
        "id_handheld": upload(make(), name, content_type),
    }

    response = client.post("/staff/desk/verify/", desk_form(code, **photos))

    assert response.status_code == 400, case
    assert shows(response, message), case
    assert not Submission.objects.exists()
    assert not Certificate.objects.exists()
    line.refresh_from_db()
    assert line.status == Line.Status.INACTIVE and line.owner is None
    # Nothing of the refused file; the good photo is kept for the clerk's next try.
    [kept] = DraftPhoto.objects.filter(clerk=clerk, line=line)
    assert kept.kind == "id_front"
    assert private_files() - before == {kept.image.name, kept.thumbnail.name}


def test_tricky_photo_at_the_desk_is_stored_re_encoded(client, clerk):
    _line, code = make_line()
    client.force_login(clerk)
    polyglot = bad_uploads.jpeg_html_polyglot()

    response = client.post("/staff/desk/verify/", desk_form(code, id_front=upload(polyglot, "x.html", "text/html")))

    assert response.status_code == 302
    photo = SubmissionPhoto.objects.get(submission__channel=Submission.Channel.OFFLINE, kind="id_front")
    with photo.image.open("rb") as handle:
        assert_clean_jpeg(handle.read(), polyglot)


# What one upload may cost ---------------------------------------------------------------


@pytest.fixture
def decodes(monkeypatch):
    """The kinds of the photos the pipeline decodes during the test, in order."""
    decoded = []
    real = photos.process_photo

    def counting(upload, *, kind):
        decoded.append(str(kind))
        return real(upload, kind=kind)

    monkeypatch.setattr(photos, "process_photo", counting)
    return decoded


@pytest.fixture
def pixel_loads(monkeypatch):
    """Every image whose pixels Pillow decodes during the test."""
    loaded = []
    real = ImageFile.ImageFile.load

    def spying(self):
        loaded.append(self.size)
        return real(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spying)
    return loaded


def wrong_checksum(number: str) -> str:
    return number[:-1] + ("0" if number[-1] != "0" else "1")


def test_a_submission_with_a_mistyped_field_decodes_its_photos_once_and_keeps_them(client, decodes):
    customer = CustomerFactory()
    client.force_login(customer)
    form = submission_form(customer)
    correct_id = form["id_number"]
    form["id_number"] = wrong_checksum(correct_id)

    response = client.post(SUBMIT_URL, form)

    assert response.status_code == 200
    assert shows(response, ERR_ID_CHECKSUM)
    assert decodes == ["id_front", "id_back", "id_handheld"]
    assert not Submission.objects.exists()

    # Sent again without the photos: the kept ones are used, nothing is decoded again.
    typed = {key: value for key, value in form.items() if key not in ("id_front", "id_back", "id_handheld")}
    client.post(SUBMIT_URL, {**typed, "id_number": correct_id})
    assert decodes == ["id_front", "id_back", "id_handheld"]
    assert Submission.objects.get(user=customer).photos.count() == 3


@pytest.mark.parametrize("mistake", ["id_number", "card_checked"])
def test_the_desk_decodes_the_photos_of_a_form_with_a_typing_mistake_once_and_keeps_them(
    client, clerk, decodes, mistake
):
    line, code = make_line()
    client.force_login(clerk)
    form = desk_form(code, id_front=upload(payloads.small_jpeg(seed=43), "front.jpg"))
    fixed = dict(form, id_front=None)
    if mistake == "id_number":
        form["id_number"] = wrong_checksum(form["id_number"])
    else:
        del form["card_checked"]

    response = client.post("/staff/desk/verify/", form)

    assert response.status_code == 400
    assert decodes == ["id_front"]
    assert not Certificate.objects.exists()

    # Completed again without the photo: the kept one is used, nothing is decoded again.
    del fixed["id_front"]
    assert client.post("/staff/desk/verify/", fixed).status_code == 302
    assert decodes == ["id_front"]
    assert Certificate.objects.get().submission.photos.get().kind == "id_front"
    assert not DraftPhoto.objects.filter(line=line).exists()


@pytest.mark.parametrize(
    "make",
    [bad_uploads.grey_16_bit_png_7000, lambda: bad_uploads.rgb_16_bit_png_black(5000, 4000)],
    ids=["16-bit-grey-7000x7000", "48-bit-rgb-20-megapixels"],
)
def test_an_image_too_costly_to_decode_is_refused_from_its_header_fast_and_in_little_memory(pixel_loads, make):
    data = make()
    assert len(data) < 300_000  # small files: only the decoded size is large

    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(PhotoRejected) as refused:
            process_photo(upload(data, "big.png", "image/png"), kind="id_front")
        elapsed = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert str(refused.value) == str(ERR_TOO_COSTLY)
    assert pixel_loads == []  # not one pixel decoded
    assert elapsed < 0.5, elapsed
    assert peak < 5 * 1024 * 1024, peak


def test_a_large_16_bit_image_within_the_budget_is_scaled_down_before_its_8_bit_copy_is_made():
    # 16-bit grey, 4000×3000: 12 MP, 48 MB decoded, within the budget. The copy that scales
    # 16 bits to 8 is made of the stored size (≤ 2048 px), not of all 12 MP (then 156 MB).
    data = bad_uploads.grey_16_bit_png_large(4000, 3000)

    tracemalloc.start()
    try:
        processed = process_photo(upload(data, "scan.png", "image/png"), kind="id_back")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (processed.original_width, processed.original_height) == (4000, 3000)
    assert max(processed.width, processed.height) == 2048
    assert peak < 64 * 1024 * 1024, peak


def test_the_decode_budget_counts_bit_depth_and_mode(settings):
    def cost(data):
        return photos.decode_cost(Image.open(io.BytesIO(data)))

    grey_16 = cost(bad_uploads.grey_16_bit_png_7000())
    rgb_48 = cost(bad_uploads.rgb_16_bit_png_black(5000, 4000))
    rgb_24 = cost(bad_uploads.png_header(6000, 4000, bit_depth=8, colour_type=2))
    grey_8 = cost(bad_uploads.png_header(7000, 7000, bit_depth=8, colour_type=0))

    assert grey_16 == 7000 * 7000 * 2 * 2  # two bytes a pixel, counted twice for 16 bits
    assert rgb_48 == 5000 * 4000 * 4 * 2
    assert rgb_24 == 6000 * 4000 * 4  # a 24 MP 8-bit RGB image (a phone's HEIC) fits
    assert grey_8 == 7000 * 7000
    assert max(rgb_24, grey_8) <= settings.PHOTO_MAX_DECODE_BYTES < min(grey_16, rgb_48)


def test_submissions_are_limited_per_customer_before_any_photo_is_read(client, settings, decodes):
    settings.SUBMISSION_RATE_PER_MINUTE = 2
    customer = CustomerFactory()
    client.force_login(customer)

    def mistyped():
        form = submission_form(customer)
        form["id_number"] = wrong_checksum(form["id_number"])
        return form

    answers = [client.post(SUBMIT_URL, mistyped()) for _ in range(2)]
    decoded_before = len(decodes)
    refused = client.post(SUBMIT_URL, submission_form(customer))

    assert [answer.status_code for answer in answers] == [200, 200]
    assert refused.status_code == 429
    assert "Too many submissions in a minute" in refused.content.decode()
    assert len(decodes) == decoded_before  # the refused one read no photo
    assert not Submission.objects.exists()
    client.force_login(CustomerFactory())  # another customer has their own allowance
    assert client.post(SUBMIT_URL, mistyped()).status_code == 200


def test_submissions_are_limited_per_address(client, settings):
    settings.SUBMISSION_RATE_PER_ADDRESS_PER_MINUTE = 2

    def post_as_new_customer(**extra):
        customer = CustomerFactory()
        client.force_login(customer)
        form = submission_form(customer)
        form["id_number"] = wrong_checksum(form["id_number"])
        return client.post(SUBMIT_URL, form, **extra).status_code

    assert [post_as_new_customer() for _ in range(3)] == [200, 200, 429]
    assert post_as_new_customer(REMOTE_ADDR="203.0.113.7") == 200


def test_precheck_is_limited_per_address_too(client, settings):
    settings.PHOTO_PRECHECK_RATE_PER_ADDRESS_PER_MINUTE = 1
    photo = payloads.small_jpeg(seed=44)
    answers = []
    for address in ("198.51.100.1", "198.51.100.1", "198.51.100.2"):
        client.force_login(CustomerFactory())
        answers.append(
            client.post(PRECHECK_URL, {"kind": "id_back", "photo": upload(photo)}, REMOTE_ADDR=address).status_code
        )

    assert answers == [200, 429, 200]


def test_while_the_cache_is_down_a_customer_still_submits_uncounted_as_with_the_precheck(client, settings):
    settings.SUBMISSION_RATE_PER_MINUTE = 1
    customer = CustomerFactory()
    client.force_login(customer)
    form = submission_form(customer)
    form["id_number"] = wrong_checksum(form["id_number"])
    unreachable = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}

    # Restored before this module's fixture empties the cache.
    with override_settings(CACHES={"default": unreachable}):
        mistyped = client.post(SUBMIT_URL, form)
        submitted = client.post(SUBMIT_URL, submission_form(customer))

    assert mistyped.status_code == 200
    assert submitted.status_code == 302
    assert Submission.objects.filter(user=customer).exists()
