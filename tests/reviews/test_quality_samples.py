"""Quality control: decisions drawn for a senior's second look, confirmed or overturned once."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Line
from reviews import services
from reviews.models import QualitySample, Submission
from reviews.services.sampling import quality_sample_drawn
from tests.factories import make_line, make_staff
from tests.races import RACE_MARKS, errors, run_together, values

pytestmark = pytest.mark.django_db

SAMPLES_URL = "/staff/reviews/samples/"


@pytest.fixture
def sampling(settings):
    settings.QC_SAMPLE_SHARE = 1


def sample_url(sample):
    return f"{SAMPLES_URL}{sample.pk}/"


def test_share_draws_none_all_or_about_the_share():
    assert not any(quality_sample_drawn(0) for _ in range(200))
    assert all(quality_sample_drawn(1) for _ in range(200))
    drawn = sum(quality_sample_drawn(0.25) for _ in range(4000))
    assert 800 < drawn < 1200


def test_decisions_are_drawn_with_what_was_decided(sampling, submit, reviewer, decide):
    approved = decide(submit(photos=None), reviewer, "approve")
    rejected = decide(submit(photos=None), reviewer, "reject", ["IMG_BLURRY"])
    samples = {sample.submission_id: sample for sample in QualitySample.objects.all()}
    assert samples[approved.pk].decision == "approved" and samples[rejected.pk].decision == "rejected"
    assert {sample.decided_by_id for sample in samples.values()} == {reviewer.pk}
    assert {sample.status for sample in samples.values()} == {"pending"}


def test_nothing_is_drawn_with_a_share_of_zero_or_when_the_decision_is_refused(settings, submit, reviewer, decide):
    settings.QC_SAMPLE_SHARE = 0
    decide(submit(photos=None), reviewer, "approve")
    settings.QC_SAMPLE_SHARE = 1
    submission = submit(photos=None)
    services.submission_claim(submission_id=submission.pk, actor=reviewer)
    with pytest.raises(services.ReviewError):
        services.submission_reject(submission_id=submission.pk, actor=reviewer, reason_codes=[])
    assert not QualitySample.objects.exists()


@pytest.fixture
def approved_sample(sampling, submit, reviewer, decide):
    customer_submission = submit(photos=None)
    make_line(customer_submission.user)
    decide(customer_submission, reviewer, "approve")
    return QualitySample.objects.get(submission=customer_submission)


def test_confirming_closes_the_sample_once(approved_sample, senior_reviewer):
    services.quality_sample_confirm(sample_id=approved_sample.pk, actor=senior_reviewer, note="看过，没问题")
    approved_sample.refresh_from_db()
    assert approved_sample.status == "confirmed" and approved_sample.checked_by == senior_reviewer
    assert approved_sample.submission.events.filter(verb="qc_confirmed", actor=senior_reviewer).exists()
    with pytest.raises(services.ReviewError, match=str(services.ERR_SAMPLE_ALREADY_CHECKED)):
        services.quality_sample_overturn(sample_id=approved_sample.pk, actor=senior_reviewer, reason_codes=["FAKE_DOC"])
    assert Submission.objects.get(pk=approved_sample.submission_id).status == "approved"


def test_overturning_an_approval_revokes_it(approved_sample, senior_reviewer):
    services.quality_sample_overturn(
        sample_id=approved_sample.pk, actor=senior_reviewer, reason_codes=["IMG_BLURRY"], note="照片太糊"
    )
    submission = Submission.objects.select_related("user").get(pk=approved_sample.submission_id)
    assert submission.status == "revoked" and submission.revoked_by == senior_reviewer
    assert not submission.user.is_real_name_verified
    assert Line.objects.get(owner=submission.user).status == Line.Status.SUSPENDED
    approved_sample.refresh_from_db()
    assert approved_sample.status == "overturned"


def test_overturning_an_approval_without_a_reason_changes_nothing(approved_sample, senior_reviewer):
    with pytest.raises(services.ReviewError, match=str(services.ERR_REASON_REQUIRED)):
        services.quality_sample_overturn(sample_id=approved_sample.pk, actor=senior_reviewer, reason_codes=[])
    approved_sample.refresh_from_db()
    assert approved_sample.status == "pending"
    assert Submission.objects.get(pk=approved_sample.submission_id).status == "approved"


def test_overturning_a_final_rejection_lifts_its_block(sampling, submit, reviewer, decide, senior_reviewer):
    rejected = decide(submit(photos=None), reviewer, "reject", ["FACE_MISMATCH"])
    sample = QualitySample.objects.get(submission=rejected)
    assert services.submission_blocker(user=rejected.user) is not None
    services.quality_sample_overturn(sample_id=sample.pk, actor=senior_reviewer, note="同一人")
    assert services.submission_blocker(user=rejected.user) is None
    assert QualitySample.objects.get(pk=sample.pk).status == "overturned"


def test_a_reviewer_cannot_check_and_a_senior_cannot_check_their_own(sampling, submit, decide, reviewer):
    senior = make_staff("senior_reviewer")
    own = decide(submit(photos=None), senior, "approve")
    sample = QualitySample.objects.get(submission=own)
    with pytest.raises(services.ReviewError, match=str(services.ERR_SAMPLE_OWN_DECISION)):
        services.quality_sample_confirm(sample_id=sample.pk, actor=senior)
    with pytest.raises(services.ReviewError, match=str(services.ERR_SAMPLE_CHECK_NOT_ALLOWED)):
        services.quality_sample_confirm(sample_id=sample.pk, actor=reviewer)
    # The database refuses a checker who is the decider, whatever the path.
    with pytest.raises(IntegrityError), transaction.atomic():
        QualitySample.objects.filter(pk=sample.pk).update(
            status="confirmed", checked_by=senior, checked_at=timezone.now()
        )


def test_sample_pages_for_seniors_only(client, approved_sample, reviewer, senior_reviewer, english):
    client.force_login(reviewer)
    assert client.get(SAMPLES_URL).status_code == 403
    assert client.post(sample_url(approved_sample), {"outcome": "confirm"}).status_code == 403
    client.force_login(senior_reviewer)
    listing = client.get(SAMPLES_URL).content.decode()
    assert f'href="{sample_url(approved_sample)}"' in listing
    refused = client.post(sample_url(approved_sample), {"outcome": "overturn"})
    assert refused.status_code == 409 and "Choose at least one reason" in refused.content.decode()
    assert client.post(sample_url(approved_sample), {"outcome": "maybe"}).status_code == 400
    response = client.post(sample_url(approved_sample), {"outcome": "confirm", "note": "ok"})
    assert response.status_code == 302 and response["Location"] == SAMPLES_URL
    assert QualitySample.objects.get(pk=approved_sample.pk).status == "confirmed"
    assert client.get(f"{SAMPLES_URL}999999/").status_code == 404


def test_sample_list_query_count_does_not_grow(client, sampling, submit, reviewer, decide, senior_reviewer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    decide(submit(photos=None), reviewer, "reject", ["IMG_BLURRY"])
    client.force_login(senior_reviewer)
    client.get(SAMPLES_URL)  # the reviewer's permissions, then kept in the cache
    with CaptureQueriesContext(connection) as small:
        client.get(SAMPLES_URL)
    for _ in range(6):
        decide(submit(photos=None), reviewer, "reject", ["IMG_DARK", "IMG_GLARE"])
    with CaptureQueriesContext(connection) as large:
        assert client.get(SAMPLES_URL).content.decode().count("/staff/reviews/samples/") >= 7
    assert len(small.captured_queries) == len(large.captured_queries)


@pytest.mark.postgres
@pytest.mark.skipif(RACE_MARKS[1].args[0], reason=RACE_MARKS[1].kwargs["reason"])
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_seniors_checking_one_sample_at_once_record_one_check(sampling, submit, reviewer, decide):
    seniors = [make_staff("senior_reviewer") for _ in range(2)]
    submission = submit(photos=None)
    make_line(submission.user)
    decide(submission, reviewer, "approve")
    sample = QualitySample.objects.get(submission=submission)
    results = run_together(
        lambda: services.quality_sample_confirm(sample_id=sample.pk, actor=seniors[0]),
        lambda: services.quality_sample_overturn(sample_id=sample.pk, actor=seniors[1], reason_codes=["IMG_BLURRY"]),
    )
    assert len(values(results)) == 1
    assert [str(error) for error in errors(results)] == [str(services.ERR_SAMPLE_ALREADY_CHECKED)]
    sample.refresh_from_db()
    submission.refresh_from_db()
    # Either it was confirmed and stays approved, or overturned and revoked: never both.
    assert (sample.status, submission.status) in {("confirmed", "approved"), ("overturned", "revoked")}
    assert submission.events.filter(verb__in=["qc_confirmed", "qc_overturned"]).count() == 1
