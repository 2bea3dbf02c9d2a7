"""The audit trail: who did what to which object, appended in the transaction of the change."""

from collections.abc import Iterable, Sequence

from django.db import models

from accounts.models import AuditEvent, User
from heyon_site.bulk import rows_insert


def audit_event(
    *,
    actor: User | None,
    verb: str,
    target: models.Model,
    subject_user: User | None = None,
    subject_user_id: int | None = None,
    data: dict | None = None,
) -> AuditEvent:
    """Return an unsaved audit event, for ``audit_record_events`` to write with others.

    The customer concerned is ``subject_user``, or by id ``subject_user_id`` (batch jobs
    have ids, not users).
    """
    event = AuditEvent(
        actor=actor if getattr(actor, "pk", None) else None,
        verb=verb,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        subject_user=subject_user,
        data=data or {},
    )
    if subject_user is None:
        event.subject_user_id = subject_user_id
    return event


def audit_record(
    *, actor: User | None, verb: str, target: models.Model, subject_user: User | None = None, data: dict | None = None
) -> AuditEvent:
    """Append an audit event. Call inside the transaction of the change it records."""
    event = audit_event(actor=actor, verb=verb, target=target, subject_user=subject_user, data=data)
    event.save(force_insert=True)
    return event


def audit_record_events(events: Sequence[AuditEvent]) -> int:
    """Append events of one change (of any verbs) in one INSERT (a batch job's many by COPY), in the order given.

    The events get no ids back from a COPY: nothing reads them after they are written.
    """
    rows_insert(AuditEvent, events)
    return len(events)


def audit_record_many(
    *,
    actor: User | None,
    verb: str,
    targets: Sequence[models.Model],
    subject_user_ids: Iterable[int | None] | None = None,
    data: dict | None = None,
) -> int:
    """Bulk audit events for batch jobs: one per target; ``data`` maps a target's pk to its details."""
    subject_user_ids = [None] * len(targets) if subject_user_ids is None else subject_user_ids
    data = data or {}
    return audit_record_events(
        [
            audit_event(actor=actor, verb=verb, target=target, subject_user_id=subject_id, data=data.get(target.pk, {}))
            for target, subject_id in zip(targets, subject_user_ids, strict=True)
        ]
    )
