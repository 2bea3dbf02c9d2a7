"""Quality control: a share of decisions drawn for a senior's second look, confirmed or overturned once."""

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from reviews.models import QualitySample, ReasonCode, Submission

from .decisions import submission_lift_final_block, submission_revoke_approval
from .errors import (
    ERR_OWN_VERIFICATION,
    ERR_SAMPLE_ALREADY_CHECKED,
    ERR_SAMPLE_CHECK_NOT_ALLOWED,
    ERR_SAMPLE_OWN_DECISION,
    ReviewError,
)
from .history import submission_event_record

CHECK_PERMISSION = "reviews.check_quality_sample"


def _locked_pending_sample(*, sample_id: int, actor: User) -> QualitySample:
    if not actor.has_perm(CHECK_PERMISSION):
        raise ReviewError(ERR_SAMPLE_CHECK_NOT_ALLOWED)
    sample = QualitySample.objects.select_for_update(of=("self",)).select_related("submission").get(pk=sample_id)
    if sample.status != QualitySample.Status.PENDING:
        raise ReviewError(ERR_SAMPLE_ALREADY_CHECKED)
    if sample.decided_by_id == actor.pk:
        raise ReviewError(ERR_SAMPLE_OWN_DECISION)
    # A senior who is a customer too never judges the decision on their own verification.
    if sample.submission.user_id == actor.pk:
        raise ReviewError(ERR_OWN_VERIFICATION)
    return sample


def _close_sample(sample: QualitySample, *, status: str, actor: User, note: str, verb: str) -> QualitySample:
    sample.status = status
    sample.checked_by = actor
    sample.checked_at = timezone.now()
    sample.note = note.strip()
    sample.save(update_fields=["status", "checked_by", "checked_at", "note"])
    submission_event_record(sample.submission, actor=actor, verb=verb, note=sample.note, data={"sample": sample.pk})
    return sample


def quality_sample_confirm(*, sample_id: int, actor: User, note: str = "") -> QualitySample:
    """A senior agrees with the sampled decision."""
    with transaction.atomic():
        sample = _locked_pending_sample(sample_id=sample_id, actor=actor)
        return _close_sample(sample, status=QualitySample.Status.CONFIRMED, actor=actor, note=note, verb="qc_confirmed")


def quality_sample_overturn(
    *, sample_id: int, actor: User, reason_codes=(), message: str = "", note: str = ""
) -> QualitySample:
    """A senior finds the sampled decision wrong, and undoes it through the decision services.

    An approval is revoked (``submission_revoke_approval``: reasons and the customer's message
    are needed, as for any revocation); a rejection with a final reason has its final block
    lifted so the customer may submit again (``submission_lift_final_block``). A retryable
    rejection needs nothing undone: the customer may already submit again. The sample and
    the undoing commit together, or neither does.
    """
    with transaction.atomic():
        sample = _locked_pending_sample(sample_id=sample_id, actor=actor)
        submission = sample.submission  # read with the sample; the undoing below locks it
        if submission.status == Submission.Status.APPROVED:
            submission_revoke_approval(
                submission_id=submission.pk, actor=actor, reason_codes=reason_codes, message=message, note=note
            )
        elif (
            submission.status == Submission.Status.REJECTED
            and submission.final_block_lifted_at is None
            and submission.reasons.filter(kind=ReasonCode.Kind.FINAL).exists()
        ):
            submission_lift_final_block(submission_id=submission.pk, actor=actor, note=note)
        return _close_sample(
            sample, status=QualitySample.Status.OVERTURNED, actor=actor, note=note, verb="qc_overturned"
        )
