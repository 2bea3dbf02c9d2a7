"""A mistyped field keeps the photos (drafts); a resubmission starts from the rejected attempt (problems 2 and 3)."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from reviews import selectors, services
from reviews.models import DraftPhoto, Submission, private_storage
from reviews.validators import ERR_ID_CHECKSUM, ERR_ID_REGION
from tests.factories import CustomerFactory
from tests.reviews import payloads
from tests.reviews.conftest import ID_NUMBER, page_shows, private_files, resident_id

pytestmark = pytest.mark.django_db

SUBMIT_URL = "/verification/submit/"
KINDS = ("id_front", "id_back", "id_handheld")
WRONG_REGION = resident_id(region="990101")  # the check digit is right: only the server can tell


@pytest.fixture
def customer(english):
    user = CustomerFactory()
    english.force_login(user)
    return user


def upload(seed, name="photo.jpg"):
    return SimpleUploadedFile(name, payloads.small_jpeg(seed=seed), content_type="image/jpeg")


def typed(customer, **overrides):
    data = {"full_name": "王小明", "id_number": ID_NUMBER, "contact_phone": customer.phone.as_national}
    data.update(overrides)
    return data


def with_photos(data, seeds=(21, 22, 23)):
    return {**data, **{kind: upload(seed) for kind, seed in zip(KINDS, seeds, strict=True)}}


def drafts(customer) -> dict:
    return {draft.kind: draft for draft in DraftPhoto.objects.filter(user=customer)}


def test_a_wrong_id_number_keeps_the_three_photos_and_shows_them_kept(english, customer):
    response = english.post(SUBMIT_URL, with_photos(typed(customer, id_number=WRONG_REGION)))

    assert response.status_code == 200
    assert page_shows(response, ERR_ID_REGION)
    assert not Submission.objects.exists()
    assert set(drafts(customer)) == set(KINDS)
    content = response.content.decode()
    for kind in KINDS:
        assert f'data-testid="kept-{kind}" data-source="draft"' in content
        assert f"/verification/kept-photos/{kind}/" in content
    assert 'data-testid="photos-kept-note"' in content
    assert content.count("Replace it with a new photo (optional)") == 3  # each kept one can be replaced
    assert f'value="{WRONG_REGION}"' in content  # the typing comes back too


def test_the_corrected_form_is_submitted_without_choosing_the_photos_again(english, customer):
    english.post(SUBMIT_URL, with_photos(typed(customer, id_number=WRONG_REGION)))
    kept = {kind: draft.image.name for kind, draft in drafts(customer).items()}
    files_before = private_files()

    response = english.post(SUBMIT_URL, typed(customer))

    assert response.status_code == 302
    submission = Submission.objects.get(user=customer)
    assert {photo.kind: photo.image.name for photo in submission.photos.all()} == kept
    assert not DraftPhoto.objects.exists()
    assert private_files() == files_before  # taken over by reference: nothing copied, nothing lost


def test_a_new_photo_replaces_the_kept_one_and_its_old_files_go(english, customer, django_capture_on_commit_callbacks):
    english.post(SUBMIT_URL, with_photos(typed(customer, id_number=WRONG_REGION)))
    old = drafts(customer)["id_front"]

    with django_capture_on_commit_callbacks(execute=True):
        english.post(SUBMIT_URL, {**typed(customer, id_number=WRONG_REGION), "id_front": upload(31)})

    new = drafts(customer)["id_front"]
    assert new.image.name != old.image.name
    storage = private_storage()
    assert not storage.exists(old.image.name) and not storage.exists(old.thumbnail.name)
    assert storage.exists(new.image.name)
    assert DraftPhoto.objects.filter(user=customer).count() == 3


def test_a_missing_photo_is_asked_for_and_the_others_are_kept(english, customer):
    data = {**typed(customer), "id_front": upload(21), "id_back": upload(22)}

    response = english.post(SUBMIT_URL, data)

    assert response.status_code == 200
    assert page_shows(response, "Choose a photo for this one.")
    assert set(drafts(customer)) == {"id_front", "id_back"}
    assert english.post(SUBMIT_URL, {**typed(customer), "id_handheld": upload(23)}).status_code == 302
    assert Submission.objects.get(user=customer).photos.count() == 3


def test_the_form_checks_the_id_digit_as_it_is_typed():
    response_marker = "data-resident-id"
    from reviews.forms import SubmissionForm

    assert response_marker in str(SubmissionForm()["id_number"])
    assert str(ERR_ID_CHECKSUM)  # the same message the script shows, from the page's template


def test_a_kept_photo_is_served_to_its_owner_only(english, customer, client):
    english.post(SUBMIT_URL, with_photos(typed(customer, id_number=WRONG_REGION)))

    own = english.get("/verification/kept-photos/id_front/")
    assert own.status_code == 200
    assert own["Cache-Control"] == "private, no-store"
    assert english.get("/verification/kept-photos/nonsense/").status_code == 404

    stranger = CustomerFactory()
    client.force_login(stranger)
    assert client.get("/verification/kept-photos/id_front/").status_code == 404
    client.logout()
    assert client.get("/verification/kept-photos/id_front/").status_code == 302


def test_drafts_expire_and_the_purge_erases_them_with_their_files(
    english, customer, django_capture_on_commit_callbacks
):
    english.post(SUBMIT_URL, with_photos(typed(customer, id_number=WRONG_REGION)))
    names = [name for draft in drafts(customer).values() for name in (draft.image.name, draft.thumbnail.name)]
    later = timezone.now() + timedelta(hours=25)

    assert selectors.submission_form_state(user=customer, now=later).kept_kinds == set()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.drafts_purge_expired(now=later) == 3

    assert not DraftPhoto.objects.exists()
    assert not any(private_storage().exists(name) for name in names)
    assert services.drafts_purge_expired(now=later) == 0


def test_the_erasure_of_personal_data_erases_drafts_and_their_files(english, customer):
    english.post(SUBMIT_URL, with_photos(typed(customer, id_number=WRONG_REGION)))
    names = [name for draft in drafts(customer).values() for name in (draft.image.name, draft.thumbnail.name)]

    services.submissions_erase_personal_data(user_id=customer.pk)

    assert not DraftPhoto.objects.exists()
    assert not any(private_storage().exists(name) for name in names)


# Resubmission -------------------------------------------------------------------------------


@pytest.fixture
def rejected(customer, submit, decide, reviewer):
    """The customer's first attempt, with photos, rejected with ``codes``."""

    def run(*codes, message=""):
        submission = submit(customer, id_number=ID_NUMBER, full_name="王小明")
        decide(submission, reviewer, "reject", list(codes), message=message)
        return Submission.objects.get(pk=submission.pk)

    return run


def test_after_a_handheld_rejection_the_form_is_prefilled_and_keeps_the_two_card_photos(english, customer, rejected):
    first = rejected("HANDHELD_BAD", message="请露出整张脸")

    response = english.get(SUBMIT_URL)

    content = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert 'name="full_name" value="王小明"' in content
    assert f'name="id_number" value="{ID_NUMBER}"' in content
    assert f'name="contact_phone" value="{customer.phone.as_national}"' in content
    assert 'data-testid="resubmission-reasons"' in content
    assert "请露出整张脸" in content
    previous = {photo.kind: photo for photo in first.photos.all()}
    for kind in ("id_front", "id_back"):
        assert f'data-testid="kept-{kind}" data-source="previous"' in content
        assert f"/verification/photos/{previous[kind].pk}/thumb/" in content
    assert 'data-testid="replace-id_handheld"' in content
    assert 'data-testid="kept-id_handheld"' not in content


def test_the_resubmission_replaces_only_the_rejected_photo(english, customer, rejected):
    first = rejected("HANDHELD_BAD")
    before = {photo.kind: photo.image.name for photo in first.photos.all()}

    response = english.post(SUBMIT_URL, {**typed(customer), "id_handheld": upload(41)})

    assert response.status_code == 302
    second = Submission.objects.filter(user=customer).order_by("-attempt_number").first()
    assert second.attempt_number == 2 and second.status == Submission.Status.PENDING
    after = {photo.kind: photo.image.name for photo in second.photos.all()}
    assert after["id_front"] == before["id_front"] and after["id_back"] == before["id_back"]
    assert after["id_handheld"] != before["id_handheld"]
    assert not second.is_flagged  # its own earlier photos are not another account's duplicates


def test_the_resubmission_still_needs_the_rejected_photo(english, customer, rejected):
    rejected("HANDHELD_BAD")

    response = english.post(SUBMIT_URL, typed(customer))

    assert response.status_code == 200
    assert page_shows(response, "Choose a photo for this one.")
    assert Submission.objects.filter(user=customer).count() == 1


@pytest.mark.parametrize(
    ("codes", "to_replace"),
    [
        (["HANDHELD_BAD"], {"id_handheld"}),
        (["SIDE_WRONG"], {"id_front", "id_back"}),
        (["INFO_MISMATCH"], set()),
        (["IMG_BLURRY"], set(KINDS)),
        (["INFO_MISMATCH", "HANDHELD_BAD"], {"id_handheld"}),
    ],
)
def test_which_photos_a_rejection_asks_again(customer, rejected, codes, to_replace):
    first = rejected(*codes)

    state = selectors.submission_form_state(user=customer)

    assert state.previous == first
    assert {kind for kind, photo in state.photos.items() if photo.rejected} == to_replace
    assert state.kept_kinds == set(KINDS) - to_replace


def test_a_first_submission_starts_with_the_account_phone_as_people_read_it(english, customer):
    content = english.get(SUBMIT_URL).content.decode()

    assert f'name="contact_phone" value="{customer.phone.as_national}"' in content
    assert 'data-testid="resubmission-reasons"' not in content


def test_a_kept_photo_that_expired_while_the_form_was_open_is_asked_for_again(english, customer):
    english.post(SUBMIT_URL, with_photos(typed(customer, id_number=WRONG_REGION)))
    DraftPhoto.objects.filter(user=customer, kind="id_back").update(expires_at=timezone.now() - timedelta(seconds=1))

    response = english.post(SUBMIT_URL, typed(customer))

    assert response.status_code == 200
    assert page_shows(response, "Choose a photo for this one.")
    assert not Submission.objects.exists()
