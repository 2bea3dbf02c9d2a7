from accounts.models import AuditEvent


def audit_record(*, actor, verb: str, target, subject_user=None, data: dict | None = None) -> AuditEvent:
    """Append an audit event. Call inside the transaction of the change it records."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        verb=verb,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        subject_user=subject_user,
        data=data or {},
    )
