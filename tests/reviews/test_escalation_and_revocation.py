"""Senior reviewers' work: escalated submissions and revoking an approval found wrong later."""

import re

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, Line, Notification
from reviews import services
from reviews.models import Submission, SubmissionEvent
from reviews.services import (
    ERR_ALREADY_ESCALATED,
    ERR_ESCALATED_SENIOR_ONLY,
    ERR_ESCALATION_NOTE_REQUIRED,
    ERR_FINAL_BLOCK,
    ERR_NOT_CLAIMED_BY_YOU,
    ERR_NOT_REVOCABLE,
    ERR_REASON_REQUIRED,
    ERR_REVOKE_NOT_ALLOWED,
    ReviewError,
)
from tests.factories import CustomerFactory, make_line
from tests.reviews.conftest import page_shows

pytestmark = pytest.mark.django_db


@pytest.fixture
def escalated(submit, reviewer):
    """A submission a reviewer claimed and escalated."""
    submission = submit(photos=None)
    services.submission_claim(submission_id=submission.pk, actor=reviewer)
    return services.submission_escalate(submission_id=submission.pk, actor=reviewer, note="Is the face the same?")


@pytest.fixture
def approved(submit, reviewer, decide):
    """A customer with an active line whose online submission was approved."""
    customer = CustomerFactory()
    line, _code = make_line(owner=customer)
    submission = decide(submit(customer, photos=None), reviewer, "approve")
    line.refresh_from_db()
    assert line.status == Line.Status.ACTIVE
    return submission


# Escalation ---------------------------------------------------------------------------


def test_escalating_returns_the_submission_to_the_queue_with_the_note_and_an_event(escalated, reviewer):
    escalated.refresh_from_db()

    assert escalated.status == Submission.Status.PENDING
    assert escalated.claimed_by is None
    assert escalated.escalated_by == reviewer
    assert escalated.escalation_note == "Is the face the same?"
    event = SubmissionEvent.objects.filter(submission=escalated).latest("pk")
    assert (event.verb, event.from_status, event.to_status) == ("escalated", "in_review", "pending")


def test_escalation_needs_a_note_and_a_live_claim_of_ones_own(submit, reviewer, other_reviewer):
    submission = submit(photos=None)
    services.submission_claim(submission_id=submission.pk, actor=reviewer)

    with pytest.raises(ReviewError, match=re.escape(str(ERR_ESCALATION_NOTE_REQUIRED))):
        services.submission_escalate(submission_id=submission.pk, actor=reviewer, note="  ")
    with pytest.raises(ReviewError, match=re.escape(str(ERR_NOT_CLAIMED_BY_YOU))):
        services.submission_escalate(submission_id=submission.pk, actor=other_reviewer, note="look")

    submission.refresh_from_db()
    assert submission.escalated_at is None and submission.claimed_by == reviewer


def test_a_submission_is_escalated_once(escalated, senior_reviewer):
    services.submission_claim(submission_id=escalated.pk, actor=senior_reviewer)

    with pytest.raises(ReviewError, match=re.escape(str(ERR_ALREADY_ESCALATED))):
        services.submission_escalate(submission_id=escalated.pk, actor=senior_reviewer, note="again")


def test_a_plain_reviewer_never_gets_an_escalated_submission_from_next(escalated, other_reviewer, senior_reviewer):
    assert services.submission_claim_next(actor=other_reviewer) is None

    claimed = services.submission_claim_next(actor=senior_reviewer)

    assert claimed.pk == escalated.pk


def test_a_plain_reviewer_cannot_claim_or_decide_an_escalated_submission(escalated, other_reviewer, senior_reviewer):
    with pytest.raises(ReviewError, match=re.escape(str(ERR_ESCALATED_SENIOR_ONLY))):
        services.submission_claim(submission_id=escalated.pk, actor=other_reviewer)
    # Even holding the row (e.g. claimed just before it was escalated) the decision is refused.
    Submission.objects.filter(pk=escalated.pk).update(
        status="in_review", claimed_by=other_reviewer, claim_expires_at=escalated.escalated_at.replace(year=2100)
    )
    with pytest.raises(ReviewError, match=re.escape(str(ERR_ESCALATED_SENIOR_ONLY))):
        services.submission_approve(submission_id=escalated.pk, actor=other_reviewer)

    assert Submission.objects.get(pk=escalated.pk).decided_at is None


def test_a_senior_reviewer_decides_an_escalated_submission(escalated, senior_reviewer, decide):
    decided = decide(escalated, senior_reviewer, "approve")

    assert decided.status == Submission.Status.APPROVED
    decided.user.refresh_from_db()
    assert decided.user.is_real_name_verified


def test_the_queue_hides_escalated_submissions_from_plain_reviewers_and_badges_them_for_seniors(
    client, escalated, other_reviewer, senior_reviewer
):
    client.force_login(other_reviewer)
    assert f"/staff/reviews/{escalated.pk}/claim/" not in client.get("/staff/reviews/").content.decode()

    client.force_login(senior_reviewer)
    page = client.get("/staff/reviews/", {"escalated": "1"}).content.decode()
    assert f"/staff/reviews/{escalated.pk}/claim/" in page
    assert 'id="f-escalated"' in page


def test_escalate_view_with_an_empty_note_changes_nothing_and_says_why(client, submit, reviewer, english):
    submission = submit(photos=None)
    services.submission_claim(submission_id=submission.pk, actor=reviewer)
    english.force_login(reviewer)

    response = english.post(reverse("reviews:escalate", args=[submission.pk]), {"note": ""})

    assert response.status_code == 400
    assert page_shows(response, ERR_ESCALATION_NOTE_REQUIRED)
    assert Submission.objects.get(pk=submission.pk).escalated_at is None


def test_escalate_view_sends_the_reviewer_back_to_the_queue(client, submit, reviewer):
    submission = submit(photos=None)
    services.submission_claim(submission_id=submission.pk, actor=reviewer)
    client.force_login(reviewer)

    response = client.post(reverse("reviews:escalate", args=[submission.pk]), {"note": "Glare on the number"})

    assert response.status_code == 302 and response["Location"] == reverse("reviews:queue")
    assert Submission.objects.get(pk=submission.pk).escalation_note == "Glare on the number"


# Revocation ---------------------------------------------------------------------------


def test_revoking_unverifies_the_customer_suspends_the_lines_and_tells_them_why(
    approved, senior_reviewer, sent, sms_outbox
):
    customer = approved.user

    with sent():
        services.submission_revoke_approval(
            submission_id=approved.pk,
            actor=senior_reviewer,
            reason_codes=["DOC_TAMPERED"],
            message="请携带身份证原件到营业厅办理。",
            note="Card number font differs",
        )

    approved.refresh_from_db()
    customer.refresh_from_db()
    assert approved.status == Submission.Status.REVOKED
    assert approved.revoked_by == senior_reviewer and approved.revoked_at is not None
    assert approved.decided_by is not None  # the original decision stays on record
    assert [reason.code for reason in approved.reasons.all()] == ["DOC_TAMPERED"]
    assert not customer.is_real_name_verified
    assert set(Line.objects.filter(owner=customer).values_list("status", flat=True)) == {Line.Status.SUSPENDED}
    verbs = set(AuditEvent.objects.filter(subject_user=customer).values_list("verb", flat=True))
    assert {"user.real_name_revoked", "line.suspended"} <= verbs
    assert SubmissionEvent.objects.filter(submission=approved, verb="revoked").count() == 1
    notification = Notification.objects.filter(user=customer).latest("pk")
    assert "请携带身份证原件到营业厅办理。" in notification.body
    assert any(message["to"] == customer.phone.as_e164 for message in sms_outbox)


def test_only_a_senior_reviewer_may_revoke(approved, reviewer):
    with pytest.raises(ReviewError, match=re.escape(str(ERR_REVOKE_NOT_ALLOWED))):
        services.submission_revoke_approval(submission_id=approved.pk, actor=reviewer, reason_codes=["DOC_TAMPERED"])

    assert Submission.objects.get(pk=approved.pk).status == Submission.Status.APPROVED


def test_revocation_needs_a_reason_and_an_approved_latest_submission(approved, senior_reviewer, submit, decide):
    with pytest.raises(ReviewError, match=re.escape(str(ERR_REASON_REQUIRED))):
        services.submission_revoke_approval(submission_id=approved.pk, actor=senior_reviewer, reason_codes=[])
    services.submission_revoke_approval(submission_id=approved.pk, actor=senior_reviewer, reason_codes=["IMG_BLURRY"])

    with pytest.raises(ReviewError, match=re.escape(str(ERR_NOT_REVOCABLE))):
        services.submission_revoke_approval(
            submission_id=approved.pk, actor=senior_reviewer, reason_codes=["IMG_BLURRY"]
        )
    rejected = decide(submit(photos=None), senior_reviewer, "reject", ["IMG_DARK"])
    with pytest.raises(ReviewError, match=re.escape(str(ERR_NOT_REVOCABLE))):
        services.submission_revoke_approval(
            submission_id=rejected.pk, actor=senior_reviewer, reason_codes=["IMG_BLURRY"]
        )


def test_after_a_retryable_revocation_the_customer_resubmits_and_approval_restores_the_lines(
    approved, senior_reviewer, submit, decide, reviewer
):
    customer = approved.user
    validity_before = Line.objects.get(owner=customer).validity_end
    services.submission_revoke_approval(submission_id=approved.pk, actor=senior_reviewer, reason_codes=["IMG_BLURRY"])
    customer.refresh_from_db()  # the approval's in-memory customer is verified; the revocation changed the row
    assert services.submission_blocker(user=customer) is None

    decide(submit(customer, photos=None), reviewer, "approve")

    line = Line.objects.get(owner=customer)
    assert line.status == Line.Status.ACTIVE
    assert line.validity_end == validity_before  # the paid validity is kept, not restarted


def test_a_final_revocation_blocks_online_resubmission(approved, senior_reviewer):
    services.submission_revoke_approval(
        submission_id=approved.pk, actor=senior_reviewer, reason_codes=["FACE_MISMATCH"]
    )

    approved.user.refresh_from_db()  # the approval's in-memory customer is verified; the revocation changed the row
    assert services.submission_blocker(user=approved.user) == str(ERR_FINAL_BLOCK)


def test_the_customer_sees_the_revocation_and_its_reason(client, approved, senior_reviewer, english):
    services.submission_revoke_approval(submission_id=approved.pk, actor=senior_reviewer, reason_codes=["IMG_BLURRY"])
    english.force_login(approved.user)

    page = english.get("/verification/").content.decode()

    assert 'data-status="revoked"' in page
    assert "withdrawn after a further check" in page
    assert 'data-testid="resubmit"' in page


def test_revoke_view_without_a_reason_changes_nothing(client, approved, senior_reviewer, english):
    english.force_login(senior_reviewer)

    response = english.post(reverse("reviews:revoke", args=[approved.pk]), {"reason_codes": []})

    assert response.status_code == 400
    assert "Choose at least one reason to revoke." in response.content.decode()
    assert Submission.objects.get(pk=approved.pk).status == Submission.Status.APPROVED


def test_the_revoke_form_shows_only_to_seniors_on_an_approved_submission(client, approved, reviewer, senior_reviewer):
    client.force_login(reviewer)
    assert 'data-testid="revoke"' not in client.get(reverse("reviews:review", args=[approved.pk])).content.decode()
    assert client.post(reverse("reviews:revoke", args=[approved.pk]), {"reason_codes": "IMG_BLURRY"}).status_code == 403

    client.force_login(senior_reviewer)
    assert 'data-testid="revoke"' in client.get(reverse("reviews:review", args=[approved.pk])).content.decode()
