"""The customer's verification pages and the staff review screens, through HTTP."""

import io
from datetime import timedelta
from urllib.parse import quote_plus, urlencode

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from PIL import Image

from accounts.models import AuditEvent, Line
from reviews import photos, selectors, services
from reviews.models import DraftPhoto, PhotoAccess, ReasonCode, Submission, SubmissionEvent
from reviews.photos import (
    ERR_DAMAGED,
    ERR_NOT_AN_IMAGE,
    ERR_TOO_LARGE,
    ERR_TOO_MANY_PIXELS,
)
from reviews.services import ERR_ALREADY_DECIDED, ERR_ALREADY_OPEN, ERR_FINAL_BLOCK, ERR_NOT_CLAIMED_BY_YOU
from reviews.validators import (
    ERR_ID_BIRTH_DATE,
    ERR_ID_CHECKSUM,
    ERR_ID_FUTURE_BIRTH_DATE,
    ERR_ID_REGION,
    ERR_NAME,
)
from tests.factories import CustomerFactory, make_line
from tests.images import GPS_IFD
from tests.reviews import payloads
from tests.reviews.conftest import ID_NUMBER, page_shows, private_files, resident_id

pytestmark = pytest.mark.django_db

STATUS_URL = "/verification/"
SUBMIT_URL = "/verification/submit/"
PRECHECK_URL = "/verification/precheck/"
QUEUE_URL = "/staff/reviews/"
NEXT_URL = "/staff/reviews/next/"
LOGIN_URL = reverse(settings.LOGIN_URL)


@pytest.fixture(autouse=True)
def _english(english):
    """Every page here is read in English."""


def review_url(submission):
    return f"/staff/reviews/{submission.pk}/"


def decide_url(submission):
    return f"/staff/reviews/{submission.pk}/decide/"


def photo_url(photo, variant="full"):
    return f"/verification/photos/{photo.pk}/{variant}/"


def signed_in(client, user):
    client.force_login(user)
    return client


def upload(data: bytes, name: str, content_type="image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def submission_form(customer, **overrides):
    data = {
        "full_name": "阿依古丽·买买提",
        "id_number": ID_NUMBER,
        "contact_phone": customer.phone.as_e164,
        "id_front": upload(payloads.small_jpeg(seed=11), "front.jpg"),
        "id_back": upload(payloads.small_jpeg(seed=12), "back.jpg"),
        "id_handheld": upload(payloads.small_jpeg(seed=13), "me.jpg"),
    }
    data.update(overrides)
    return data


def decided_verbs(submission):
    return list(
        SubmissionEvent.objects.filter(submission=submission, verb__in=["approved", "rejected"]).values_list(
            "verb", flat=True
        )
    )


# Submitting ---------------------------------------------------------------------------------------


def test_customer_submits_three_photos_and_lands_on_the_pending_status(client):
    customer = CustomerFactory()
    signed_in(client, customer)
    before = private_files()

    response = client.post(SUBMIT_URL, submission_form(customer, id_number=f" {ID_NUMBER[:6]} {ID_NUMBER[6:]} "))

    assert response.status_code == 302
    assert response["Location"] == STATUS_URL
    submission = Submission.objects.get(user=customer)
    assert submission.status == Submission.Status.PENDING
    assert submission.full_name == "阿依古丽·买买提"
    assert submission.id_number_masked == "110105********" + ID_NUMBER[-4:]
    assert submission.photos.count() == 3
    assert len(private_files() - before) == 6
    page = client.get(STATUS_URL)
    assert 'data-status="pending"' in page.content.decode()


def test_submit_form_is_prefilled_with_the_account_phone(client):
    customer = CustomerFactory()
    response = signed_in(client, customer).get(SUBMIT_URL)
    assert response.status_code == 200
    assert f'name="contact_phone" value="{customer.phone.as_national}"' in response.content.decode()


BAD_INPUT = [
    ({"id_number": ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1")}, ERR_ID_CHECKSUM),
    ({"id_number": resident_id(birth="20991231")}, ERR_ID_FUTURE_BIRTH_DATE),
    ({"id_number": resident_id(birth="19900230")}, ERR_ID_BIRTH_DATE),
    ({"id_number": resident_id(region="990101")}, ERR_ID_REGION),
    ({"id_number": resident_id(region="119999")}, ERR_ID_REGION),
    ({"full_name": "王小明2"}, ERR_NAME),
    ({"id_front": lambda: upload(payloads.text_file(), "front.jpg")}, ERR_NOT_AN_IMAGE),
    ({"id_back": lambda: upload(payloads.truncated_jpeg(), "back.jpg")}, ERR_DAMAGED),
    ({"id_front": lambda: upload(payloads.png_bomb(), "front.png", "image/png")}, ERR_TOO_MANY_PIXELS),
    ({"id_handheld": lambda: upload(payloads.oversized_file(30), "me.jpg")}, ERR_TOO_LARGE),
    ({"id_front": lambda: upload(payloads.SVG, "front.svg", "image/svg+xml")}, ERR_NOT_AN_IMAGE),
]


@pytest.mark.parametrize(
    ("overrides", "message"),
    BAD_INPUT,
    ids=[
        "id-checksum",
        "id-future-birth-date",
        "id-impossible-date",
        "id-unknown-region",
        "id-unknown-county",
        "name-with-digits",
        "text-renamed-jpg",
        "truncated-jpeg",
        "decompression-bomb",
        "30-mb-file",
        "svg",
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_only_the_good_photos_are_kept(client, overrides, message):
    customer = CustomerFactory()
    signed_in(client, customer)
    before = private_files()
    data = submission_form(customer, **{key: make() if callable(make) else make for key, make in overrides.items()})

    response = client.post(SUBMIT_URL, data)

    assert response.status_code == 200
    assert page_shows(response, message)
    assert not Submission.objects.exists()
    assert not SubmissionEvent.objects.exists()
    # The photos that decoded are kept for the next try (a draft), the refused one is not.
    good = {"id_front", "id_back", "id_handheld"} - set(overrides)
    assert set(DraftPhoto.objects.filter(user=customer).values_list("kind", flat=True)) == good
    added = private_files() - before
    assert len(added) == 2 * len(good)
    assert all(name.startswith(f"drafts/{customer.pk}/") for name in added)


def test_jpeg_with_html_payload_and_gps_is_accepted_and_stored_clean(client):
    customer = CustomerFactory()
    signed_in(client, customer)
    upload_bytes = payloads.jpeg_with_html_payload()
    assert Image.open(io.BytesIO(upload_bytes)).getexif().get_ifd(GPS_IFD)

    response = client.post(SUBMIT_URL, submission_form(customer, id_front=upload(upload_bytes, "front.jpg")))

    assert response.status_code == 302
    photo = Submission.objects.get(user=customer).photos.get(kind="id_front")
    with photo.image.open("rb") as handle:
        stored = handle.read()
    assert stored.endswith(b"\xff\xd9")
    assert b"<html" not in stored
    image = Image.open(io.BytesIO(stored))
    assert dict(image.getexif()) == {}
    assert image.getexif().get_ifd(GPS_IFD) == {}


def test_heic_png_with_alpha_and_webp_are_accepted_and_stored_as_jpeg(client):
    customer = CustomerFactory()
    signed_in(client, customer)
    data = submission_form(
        customer,
        id_front=upload(payloads.heic_bytes(), "IMG_0001.HEIC", "image/heic"),
        id_back=upload(payloads.png_with_alpha(), "back.png", "image/png"),
        id_handheld=upload(payloads.webp_bytes(), "me.webp", "image/webp"),
    )

    response = client.post(SUBMIT_URL, data)

    assert response.status_code == 302
    stored = {p.kind: p for p in Submission.objects.get(user=customer).photos.all()}
    assert {kind: p.original_format for kind, p in stored.items()} == {
        "id_front": "HEIC",
        "id_back": "PNG",
        "id_handheld": "WEBP",
    }
    for photo in stored.values():
        with photo.image.open("rb") as handle:
            assert Image.open(handle).format == "JPEG"


def test_rotated_photo_is_stored_upright(client):
    customer = CustomerFactory()
    signed_in(client, customer)
    client.post(SUBMIT_URL, submission_form(customer, id_back=upload(payloads.rotated_jpeg(), "back.jpg")))
    photo = Submission.objects.get(user=customer).photos.get(kind="id_back")
    assert (photo.width, photo.height) == (360, 480)


def test_customer_with_an_open_submission_is_sent_back_to_the_status_page(client, submit):
    customer = CustomerFactory()
    submit(customer)
    signed_in(client, customer)

    for response in (client.get(SUBMIT_URL), client.post(SUBMIT_URL, submission_form(customer))):
        assert response.status_code == 302
        assert response["Location"] == STATUS_URL
    assert Submission.objects.filter(user=customer).count() == 1
    assert page_shows(client.get(STATUS_URL), ERR_ALREADY_OPEN)


# Pre-check -------------------------------------------------------------------------------------------


def test_precheck_returns_hints_and_stores_nothing(client):
    signed_in(client, CustomerFactory())
    before = private_files()
    dark = payloads.encode(payloads.card_image(480, 360, brightness=40), "JPEG")

    response = client.post(PRECHECK_URL, {"kind": "id_back", "photo": upload(dark, "back.jpg")})

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert "too_dark" in body["hints"]["warnings"]
    assert {"width", "height", "brightness", "sharpness", "glare_ratio", "faces"} <= set(body["hints"])
    assert str(photos.HINT_MESSAGES["too_dark"]) in body["warnings"]
    assert not Submission.objects.exists()
    assert private_files() == before


def test_precheck_explains_a_refused_file(client):
    signed_in(client, CustomerFactory())
    response = client.post(PRECHECK_URL, {"kind": "id_front", "photo": upload(payloads.text_file(), "a.jpg")})
    assert response.status_code == 422
    assert response.json() == {"ok": False, "error": str(ERR_NOT_AN_IMAGE)}
    assert client.post(PRECHECK_URL, {"kind": "id_front"}).status_code == 400
    assert client.get(PRECHECK_URL).status_code == 405


def test_precheck_is_rate_limited_per_account_with_a_clear_message(client, settings):
    settings.PHOTO_PRECHECK_RATE_PER_MINUTE = 2
    cache.clear()
    signed_in(client, CustomerFactory())
    photo = payloads.encode(payloads.card_image(480, 360), "JPEG")

    answers = [client.post(PRECHECK_URL, {"kind": "id_back", "photo": upload(photo, "b.jpg")}) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert "Too many photo checks" in answers[2].json()["error"]
    signed_in(client, CustomerFactory())  # another account has its own allowance
    assert client.post(PRECHECK_URL, {"kind": "id_back", "photo": upload(photo, "b.jpg")}).status_code == 200


# Who may see what -----------------------------------------------------------------------------------


@pytest.fixture
def photo(submit):
    return submit().photos.get(kind="id_front")


def test_owner_sees_their_photo_with_no_store_headers_and_no_access_log(client, photo):
    signed_in(client, photo.submission.user)
    for variant in ("full", "thumb"):
        response = client.get(photo_url(photo, variant))
        assert response.status_code == 200
        assert response["Cache-Control"] == "private, no-store"
        assert response["Content-Type"] == "image/jpeg"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert b"".join(response.streaming_content).startswith(b"\xff\xd8")
    assert not PhotoAccess.objects.exists()


def test_another_customer_gets_404_for_someone_elses_photo(client, photo):
    signed_in(client, CustomerFactory())
    for variant in ("full", "thumb"):
        assert client.get(photo_url(photo, variant)).status_code == 404


@pytest.mark.parametrize("role", ["support", "clerk"])
def test_staff_without_photo_permission_gets_404_and_leaves_no_trace(client, photo, role, request):
    signed_in(client, request.getfixturevalue(role))
    assert client.get(photo_url(photo)).status_code == 404
    assert not PhotoAccess.objects.exists()


def test_every_staff_view_of_a_photo_is_logged(client, photo, reviewer, senior_reviewer):
    signed_in(client, reviewer)
    for variant in ("full", "thumb", "full"):
        response = client.get(photo_url(photo, variant), REMOTE_ADDR="203.0.113.9")
        assert response.status_code == 200
        assert response["Cache-Control"] == "private, no-store"
    signed_in(client, senior_reviewer)
    assert client.get(photo_url(photo)).status_code == 200

    log = list(PhotoAccess.objects.order_by("pk").values_list("staff", "photo", "variant", "submission_id_copy"))
    assert log == [
        (reviewer.pk, photo.pk, "full", photo.submission_id),
        (reviewer.pk, photo.pk, "thumb", photo.submission_id),
        (reviewer.pk, photo.pk, "full", photo.submission_id),
        (senior_reviewer.pk, photo.pk, "full", photo.submission_id),
    ]
    assert PhotoAccess.objects.first().ip_address == "203.0.113.9"
    audited = AuditEvent.objects.filter(verb="submission.photo_viewed").order_by("pk")
    assert [(event.actor_id, event.data["variant"]) for event in audited] == [
        (reviewer.pk, "full"),
        (reviewer.pk, "thumb"),
        (reviewer.pk, "full"),
        (senior_reviewer.pk, "full"),
    ]
    assert {(event.target_id, event.subject_user_id) for event in audited} == {
        (str(photo.submission_id), photo.submission.user_id)
    }


def test_unknown_photo_or_variant_is_404(client, photo, reviewer):
    signed_in(client, reviewer)
    assert client.get(f"/verification/photos/{photo.pk}/original/").status_code == 404
    assert client.get(f"/verification/photos/{photo.pk + 1000}/full/").status_code == 404
    assert not PhotoAccess.objects.exists()
    assert not AuditEvent.objects.filter(verb="submission.photo_viewed").exists()


def test_photos_are_not_reachable_by_any_public_url(client, photo):
    assert photo.image.path.startswith(str(settings.PRIVATE_MEDIA_ROOT))
    signed_in(client, photo.submission.user)
    name = photo.image.name
    for url in (photo.image.url, f"/media/private/{name}", f"/media/{name}", f"/{name}", f"/static/{name}"):
        assert client.get(url).status_code == 404, url


@pytest.mark.parametrize(
    "path",
    [STATUS_URL, SUBMIT_URL, QUEUE_URL, "/staff/", "PHOTO_FULL", "PHOTO_THUMB", "REVIEW"],
)
def test_anonymous_visitor_is_sent_to_the_login_page(client, photo, path):
    path = {
        "PHOTO_FULL": photo_url(photo),
        "PHOTO_THUMB": photo_url(photo, "thumb"),
        "REVIEW": review_url(photo.submission),
    }.get(path, path)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN_URL}?next={path}"


@pytest.mark.parametrize("path", [NEXT_URL, PRECHECK_URL, "DECIDE", "CLAIM"])
def test_anonymous_post_is_sent_to_the_login_page_and_changes_nothing(client, photo, path):
    submission = photo.submission
    path = {"DECIDE": decide_url(submission), "CLAIM": f"{review_url(submission)}claim/"}.get(path, path)
    response = client.post(path, {"decision": "approve"})
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.PENDING


@pytest.mark.parametrize("role", ["clerk", "support", "customer"])
def test_people_who_do_not_review_get_403_on_every_review_page(client, submit, role, request):
    submission = submit()
    user = CustomerFactory() if role == "customer" else request.getfixturevalue(role)
    signed_in(client, user)

    assert client.get(QUEUE_URL).status_code == 403
    assert client.post(NEXT_URL).status_code == 403
    assert client.get(review_url(submission)).status_code == 403
    assert client.post(f"{review_url(submission)}claim/").status_code == 403
    assert client.post(f"{review_url(submission)}release/").status_code == 403
    assert client.post(decide_url(submission), {"decision": "approve"}).status_code == 403

    submission.refresh_from_db()
    assert submission.status == Submission.Status.PENDING
    assert submission.claimed_by is None


def test_staff_home_is_for_staff_only(client, reviewer, clerk):
    assert signed_in(client, reviewer).get("/staff/").status_code == 200
    assert signed_in(client, clerk).get("/staff/").status_code == 200
    assert signed_in(client, CustomerFactory()).get("/staff/").status_code == 403


# CSRF ------------------------------------------------------------------------------------------------


def test_post_without_csrf_token_is_refused(submit, reviewer):
    customer = CustomerFactory()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer)
    response = browser.post(SUBMIT_URL, submission_form(customer))
    assert response.status_code == 403
    assert not Submission.objects.filter(user=customer).exists()

    submission = submit()
    services.submission_claim(submission_id=submission.pk, actor=reviewer)
    staff_browser = Client(enforce_csrf_checks=True)
    staff_browser.force_login(reviewer)
    assert staff_browser.post(decide_url(submission), {"decision": "approve"}).status_code == 403
    assert staff_browser.post(NEXT_URL).status_code == 403
    submission.refresh_from_db()
    assert submission.status == Submission.Status.IN_REVIEW

    # The same POST with the token from the review page goes through.
    staff_browser.get(review_url(submission))
    token = staff_browser.cookies[settings.CSRF_COOKIE_NAME].value
    response = staff_browser.post(decide_url(submission), {"decision": "approve", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    submission.refresh_from_db()
    assert submission.status == Submission.Status.APPROVED


# Review screen --------------------------------------------------------------------------------------


def test_reviewer_sees_the_masked_id_number_senior_reviewer_the_full_one(client, submit, reviewer, senior_reviewer):
    submission = submit(id_number=ID_NUMBER)

    page = signed_in(client, reviewer).get(review_url(submission)).content.decode()
    assert "110105********" + ID_NUMBER[-4:] in page
    assert ID_NUMBER not in page
    assert not AuditEvent.objects.filter(verb="submission.id_number_viewed").exists()

    page = signed_in(client, senior_reviewer).get(review_url(submission)).content.decode()
    assert ID_NUMBER in page
    assert AuditEvent.objects.filter(verb="submission.id_number_viewed", actor=senior_reviewer).count() == 1


def test_review_screen_shows_photos_hints_flags_and_earlier_submissions(client, submit, reviewer, decide, photo_set):
    submit(photos=photo_set)  # someone else's photos first
    customer = CustomerFactory()
    decide(submit(customer), reviewer, "reject", ["IMG_GLARE"], note="reflection over the number")
    submission = submit(customer, photos=photo_set)

    response = signed_in(client, reviewer).get(review_url(submission))

    page = response.content.decode()
    assert response.status_code == 200
    for photo in submission.photos.all():
        assert photo_url(photo) in page
        # Worded for the reviewer, not the customer's "your face…" tips.
        for hint in photos.staff_hint_messages(photo.hints):
            assert escape(hint) in page
        for hint in set(photos.hint_messages(photo.hints)) - set(photos.staff_hint_messages(photo.hints)):
            assert escape(hint) not in page
    assert 'data-testid="review-flags"' in page
    assert "IMG_GLARE" in page
    assert "reflection over the number" in page
    assert "阿依古丽" not in page  # only what this customer typed
    assert not PhotoAccess.objects.exists()  # the page itself does not count as seeing the photos


def test_review_page_of_unknown_submission_is_404(client, reviewer):
    assert signed_in(client, reviewer).get("/staff/reviews/999999/").status_code == 404


def test_next_claims_the_oldest_and_opens_it_or_says_the_queue_is_empty(client, submit, reviewer):
    signed_in(client, reviewer)
    response = client.post(NEXT_URL)
    assert response.status_code == 302
    assert response["Location"] == QUEUE_URL

    first, _second = submit(photos=None), submit(photos=None)
    response = client.post(NEXT_URL)
    assert response["Location"] == review_url(first)
    first.refresh_from_db()
    assert first.claimed_by == reviewer


def test_next_honours_the_queue_filters(client, submit, reviewer):
    submit(photos=None)
    offline = submit(photos=None, channel=Submission.Channel.OFFLINE)
    response = signed_in(client, reviewer).post(NEXT_URL, {"channel": "offline"})
    # The review screen carries the queue's filters on, for decide-and-next.
    assert response["Location"] == review_url(offline) + "?channel=offline"


def test_claiming_what_another_reviewer_holds_is_refused(client, submit, reviewer, other_reviewer):
    submission = submit(photos=None)
    services.submission_claim(submission_id=submission.pk, actor=other_reviewer)

    response = signed_in(client, reviewer).post(f"{review_url(submission)}claim/", follow=True)

    assert response.redirect_chain[-1][0] == QUEUE_URL
    assert str(other_reviewer) in response.content.decode()
    submission.refresh_from_db()
    assert submission.claimed_by == other_reviewer
    assert client.post(f"{review_url(submission)}release/").status_code == 302
    submission.refresh_from_db()
    assert submission.claimed_by == other_reviewer
    assert client.post("/staff/reviews/999999/claim/").status_code == 404


def test_reviewer_claims_then_puts_back(client, submit, reviewer):
    submission = submit(photos=None)
    signed_in(client, reviewer)
    assert client.post(f"{review_url(submission)}claim/")["Location"] == review_url(submission)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.IN_REVIEW
    assert client.post(f"{review_url(submission)}release/")["Location"] == QUEUE_URL
    submission.refresh_from_db()
    assert (submission.status, submission.claimed_by) == (Submission.Status.PENDING, None)


# Deciding -------------------------------------------------------------------------------------------


@pytest.fixture
def claimed(submit, reviewer):
    submission = submit()
    services.submission_claim(submission_id=submission.pk, actor=reviewer)
    return submission


def test_reject_through_the_page_with_reasons_message_and_note(client, reviewer, claimed):
    response = signed_in(client, reviewer).post(
        decide_url(claimed),
        {
            "decision": "reject",
            "reason_codes": ["IMG_BLURRY", "DOC_COVERED"],
            "customer_message": "Keep your fingers off the card.",
            "note": "thumb over the number",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == QUEUE_URL
    claimed.refresh_from_db()
    assert claimed.status == Submission.Status.REJECTED
    assert sorted(claimed.reasons.values_list("code", flat=True)) == ["DOC_COVERED", "IMG_BLURRY"]
    assert claimed.customer_message == "Keep your fingers off the card."
    assert claimed.internal_note == "thumb over the number"


def test_reject_without_a_reason_is_refused_on_the_page(client, reviewer, claimed):
    response = signed_in(client, reviewer).post(decide_url(claimed), {"decision": "reject"})
    assert response.status_code == 400
    claimed.refresh_from_db()
    assert claimed.status == Submission.Status.IN_REVIEW
    assert decided_verbs(claimed) == []


@pytest.mark.parametrize("decision", ["maybe", ""])
def test_a_decision_other_than_approve_or_reject_is_refused_on_the_page(client, reviewer, claimed, decision):
    form = {"decision": decision, "reason_codes": ["IMG_BLURRY"]}
    response = signed_in(client, reviewer).post(decide_url(claimed), form)
    assert response.status_code == 400
    claimed.refresh_from_db()
    assert claimed.status == Submission.Status.IN_REVIEW
    assert decided_verbs(claimed) == []


def test_the_staff_audit_page_shows_what_happened_to_a_submission(client, submit, reviewer, support, decide):
    submission = submit(photos=None)
    decide(submission, reviewer, "reject", ["IMG_BLURRY"], note="blurred corner")

    signed_in(client, support)
    response = client.get("/staff/audit/", {"customer": submission.user_id})

    assert response.status_code == 200
    shown = [(event.verb, event.actor_id) for event in response.context["events"]]
    assert shown[:3] == [
        ("submission.rejected", reviewer.pk),
        ("submission.claimed", reviewer.pk),
        ("submission.submitted", submission.user_id),
    ]
    page = response.content.decode()
    assert "Verification rejected" in page and "Verification claimed for review" in page


def test_double_post_of_a_decision_applies_once_and_the_second_gets_409(client, reviewer, claimed):
    signed_in(client, reviewer)
    first = client.post(decide_url(claimed), {"decision": "approve"})
    second = client.post(
        decide_url(claimed),
        {"decision": "reject", "reason_codes": ["FACE_MISMATCH"], "confirm": ["reason:FACE_MISMATCH"]},
    )

    assert first.status_code == 302
    assert second.status_code == 409
    assert page_shows(second, ERR_ALREADY_DECIDED)
    assert 'data-testid="decision-error"' in second.content.decode()
    claimed.refresh_from_db()
    assert claimed.status == Submission.Status.APPROVED
    assert not claimed.reasons.exists()
    assert decided_verbs(claimed) == ["approved"]


def test_decide_and_take_next_claims_the_next_submission_and_opens_it(client, submit, reviewer, claimed):
    following = submit()
    response = signed_in(client, reviewer).post(decide_url(claimed), {"decision": "approve", "take_next": "on"})

    assert response.status_code == 302
    assert response["Location"] == review_url(following)
    claimed.refresh_from_db()
    following.refresh_from_db()
    assert claimed.status == Submission.Status.APPROVED
    assert (following.status, following.claimed_by) == (Submission.Status.IN_REVIEW, reviewer)
    page = client.get(response["Location"]).content.decode()
    assert f"Approved submission #{claimed.pk}." in page  # the flash message arrives on the next screen
    assert 'name="take_next"' in page and "checked" in page.split('name="take_next"', 1)[1].split(">", 1)[0]


def test_decide_and_take_next_on_an_empty_queue_lands_on_the_queue(client, reviewer, claimed):
    response = signed_in(client, reviewer).post(decide_url(claimed), {"decision": "approve", "take_next": "on"})
    assert response["Location"] == QUEUE_URL
    page = client.get(QUEUE_URL).content.decode()
    assert f"Approved submission #{claimed.pk}." in page
    assert "The queue is empty." in page


def test_a_refused_decision_with_take_next_claims_nothing(client, submit, reviewer, claimed):
    following = submit()
    response = signed_in(client, reviewer).post(decide_url(claimed), {"decision": "reject", "take_next": "on"})
    assert response.status_code == 400
    following.refresh_from_db()
    assert following.status == Submission.Status.PENDING
    assert not SubmissionEvent.objects.filter(submission=following).exclude(verb="submitted").exists()


def test_decision_without_a_live_claim_gets_409(client, submit, reviewer, other_reviewer, claimed):
    signed_in(client, other_reviewer)
    response = client.post(decide_url(claimed), {"decision": "approve"})
    assert response.status_code == 409
    assert page_shows(response, ERR_NOT_CLAIMED_BY_YOU)

    claimed.refresh_from_db()
    assert claimed.status == Submission.Status.IN_REVIEW
    assert decided_verbs(claimed) == []
    assert client.post("/staff/reviews/999999/decide/", {"decision": "approve"}).status_code == 404


def test_inactive_reason_is_not_offered_and_not_accepted(client, reviewer, claimed):
    ReasonCode.objects.filter(code="WRONG_DOC").update(is_active=False)
    signed_in(client, reviewer)
    page = client.get(review_url(claimed)).content.decode()
    assert 'value="IMG_BLURRY"' in page
    assert 'value="WRONG_DOC"' not in page
    response = client.post(decide_url(claimed), {"decision": "reject", "reason_codes": ["WRONG_DOC"]})
    assert response.status_code == 400
    claimed.refresh_from_db()
    assert claimed.status == Submission.Status.IN_REVIEW


# The customer's status page -------------------------------------------------------------------------


def test_status_page_without_a_submission_offers_to_start(client):
    page = signed_in(client, CustomerFactory()).get(STATUS_URL).content.decode()
    assert f'href="{SUBMIT_URL}"' in page
    assert 'data-testid="verification-history"' not in page


def test_pending_submission_shows_status_and_the_expected_decision_window(client, submit):
    submission = submit()
    start, end = selectors.expected_decision_window(submission)

    page = signed_in(client, submission.user).get(STATUS_URL).content.decode()

    assert 'data-status="pending"' in page
    assert start.isoformat() in page
    assert end.isoformat() in page
    assert 'data-testid="resubmit"' not in page


def test_rejection_shows_reasons_in_plain_words_message_and_a_resubmit_link(client, submit, reviewer, decide):
    submission = submit()
    decide(
        submission,
        reviewer,
        "reject",
        ["IMG_BLURRY", "DOC_CROPPED"],
        message="Photograph the whole card.",
        note="staff only: corner missing",
    )

    page = signed_in(client, submission.user).get(STATUS_URL).content.decode()

    assert 'data-status="rejected"' in page
    for code in ("IMG_BLURRY", "DOC_CROPPED"):
        assert escape(ReasonCode.objects.get(code=code).customer_text("en")) in page
        assert code not in page
    assert "Photograph the whole card." in page
    assert "staff only" not in page
    assert f'href="{SUBMIT_URL}" data-testid="resubmit"' in page


def test_final_rejection_shows_the_reason_but_no_resubmit_link(client, submit, reviewer, decide):
    submission = submit()
    decide(submission, reviewer, "reject", ["FACE_MISMATCH"])
    signed_in(client, submission.user)

    response = client.get(STATUS_URL)

    page = response.content.decode()
    assert escape(ReasonCode.objects.get(code="FACE_MISMATCH").customer_text("en")) in page
    assert 'data-testid="resubmit"' not in page
    assert page_shows(response, ERR_FINAL_BLOCK)
    assert client.get(SUBMIT_URL)["Location"] == STATUS_URL


def test_resubmission_moves_the_old_reasons_into_the_history(client, submit, reviewer, decide):
    customer = CustomerFactory()
    decide(submit(customer), reviewer, "reject", ["IMG_DARK"])
    decide(submit(customer), reviewer, "reject", ["IMG_GLARE"])
    submit(customer)

    page = signed_in(client, customer).get(STATUS_URL).content.decode()

    current, history = page.split('data-testid="verification-history"')
    assert 'data-status="pending"' in current
    assert 'data-testid="rejection-reasons"' not in current
    for code in ("IMG_DARK", "IMG_GLARE"):
        text = escape(ReasonCode.objects.get(code=code).customer_text("en"))
        assert text not in current
        assert text in history
    assert history.count("Attempt ") == 2


def test_approved_customer_sees_verified(client, submit, reviewer, decide):
    submission = submit()
    decide(submission, reviewer, "approve")
    page = signed_in(client, submission.user).get(STATUS_URL).content.decode()
    assert 'data-status="approved"' in page
    assert 'data-testid="resubmit"' not in page


# Query counts ---------------------------------------------------------------------------------------


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


def test_queue_page_query_count_does_not_grow_with_the_queue(client, submit, reviewer, other_reviewer):
    for _ in range(3):
        submit(photos=None)
    services.submission_claim_next(actor=other_reviewer)
    signed_in(client, reviewer)
    first = queries_for(client, QUEUE_URL)  # reads the reviewer's permissions, then kept in the cache
    small = queries_for(client, QUEUE_URL)
    assert first == small + 2

    for _ in range(57):
        submit(photos=None)
    Submission.objects.filter(pk__in=Submission.objects.order_by("pk").values("pk")[:10]).update(
        due_at=timezone.now() - timedelta(days=1)
    )
    response = client.get(QUEUE_URL)
    page = response.content.decode()
    assert page.count('/claim/"') == selectors.QUEUE_PAGE_SIZE
    assert 'data-testid="queue-more"' in page
    large = queries_for(client, QUEUE_URL)

    cursor = selectors.queue_page(filters={}).next_cursor
    assert escape(f"after={quote_plus(cursor)}") in page  # the "More" link carries the cursor
    cursor_url = f"{QUEUE_URL}?{urlencode({'after': cursor})}"
    on_cursor_page = queries_for(client, cursor_url)
    remaining = client.get(cursor_url).content.decode()
    assert 'data-testid="queue-more"' not in remaining
    assert remaining.count('/claim/"') == 60 - selectors.QUEUE_PAGE_SIZE
    newest = Submission.objects.order_by("-due_at", "-pk").first()
    assert f'formaction="/staff/reviews/{newest.pk}/claim/"' in remaining
    assert f'formaction="/staff/reviews/{newest.pk}/claim/"' not in page

    filtered = queries_for(client, f"{QUEUE_URL}?overdue=1&channel=online&flagged=1&resubmission=1")

    assert small == large == on_cursor_page
    assert filtered <= large  # an empty page has no photos to read
    # The session, the reviewer, the page of the queue, its photos' hints, the queue's
    # counts, and the business-day calendar's staff warning (the permissions are cached).
    assert large <= 6


def test_status_page_query_count_is_the_same_with_one_or_four_earlier_submissions(client, submit, reviewer, decide):
    def customer_with_history(earlier: int):
        customer = CustomerFactory()
        for code in ("IMG_DARK", "IMG_GLARE", "DOC_CROPPED", "IMG_BLURRY")[:earlier]:
            decide(submit(customer), reviewer, "reject", [code, "DOC_COVERED"])
        submit(customer)
        return customer

    one, four = customer_with_history(1), customer_with_history(4)

    few = queries_for(signed_in(client, one), STATUS_URL)
    many = queries_for(signed_in(client, four), STATUS_URL)

    assert few == many
    assert client.get(STATUS_URL).content.decode().count("Attempt ") == 5


def post_counting(client, url, data=None):
    with CaptureQueriesContext(connection) as context:
        response = client.post(url, data or {})
    assert response.status_code == 302, response.content[:500]
    return response, [query["sql"] for query in context.captured_queries]


def claim_and_decide(client, submission, data):
    response, claim = post_counting(client, NEXT_URL)
    assert response["Location"] == review_url(submission)
    response, decision = post_counting(client, decide_url(submission), data)
    assert response["Location"] == QUEUE_URL
    return claim, decision


# The queries of one claim and one decision through HTTP, the same on PostgreSQL and SQLite.
# Tests run inside a transaction: each atomic block is a SAVEPOINT and its RELEASE. Common
# to all: the session (a database session in tests; Redis in production) and the reviewer.
# Their permissions and the reason codes are read once and then kept in the cache
# (``warm_caches`` reads them before counting).
COMMON_QUERIES = 2
# SAVEPOINT, first claimable row unless a claim is held (FOR UPDATE SKIP LOCKED on
# PostgreSQL), UPDATE submission, claimed event, its audit event, RELEASE
CLAIM_QUERIES = COMMON_QUERIES + 6
# The decision form reads the submission's flags (an approval's flags need a confirmation;
# the line limit is counted by the approval itself, under the ID's lock). Then SAVEPOINT,
# submission and customer locked (one join), UPDATE submission, approved event, UPDATE
# customer, waiting lines locked, UPDATE lines (one for all), audit events (one INSERT:
# approved + verified + one per line), whether the customer's number was given up (no SMS
# then), notifications (one INSERT: line active + approved), outbox rows (one INSERT: their
# SMS and email), RELEASE; and 一证五号: the ID's
# row written or locked (one INSERT … ON CONFLICT DO UPDATE) and its active lines counted
# under that lock; billing's start of the new lines: the current plans read, their service
# rows inserted (one INSERT for all)
APPROVE_QUERIES = COMMON_QUERIES + 1 + 16
# The form reads the submission and counts its ID's lines (over the limit a rejection may
# only give LINE_LIMIT); SAVEPOINT, submission locked with its customer, UPDATE submission,
# INSERT reasons, rejected event, its audit event, whether the customer's number was given
# up, notification, outbox rows (SMS and email in one INSERT), RELEASE; without LINE_LIMIT
# among the reasons, the ID's lines counted
# again under the lock (a rejection must use LINE_LIMIT while approving would pass the limit)
REJECT_QUERIES = COMMON_QUERIES + 2 + 11


def warm_caches(client):
    """Read what is kept in the cache across requests: the reviewer's permissions, the reason codes."""
    assert client.get(QUEUE_URL).status_code == 200
    selectors.all_reason_codes()


def test_claiming_and_approving_run_a_fixed_number_of_queries_whatever_the_lines(client, submit, reviewer):
    counts = []
    for lines in (1, 3):
        customer = CustomerFactory()
        for _ in range(lines):
            make_line(owner=customer)
        submission = submit(customer, photos=None)
        signed_in(client, reviewer)
        warm_caches(client)

        claim, approval = claim_and_decide(client, submission, {"decision": "approve"})

        assert Line.objects.filter(owner=customer, status=Line.Status.ACTIVE).count() == lines
        counts.append((len(claim), len(approval)))
    assert counts == [(CLAIM_QUERIES, APPROVE_QUERIES)] * 2, (claim, approval)


def test_rejecting_runs_a_fixed_number_of_queries(client, submit, reviewer):
    submission = submit(photos=None)
    signed_in(client, reviewer)
    warm_caches(client)

    _claim, rejection = claim_and_decide(
        client, submission, {"decision": "reject", "reason_codes": ["IMG_BLURRY", "IMG_GLARE"]}
    )

    assert len(rejection) == REJECT_QUERIES, "\n".join(q[:90] for q in rejection)
    submission.refresh_from_db()
    assert sorted(submission.reasons.values_list("code", flat=True)) == ["IMG_BLURRY", "IMG_GLARE"]
