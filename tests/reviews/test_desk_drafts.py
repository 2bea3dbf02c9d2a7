"""The desk's in-person form keeps the photos the clerk took when a typed field is wrong (drafts per clerk and line)."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent, Line, ServicePoint, User
from reviews import selectors, services
from reviews.models import Certificate, DraftPhoto, Submission, private_storage
from reviews.photos import ERR_NOT_AN_IMAGE
from reviews.validators import ERR_ID_CHECKSUM
from tests.factories import CustomerFactory, ServicePointFactory, make_line, make_staff
from tests.reviews import payloads
from tests.reviews.conftest import page_shows, private_files, resident_id

pytestmark = pytest.mark.django_db

VERIFY_URL = "/staff/desk/verify/"
KINDS = ("id_front", "id_back", "id_handheld")
NAME = "李晓华"
ID_NUMBER = resident_id(birth="19850214", sequence="357")
WRONG_CHECK_DIGIT = ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1")
PHONE = "+8613712345678"


@pytest.fixture
def point():
    return ServicePointFactory(code="bj-sanlitun", kind=ServicePoint.Kind.VERIFICATION)


@pytest.fixture
def clerk(point):
    return make_staff("clerk", service_point=point)


@pytest.fixture
def desk(clerk, settings):
    """The clerk's browser, in English."""
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(clerk)
    return client


def upload(seed, name="photo.jpg"):
    return SimpleUploadedFile(name, payloads.small_jpeg(seed=seed), content_type="image/jpeg")


def typed(code, **overrides):
    data = {
        "activation_code": code,
        "full_name": NAME,
        "id_number": ID_NUMBER,
        "customer_phone": PHONE,
        "card_checked": "on",
    }
    data.update(overrides)
    return data


def with_photos(data, seeds=(51, 52, 53)):
    return {**data, **{kind: upload(seed) for kind, seed in zip(KINDS, seeds, strict=True)}}


def drafts(clerk, line) -> dict:
    return {draft.kind: draft for draft in DraftPhoto.objects.filter(clerk=clerk, line=line)}


def kept_url(line, kind) -> str:
    return f"/staff/desk/kept-photos/{line.pk}/{kind}/"


def test_a_wrong_check_digit_keeps_the_photos_and_the_typing_and_shows_them_kept(desk, clerk):
    line, code = make_line()
    users = User.objects.count()

    response = desk.post(VERIFY_URL, with_photos(typed(code, id_number=WRONG_CHECK_DIGIT)))

    assert response.status_code == 400
    assert page_shows(response, ERR_ID_CHECKSUM)
    assert set(drafts(clerk, line)) == set(KINDS)
    content = response.content.decode()
    for kind in KINDS:
        assert f'data-testid="kept-{kind}" data-source="draft"' in content
        assert kept_url(line, kind) in content
    assert 'data-testid="photos-kept-note"' in content
    assert content.count("Replace it with a new photo (optional)") == 3
    # What was typed comes back, the ticked box too.
    assert f'value="{WRONG_CHECK_DIGIT}"' in content and f'value="{NAME}"' in content
    assert response.context["form"]["card_checked"].value() is True
    # Nothing but the drafts: no account, no attached line, no submission, no certificate.
    line.refresh_from_db()
    assert line.owner is None and line.status == Line.Status.INACTIVE
    assert User.objects.count() == users
    assert not Submission.objects.exists() and not Certificate.objects.exists()


def test_the_corrected_form_completes_with_the_kept_photos_without_choosing_them_again(
    desk, clerk, django_capture_on_commit_callbacks
):
    line, code = make_line()
    desk.post(VERIFY_URL, with_photos(typed(code, id_number=WRONG_CHECK_DIGIT)))
    kept = {kind: draft.image.name for kind, draft in drafts(clerk, line).items()}
    files_before = private_files()

    with django_capture_on_commit_callbacks(execute=True):
        response = desk.post(VERIFY_URL, typed(code))

    certificate = Certificate.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/staff/desk/certificates/{certificate.number}/"
    submission = certificate.submission
    assert submission.status == Submission.Status.APPROVED and submission.channel == Submission.Channel.OFFLINE
    assert {photo.kind: photo.image.name for photo in submission.photos.all()} == kept
    assert not DraftPhoto.objects.exists()
    assert private_files() == files_before  # taken over by reference: nothing copied, nothing lost
    line.refresh_from_db()
    assert line.status == Line.Status.ACTIVE and line.owner.is_real_name_verified


def test_a_new_photo_replaces_the_kept_one_and_its_old_files_go(desk, clerk, django_capture_on_commit_callbacks):
    line, code = make_line()
    desk.post(VERIFY_URL, with_photos(typed(code, id_number=WRONG_CHECK_DIGIT)))
    old = drafts(clerk, line)["id_back"]

    with django_capture_on_commit_callbacks(execute=True):
        response = desk.post(VERIFY_URL, {**typed(code), "id_back": upload(61)})

    assert response.status_code == 302
    photos = {photo.kind: photo for photo in Certificate.objects.get().submission.photos.all()}
    assert set(photos) == set(KINDS)
    assert photos["id_back"].image.name != old.image.name
    storage = private_storage()
    assert not storage.exists(old.image.name) and not storage.exists(old.thumbnail.name)
    assert storage.exists(photos["id_back"].image.name)


def test_a_bad_photo_gives_its_clear_message_and_changes_nothing(desk, clerk):
    line, code = make_line()
    desk.post(VERIFY_URL, with_photos(typed(code, id_number=WRONG_CHECK_DIGIT)))
    before = drafts(clerk, line)
    files = private_files()
    not_a_photo = SimpleUploadedFile("front.jpg", b"this is no photo at all", content_type="image/jpeg")

    response = desk.post(VERIFY_URL, {**typed(code), "id_front": not_a_photo})

    assert response.status_code == 400
    assert response.context["form"].errors["id_front"] == [str(ERR_NOT_AN_IMAGE)]
    assert page_shows(response, ERR_NOT_AN_IMAGE)
    # The kept photos stay as they were (the bad file replaces nothing) and nothing is issued.
    assert drafts(clerk, line) == before
    assert {kind: draft.image.name for kind, draft in drafts(clerk, line).items()} == {
        kind: draft.image.name for kind, draft in before.items()
    }
    assert private_files() == files
    assert not Submission.objects.exists() and not Certificate.objects.exists()
    line.refresh_from_db()
    assert line.owner is None and line.status == Line.Status.INACTIVE


def test_another_clerk_neither_sees_nor_uses_the_kept_photos(desk, clerk, point, django_capture_on_commit_callbacks):
    line, code = make_line()
    desk.post(VERIFY_URL, with_photos(typed(code, id_number=WRONG_CHECK_DIGIT)))
    names = [name for draft in drafts(clerk, line).values() for name in (draft.image.name, draft.thumbnail.name)]
    colleague = make_staff("clerk", service_point=point)
    other = Client()
    other.force_login(colleague)

    lookup = other.post("/staff/desk/lookup/", {"activation_code": code})
    assert lookup.status_code == 200
    assert 'data-testid="kept-' not in lookup.content.decode()
    assert selectors.desk_form_state(clerk=colleague, line=line).kept_kinds == set()
    for kind in KINDS:
        assert other.get(kept_url(line, kind)).status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        response = other.post(VERIFY_URL, typed(code))

    assert response.status_code == 302
    submission = Certificate.objects.get().submission
    assert not submission.photos.exists()  # the first clerk's photos were not used
    # The line is verified: the first clerk's drafts for it can never be used, and go.
    assert not DraftPhoto.objects.exists()
    assert not any(private_storage().exists(name) for name in names)


def test_the_same_clerk_with_another_customers_line_does_not_get_the_photos(desk, clerk):
    line, code = make_line()
    desk.post(VERIFY_URL, with_photos(typed(code, id_number=WRONG_CHECK_DIGIT)))
    other_line, other_code = make_line()

    lookup = desk.post("/staff/desk/lookup/", {"activation_code": other_code})
    assert 'data-testid="kept-' not in lookup.content.decode()
    assert desk.get(kept_url(other_line, "id_front")).status_code == 404

    response = desk.post(VERIFY_URL, typed(other_code, customer_phone="+8613712340000"))

    assert response.status_code == 302
    assert not Certificate.objects.get(line=other_line).submission.photos.exists()
    assert set(drafts(clerk, line)) == set(KINDS)  # still kept for the first customer's form


def test_looking_the_line_up_again_shows_the_photos_this_clerk_kept(desk, clerk):
    _line, code = make_line()
    desk.post(VERIFY_URL, with_photos(typed(code, id_number=WRONG_CHECK_DIGIT)))

    lookup = desk.post("/staff/desk/lookup/", {"activation_code": code})

    content = lookup.content.decode()
    assert lookup.status_code == 200
    assert "no-store" in lookup["Cache-Control"]
    for kind in KINDS:
        assert f'data-testid="kept-{kind}"' in content


def test_a_kept_photo_is_served_to_the_clerk_who_took_it_only(desk, clerk, point, client):
    line, _code = make_line()
    owner = CustomerFactory()
    attached, attached_code = make_line(owner=owner)
    desk.post(VERIFY_URL, with_photos(typed(attached_code, id_number=WRONG_CHECK_DIGIT)))

    own = desk.get(kept_url(attached, "id_front"))
    assert own.status_code == 200
    assert own["Cache-Control"] == "private, no-store"
    assert own["Content-Type"] == "image/jpeg"
    viewed = AuditEvent.objects.get(verb="desk_draft_photo.viewed")
    assert viewed.verb_label != viewed.verb  # named on the staff audit page
    assert (viewed.actor, viewed.subject_user, viewed.data) == (clerk, owner, {"line": attached.pk, "kind": "id_front"})
    assert desk.get(kept_url(attached, "nonsense")).status_code == 404
    assert desk.get(kept_url(line, "id_front")).status_code == 404

    for stranger, status in (
        (make_staff("clerk", service_point=ServicePointFactory()), 404),  # a clerk of another point
        (make_staff("reviewer"), 403),
        (owner, 403),  # the customer themself: their photos are theirs once submitted
    ):
        client.force_login(stranger)
        assert client.get(kept_url(attached, "id_front")).status_code == status, stranger
    client.logout()
    assert client.get(kept_url(attached, "id_front")).status_code == 302


def test_desk_drafts_expire_and_the_purge_erases_them_with_their_files(desk, clerk, django_capture_on_commit_callbacks):
    line, code = make_line()
    desk.post(VERIFY_URL, with_photos(typed(code, id_number=WRONG_CHECK_DIGIT)))
    names = [name for draft in drafts(clerk, line).values() for name in (draft.image.name, draft.thumbnail.name)]
    later = timezone.now() + timedelta(hours=25)

    assert selectors.desk_form_state(clerk=clerk, line=line, now=later).kept_kinds == set()
    assert selectors.desk_draft_photo_for_clerk(clerk=clerk, line_id=line.pk, kind="id_front", now=later) is None
    with django_capture_on_commit_callbacks(execute=True):
        assert services.drafts_purge_expired(now=later) == 3

    assert not DraftPhoto.objects.exists()
    assert not any(private_storage().exists(name) for name in names)


def test_an_expired_kept_photo_is_not_used(desk, clerk):
    line, code = make_line()
    desk.post(VERIFY_URL, with_photos(typed(code, id_number=WRONG_CHECK_DIGIT)))
    DraftPhoto.objects.filter(clerk=clerk, line=line, kind="id_back").update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert desk.post(VERIFY_URL, typed(code)).status_code == 302

    assert sorted(Certificate.objects.get().submission.photos.values_list("kind", flat=True)) == [
        "id_front",
        "id_handheld",
    ]


def test_the_erasure_of_a_customers_personal_data_erases_desk_drafts_of_their_lines(desk, clerk):
    owner = CustomerFactory()
    line, code = make_line(owner=owner)
    desk.post(VERIFY_URL, with_photos(typed(code, id_number=WRONG_CHECK_DIGIT)))
    names = [name for draft in drafts(clerk, line).values() for name in (draft.image.name, draft.thumbnail.name)]
    assert names

    services.submissions_erase_personal_data(user_id=owner.pk)

    assert not DraftPhoto.objects.exists()
    assert not any(private_storage().exists(name) for name in names)


def test_a_draft_belongs_to_one_form_only(clerk):
    line, _code = make_line()
    fields = dict(
        kind="id_front",
        image="x.jpg",
        thumbnail="x-thumb.jpg",
        width=1,
        height=1,
        original_format="JPEG",
        original_sha256="0" * 64,
        dhash=0,
        expires_at=timezone.now(),
    )
    for owners in ({"clerk": clerk}, {"line": line}, {"user": CustomerFactory(), "clerk": clerk, "line": line}):
        with pytest.raises(IntegrityError), transaction.atomic():
            DraftPhoto.objects.create(**owners, **fields)
