"""The one writer of a submission's history and of its staff audit trail.

Every event of a submission goes to both: ``SubmissionEvent`` is the submission's own
structured history (the review screen and the admin show it), ``AuditEvent`` is what
staff read on the audit page for everything that happened to a customer. Writing both
here means no path can write one without the other.
"""

from accounts.services.audit import audit_event, audit_record_events
from reviews.models import Submission, SubmissionEvent


def _data(*, from_status: str = "", to_status: str = "", reasons=(), note: str = "", extra: dict | None = None):
    data = {"from": from_status, "to": to_status, "reason_codes": list(reasons), "note": note, **(extra or {})}
    return {key: value for key, value in data.items() if value not in ("", [], None)}


def submission_event_record(
    submission: Submission,
    *,
    actor,
    verb: str,
    from_status: str = "",
    to_status: str = "",
    reasons=(),
    message: str = "",
    note: str = "",
    data: dict | None = None,
    audit_later: list | None = None,
) -> SubmissionEvent:
    """Append ``verb`` to the submission's history and, as ``submission.<verb>``, to the audit trail.

    ``submission`` needs only its ``pk`` and ``user_id``. Call inside the transaction of the
    change it records. ``message`` (what the customer was told) stays out of the audit trail;
    ``data`` adds details to the audit event only. ``audit_later``: the audit event is
    appended to this list instead, for the caller to write in the same transaction with the
    other events of the change (one INSERT; an approval's go with accounts' own).
    """
    actor = actor if getattr(actor, "pk", None) else None
    event = SubmissionEvent.objects.create(
        submission_id=submission.pk,
        actor=actor,
        verb=verb,
        from_status=from_status,
        to_status=to_status,
        reason_codes=list(reasons),
        customer_message=message,
        internal_note=note,
    )
    audit = _submission_audit_event(
        submission,
        actor=actor,
        verb=verb,
        data=_data(from_status=from_status, to_status=to_status, reasons=reasons, note=note, extra=data),
    )
    if audit_later is None:
        audit_record_events([audit])
    else:
        audit_later.append(audit)
    return event


def _submission_audit_event(submission: Submission, *, actor, verb: str, data: dict | None):
    return audit_event(
        actor=actor, verb=f"submission.{verb}", target=submission, subject_user_id=submission.user_id, data=data
    )


def submission_audit_record(submission: Submission, *, actor, verb: str, data: dict | None = None) -> None:
    """Append ``submission.<verb>`` to the audit trail only.

    For reads of personal data (a photo, the full ID number): audited, but not part of the
    submission's history. Changes go through ``submission_event_record``.
    """
    audit_record_events([_submission_audit_event(submission, actor=actor, verb=verb, data=data)])
