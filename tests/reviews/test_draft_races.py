"""Two uploads of the same kind at once (two tabs, a double tap): one draft row, no stray file. PostgreSQL."""

from django.core.files.uploadedfile import SimpleUploadedFile

from reviews import photos, services
from reviews.models import DraftPhoto, private_storage
from tests.factories import CustomerFactory, ServicePointFactory, make_line, make_staff
from tests.races import RACE_MARKS, run_together
from tests.reviews import payloads

pytestmark = RACE_MARKS


def test_two_keeps_of_the_same_kind_at_once_leave_one_draft_and_only_its_files():
    user = CustomerFactory()
    processed = [
        photos.process_photo(SimpleUploadedFile(f"{seed}.jpg", payloads.small_jpeg(seed=seed)), kind="id_front")
        for seed in (51, 52)
    ]

    results = run_together(
        *[lambda photo=photo: services.draft_photo_keep(user=user, kind="id_front", photo=photo) for photo in processed]
    )

    assert [outcome for outcome, _value in results] == ["ok", "ok"]
    [draft] = DraftPhoto.objects.filter(user=user)
    folder = f"drafts/{user.pk}"
    _dirs, files = private_storage().listdir(folder)
    assert sorted(f"{folder}/{name}" for name in files) == sorted([draft.image.name, draft.thumbnail.name])


def test_two_keeps_at_a_desk_at_once_leave_one_draft_for_the_clerk_and_line_and_only_its_files():
    clerk = make_staff("clerk", service_point=ServicePointFactory())
    line, _code = make_line()
    processed = [
        photos.process_photo(SimpleUploadedFile(f"{seed}.jpg", payloads.small_jpeg(seed=seed)), kind="id_back")
        for seed in (53, 54)
    ]

    results = run_together(
        *[
            lambda photo=photo: services.desk_draft_photo_keep(clerk=clerk, line=line, kind="id_back", photo=photo)
            for photo in processed
        ]
    )

    assert [outcome for outcome, _value in results] == ["ok", "ok"]
    [draft] = DraftPhoto.objects.filter(clerk=clerk, line=line)
    folder = f"drafts/desk/{clerk.pk}/{line.pk}"
    _dirs, files = private_storage().listdir(folder)
    assert sorted(f"{folder}/{name}" for name in files) == sorted([draft.image.name, draft.thumbnail.name])
