"""Hostile and broken uploads through every page that takes a photo, over HTTP.

Each file of the corpus (tests/security/bad_uploads.py) is either refused with a clear
message — and then no Submission row exists and no file is left on storage — or
accepted and re-encoded into a plain JPEG that carries nothing of the original file.
The same corpus goes through the customer's submission, the instant pre-check and the
clerk's desk photo capture.
"""

import io
import re

import pytest
from django.utils import translation
from django.utils.html import escape
from PIL import Image

from accounts.models import Line
from reviews.models import Certificate, Submission, SubmissionEvent, SubmissionPhoto
from reviews.photos import ERR_DAMAGED, ERR_EMPTY, ERR_FORMAT, ERR_NOT_AN_IMAGE, ERR_TOO_LARGE, ERR_TOO_MANY_PIXELS
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
    assert private_files() == before


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
    # Our own name (plus the suffix storage adds to avoid a clash), never the uploaded one.
    assert re.fullmatch(r"submissions/\d+/\d+/id_back(_[A-Za-z0-9]{7})?\.jpg", photo.image.name), photo.image.name
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
    assert private_files() == before


def test_tricky_photo_at_the_desk_is_stored_re_encoded(client, clerk):
    _line, code = make_line()
    client.force_login(clerk)
    polyglot = bad_uploads.jpeg_html_polyglot()

    response = client.post("/staff/desk/verify/", desk_form(code, id_front=upload(polyglot, "x.html", "text/html")))

    assert response.status_code == 302
    photo = SubmissionPhoto.objects.get(submission__channel=Submission.Channel.OFFLINE, kind="id_front")
    with photo.image.open("rb") as handle:
        assert_clean_jpeg(handle.read(), polyglot)
