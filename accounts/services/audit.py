from accounts.models import AuditEvent
from heyon_site.bulk import insert_columns


def audit_event(
    *, actor, verb: str, target, subject_user=None, subject_user_id=None, data: dict | None = None
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


def audit_record(*, actor, verb: str, target, subject_user=None, data: dict | None = None) -> AuditEvent:
    """Append an audit event. Call inside the transaction of the change it records."""
    event = audit_event(actor=actor, verb=verb, target=target, subject_user=subject_user, data=data)
    event.save(force_insert=True)
    return event


def audit_record_events(events: list[AuditEvent]) -> int:
    """Append events of one change (of any verbs) in one INSERT, in the order given.

    Written from columns (heyon_site.bulk.insert_columns) rather than by bulk_create,
    which costs several times more for the few events of a decision; the events stay unsaved.
    """
    if events:
        insert_columns(AuditEvent, {name: [getattr(event, name) for event in events] for name in _EVENT_COLUMNS})
    return len(events)


_EVENT_COLUMNS = [field.attname for field in AuditEvent._meta.concrete_fields if not field.primary_key]


def audit_record_many(*, actor, verb: str, targets, subject_user_ids=None, data=None) -> int:
    """Bulk audit events for batch jobs: one per target; ``data`` maps a target's pk to its details."""
    subject_user_ids = subject_user_ids or [None] * len(targets)
    data = data or {}
    return audit_record_events(
        [
            audit_event(actor=actor, verb=verb, target=target, subject_user_id=subject_id, data=data.get(target.pk, {}))
            for target, subject_id in zip(targets, subject_user_ids, strict=True)
        ]
    )
