"""Drawing decided submissions for quality control: called by the decision services, in their transaction."""

import secrets

from django.conf import settings

from reviews.models import QualitySample, Submission

# One draw in QC_DRAW_SCALE: a share as small as 0.01 % can be set.
QC_DRAW_SCALE = 10_000


def quality_sample_drawn(share: float) -> bool:
    """Whether this decision is drawn, with probability ``share`` (0 never, 1 always)."""
    return secrets.randbelow(QC_DRAW_SCALE) < round(max(0.0, min(1.0, share)) * QC_DRAW_SCALE)


def submission_sample_for_quality_check(submission: Submission, *, now) -> QualitySample | None:
    """Draw a just-decided, locked submission for the senior reviewers' sample queue (QC_SAMPLE_SHARE).

    Called by the decision services inside their transaction, after the decision is written:
    a decision that rolls back leaves no sample.
    """
    if not quality_sample_drawn(settings.QC_SAMPLE_SHARE):
        return None
    return QualitySample.objects.create(
        submission=submission, decision=submission.status, decided_by_id=submission.decided_by_id, sampled_at=now
    )
