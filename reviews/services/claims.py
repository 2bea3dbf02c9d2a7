"""The review queue's claims: a reviewer holds a submission for a lease while deciding it."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AuditEvent, User
from reviews import selectors
from reviews.models import Submission, SubmissionEvent

from .errors import (
    ERR_ALREADY_DECIDED,
    ERR_CLAIM_TAKEN,
    ERR_ESCALATED_SENIOR_ONLY,
    ERR_FOUR_EYES_SAME_PERSON,
    ERR_NOT_CLAIMED_BY_YOU,
    ERR_NOTHING_TO_RELEASE,
    ERR_OWN_VERIFICATION,
    ReviewError,
)
from .history import submission_audit_record, submission_event_record

ESCALATED_PERMISSION = selectors.ESCALATED_PERMISSION


def _lease(now):
    return now + timedelta(minutes=settings.REVIEW_CLAIM_MINUTES)


def _claim(submission: Submission, *, actor: User, lease) -> Submission:
    """Give the locked submission to ``actor`` until ``lease``."""
    from_status = submission.status
    submission.status = Submission.Status.IN_REVIEW
    submission.claimed_by = actor
    submission.claim_expires_at = lease
    submission.save(update_fields=["status", "claimed_by", "claim_expires_at"])
    submission_event_record(
        submission, actor=actor, verb="claimed", from_status=from_status, to_status=submission.status
    )
    return submission


def submission_claim_next(*, actor: User, filters: dict | None = None) -> Submission | None:
    """Give the reviewer the oldest-due submission nobody else holds, for a lease.

    A reviewer who already holds a live claim gets that one back. The candidate is read
    with ``FOR UPDATE SKIP LOCKED``: a row another reviewer is claiming at this moment is
    passed over, not waited for, so two reviewers never get the same submission.
    """
    now = timezone.now()
    held = selectors.claims_held(reviewer_id=actor.pk, now=now)
    filters = {**(filters or {}), "hide_escalated": not actor.has_perm(ESCALATED_PERMISSION)}
    with transaction.atomic():
        # Nothing is claimable while the reviewer holds a claim: then (or when the queue is
        # empty) the second read gives the held one back, so the usual claim is one read.
        candidates = selectors.claimable_submissions(filters=filters, now=now).exclude(Exists(held))
        # Four eyes: a proposed final rejection goes to another senior reviewer, never back to its proposer.
        candidates = candidates.exclude(final_rejection_proposed_by=actor)
        # A member of staff who is a customer too never gets their own verification.
        candidates = candidates.exclude(user=actor)
        submission = candidates.select_for_update(skip_locked=True).first()
        if submission is None:
            return held.first()
        return _claim(submission, actor=actor, lease=_lease(now))


def submission_claim(*, submission_id: int, actor: User) -> Submission:
    """Claim one particular submission (opened from the queue list); renew the lease if already held."""
    now = timezone.now()
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission_id)
        if submission.claimed_by_id == actor.pk and submission.claim_is_live(now):
            submission.claim_expires_at = _lease(now)
            submission.save(update_fields=["claim_expires_at"])
            return submission
        if not submission.is_open:
            raise ReviewError(ERR_ALREADY_DECIDED)
        if submission.user_id == actor.pk:
            raise ReviewError(ERR_OWN_VERIFICATION)
        if submission.is_escalated and not actor.has_perm(ESCALATED_PERMISSION):
            raise ReviewError(ERR_ESCALATED_SENIOR_ONLY)
        if submission.final_rejection_proposed_by_id == actor.pk:
            raise ReviewError(ERR_FOUR_EYES_SAME_PERSON)
        if submission.claim_is_live(now):
            raise ReviewError(_("%(name)s is reviewing this submission right now.") % {"name": submission.claimed_by})
        return _claim(submission, actor=actor, lease=_lease(now))


def submission_release(*, submission_id: int, actor: User) -> Submission:
    """Give a claimed submission back to the queue."""
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission_id)
        if submission.status != Submission.Status.IN_REVIEW or submission.claimed_by_id != actor.pk:
            raise ReviewError(ERR_NOTHING_TO_RELEASE)
        _return_to_queue(submission, actor=actor, verb="released")
    return submission


def _return_to_queue(submission: Submission, *, actor, verb: str) -> None:
    """Make a locked, claimed submission pending again and record why (``verb``)."""
    submission.status = Submission.Status.PENDING
    submission.claimed_by = None
    submission.claim_expires_at = None
    submission.save(update_fields=["status", "claimed_by", "claim_expires_at"])
    submission_event_record(
        submission,
        actor=actor,
        verb=verb,
        from_status=Submission.Status.IN_REVIEW,
        to_status=Submission.Status.PENDING,
    )


def submissions_release_expired_claims() -> int:
    """Put submissions whose lease ran out back to pending (they are claimable anyway)."""
    now = timezone.now()
    expired = Submission.objects.filter(status=Submission.Status.IN_REVIEW, claim_expires_at__lte=now)
    count = 0
    for submission_id in expired.values_list("pk", flat=True):
        with transaction.atomic():
            # Claimed again since the list was read: leave it to its new reviewer.
            submission = expired.select_for_update().filter(pk=submission_id).first()
            if submission is None:
                continue
            _return_to_queue(submission, actor=None, verb="lease_expired")
            count += 1
    return count


def _lapsed_claimer_id(submission: Submission):
    """Whose claim the lease job ended last, if nothing else has happened to the submission since; else None."""
    events = SubmissionEvent.objects.filter(submission_id=submission.pk).order_by("-created_at", "-pk")
    if events.values_list("verb", flat=True).first() != "lease_expired":
        return None
    return events.filter(verb="claimed").values_list("actor_id", flat=True).first()


def _refusal(submission: Submission, actor: User) -> ReviewError:
    """Why ``actor`` may not act on a submission they do not hold: lost to someone else, or never theirs."""
    had_it = SubmissionEvent.objects.filter(submission_id=submission.pk, verb="claimed", actor=actor).exists()
    return ReviewError(ERR_CLAIM_TAKEN if had_it else ERR_NOT_CLAIMED_BY_YOU)


def _hold_for(submission: Submission, *, actor: User, now) -> Submission:
    """Make sure ``actor`` holds the locked, open ``submission``: keep their claim or take it back.

    A claim of theirs is kept, live or run out (nobody else has claimed it since, or it
    would name them). A claim of theirs that the lease job has put back in the queue is
    taken back, as long as nothing has happened to it since: the reviewer was still working
    on it. Anything else is refused: someone else holds it or held it after them, or the
    reviewer gave it back themselves (put back, escalated). Nobody decides their own verification.
    """
    if submission.user_id == actor.pk:
        raise ReviewError(ERR_OWN_VERIFICATION)
    if submission.final_rejection_proposed_by_id == actor.pk:
        raise ReviewError(ERR_FOUR_EYES_SAME_PERSON)
    if submission.claimed_by_id == actor.pk and submission.status == Submission.Status.IN_REVIEW:
        return submission
    if submission.status != Submission.Status.PENDING or _lapsed_claimer_id(submission) != actor.pk:
        raise _refusal(submission, actor)
    return _claim(submission, actor=actor, lease=_lease(now))


def submission_claim_renew(*, submission_id: int, actor: User) -> Submission:
    """Extend the reviewer's claim while they work on the review screen.

    Renewing a live claim is not a change of state: it stays out of the submission's
    history, and the audit trail notes it at most once per lease length (the screen renews
    every two minutes of work), so a claim held for an hour shows there as a few lines.
    Taking back a claim that ran out is recorded as a claim, like any other.
    """
    now = timezone.now()
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission_id)
        if not submission.is_open:
            raise ReviewError(ERR_ALREADY_DECIDED)
        if submission.is_escalated and not actor.has_perm(ESCALATED_PERMISSION):
            raise ReviewError(ERR_ESCALATED_SENIOR_ONLY)
        submission = _hold_for(submission, actor=actor, now=now)
        submission.claim_expires_at = _lease(now)
        submission.save(update_fields=["claim_expires_at"])
        last_noted = (
            AuditEvent.objects.filter(
                target_type=Submission._meta.label_lower,
                target_id=str(submission.pk),
                actor=actor,
                verb__in=["submission.claimed", "submission.claim_renewed"],
            )
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        if last_noted is None or now - last_noted >= timedelta(minutes=settings.REVIEW_CLAIM_MINUTES):
            submission_audit_record(
                submission, actor=actor, verb="claim_renewed", data={"until": submission.claim_expires_at.isoformat()}
            )
    return submission


def submission_locked_for_decision(*, submission_id: int, actor: User, now, lock_customer: bool = False) -> Submission:
    """Lock the submission; refuse unless it is still open and ``actor`` holds it (see ``_hold_for``).

    A decision typed while the claim ran out is applied if nobody else has claimed the
    submission since: the claim is taken back under the same lock, in the decision's
    transaction. The customer comes with it; ``lock_customer`` locks their row too (an
    approval changes it). Raises ``Submission.DoesNotExist`` for an unknown id: the
    locking read is the existence check.
    """
    rows = Submission.objects.select_related("user")
    # NO KEY UPDATE: the customer is locked against other writers of their row, not against rows that
    # merely refer to it (a renewal's audit row of a line this approval then waits for: a deadlock).
    rows = rows.select_for_update(no_key=True) if lock_customer else rows.select_for_update(of=("self",))
    submission = rows.get(pk=submission_id)
    if not submission.is_open:
        raise ReviewError(ERR_ALREADY_DECIDED)
    return _hold_for(submission, actor=actor, now=now)
