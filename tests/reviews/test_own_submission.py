"""Staff never decide their own real-name verification, whatever path they take.

A member of staff may be a customer too (the customer pages are open to any signed-in
account): a reviewer who submitted a verification, or a clerk whose own number is typed
at the desk, must leave the decision to someone else.
"""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Line, ServicePoint, User
from reviews import services
from reviews.models import QualitySample, Submission
from reviews.services import ERR_OWN_VERIFICATION
from tests.factories import ServicePointFactory, make_line, make_staff
from tests.images import resident_id
from tests.reviews.conftest import page_shows

pytestmark = pytest.mark.django_db


def staff_with_a_line(role, **kwargs):
    staff = make_staff(role, **kwargs)
    User.objects.filter(pk=staff.pk).update(phone=f"+861391111{staff.pk:04d}")
    staff.refresh_from_db()
    line, code = make_line(owner=staff)
    return staff, line, code


@pytest.fixture
def own(submit):
    """A reviewer's own open submission, with a line of theirs waiting for it."""
    reviewer, line, _code = staff_with_a_line("reviewer")
    return reviewer, line, submit(user=reviewer, photos=None)


def refused(call):
    with pytest.raises(services.ReviewError) as caught:
        call()
    assert str(caught.value) == str(ERR_OWN_VERIFICATION)


def test_a_reviewer_cannot_claim_their_own_submission(own):
    reviewer, _line, submission = own

    refused(lambda: services.submission_claim(submission_id=submission.pk, actor=reviewer))
    assert services.submission_claim_next(actor=reviewer) is None

    row = Submission.objects.get(pk=submission.pk)
    assert (row.status, row.claimed_by_id) == (Submission.Status.PENDING, None)


@pytest.mark.parametrize("decision", ["approve", "reject", "escalate"])
def test_a_reviewer_cannot_decide_their_own_submission_even_with_a_claim_on_record(own, decision):
    reviewer, line, submission = own
    # A claim written before the rule (or by a bare UPDATE): the decision itself refuses.
    Submission.objects.filter(pk=submission.pk).update(
        status="in_review", claimed_by=reviewer, claim_expires_at=timezone.now() + timedelta(minutes=15)
    )
    calls = {
        "approve": lambda: services.submission_approve(submission_id=submission.pk, actor=reviewer),
        "reject": lambda: services.submission_reject(
            submission_id=submission.pk, actor=reviewer, reason_codes=["IMG_BLURRY"]
        ),
        "escalate": lambda: services.submission_escalate(submission_id=submission.pk, actor=reviewer, note="look"),
    }

    refused(calls[decision])

    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.IN_REVIEW
    line.refresh_from_db()
    assert line.status == Line.Status.INACTIVE
    assert not User.objects.get(pk=reviewer.pk).is_real_name_verified


def test_the_review_page_shows_the_refusal_and_decides_nothing(client, english, own):
    reviewer, _line, submission = own
    client.force_login(reviewer)

    response = client.post(reverse("reviews:claim", args=[submission.pk]), follow=True)

    assert page_shows(response, ERR_OWN_VERIFICATION)
    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.PENDING


def test_a_clerk_cannot_verify_their_own_account_at_the_desk():
    point = ServicePointFactory(kind=ServicePoint.Kind.VERIFICATION)
    clerk, line, code = staff_with_a_line("clerk", service_point=point)

    refused(
        lambda: services.submission_verify_in_person(
            actor=clerk,
            activation_code=code,
            full_name="张三",
            id_number=resident_id(),
            customer_phone=clerk.phone,
        )
    )

    assert not Submission.objects.filter(user=clerk).exists()
    line.refresh_from_db()
    assert line.status == Line.Status.INACTIVE


def test_a_clerk_typing_their_own_number_for_an_unattached_line_attaches_and_verifies_nothing():
    point = ServicePointFactory(kind=ServicePoint.Kind.VERIFICATION)
    clerk, _line, _code = staff_with_a_line("clerk", service_point=point)
    line, code = make_line()

    refused(
        lambda: services.submission_verify_in_person(
            actor=clerk, activation_code=code, full_name="张三", id_number=resident_id(), customer_phone=clerk.phone
        )
    )

    line.refresh_from_db()
    assert line.owner_id is None and line.status == Line.Status.INACTIVE


def test_the_database_refuses_a_submission_decided_by_its_customer(own):
    reviewer, _line, submission = own

    with pytest.raises(IntegrityError), transaction.atomic():
        Submission.objects.filter(pk=submission.pk).update(status="rejected", decided_by=reviewer)


def test_a_senior_cannot_check_the_quality_sample_of_their_own_verification(
    client, english, settings, submit, decide, reviewer
):
    settings.QC_SAMPLE_SHARE = 1
    senior, _line, _code = staff_with_a_line("senior_reviewer")
    decided = decide(submit(user=senior, photos=None), reviewer, "approve")
    sample = QualitySample.objects.get(submission=decided)

    refused(lambda: services.quality_sample_confirm(sample_id=sample.pk, actor=senior))
    refused(lambda: services.quality_sample_overturn(sample_id=sample.pk, actor=senior, reason_codes=["IMG_BLURRY"]))
    check_link = reverse("reviews:sample_check", args=[sample.pk])
    client.force_login(senior)
    assert check_link not in client.get("/staff/reviews/samples/").content.decode()

    sample.refresh_from_db()
    assert (sample.status, sample.checked_by_id) == (QualitySample.Status.PENDING, None)
    assert Submission.objects.get(pk=decided.pk).status == Submission.Status.APPROVED
    # Another senior sees and checks it as usual.
    other = make_staff("senior_reviewer")
    client.force_login(other)
    assert check_link in client.get("/staff/reviews/samples/").content.decode()
    services.quality_sample_confirm(sample_id=sample.pk, actor=other)


def test_support_cannot_lift_the_final_rejection_of_their_own_verification(submit, decide, reviewer):
    agent, _line, _code = staff_with_a_line("support")
    rejected = decide(submit(user=agent, photos=None), reviewer, "reject", ["FACE_MISMATCH"])

    refused(lambda: services.submission_lift_final_block(submission_id=rejected.pk, actor=agent, note="mine"))

    rejected.refresh_from_db()
    assert rejected.final_block_lifted_at is None
    assert not rejected.events.filter(verb="final_block_lifted").exists()
    # Another agent lifts it as usual.
    services.submission_lift_final_block(submission_id=rejected.pk, actor=make_staff("support"), note="checked")
    rejected.refresh_from_db()
    assert rejected.final_block_lifted_at is not None


def test_a_senior_cannot_revoke_the_approval_of_their_own_verification(submit, decide, reviewer):
    senior, line, _code = staff_with_a_line("senior_reviewer")
    approved = decide(submit(user=senior, photos=None), reviewer, "approve")

    refused(
        lambda: services.submission_revoke_approval(
            submission_id=approved.pk, actor=senior, reason_codes=["DOC_TAMPERED"]
        )
    )

    approved.refresh_from_db()
    line.refresh_from_db()
    assert (approved.status, approved.revoked_by_id) == (Submission.Status.APPROVED, None)
    assert line.status == Line.Status.ACTIVE
