"""The admin site: every change made through Django admin also lands in the audit trail.

Django's own admin log (LogEntry) stays; staff read what happened to a customer, line,
submission or order on the audit page, which reads ``AuditEvent`` only. The site mixes
``AuditedAdminMixin`` into every ModelAdmin registered with it, Django's own included,
so a new admin cannot forget to.
"""

from django.contrib import admin

from accounts.models import User
from accounts.services.audit import audit_record


def customer_concerned(obj) -> User | None:
    """The customer a record is about, if any (the user, a line's owner, an order's customer)."""
    if isinstance(obj, User):
        return None if obj.is_staff else obj
    for path in ("owner", "user", "customer", "line.owner"):
        value = obj
        for name in path.split("."):
            value = getattr(value, name, None)
        if isinstance(value, User):
            return value
    return None


class AuditedAdminMixin:
    def log_addition(self, request, obj, message):
        self._audit(request, obj, "admin.added", message)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._audit(request, obj, "admin.changed", message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            self._audit(request, obj, "admin.deleted", [])
        return super().log_deletions(request, queryset)

    def _audit(self, request, obj, verb: str, message) -> None:
        audit_record(
            actor=request.user,
            verb=verb,
            target=obj,
            subject_user=customer_concerned(obj),
            data={"record": str(obj)[:200], "change": message if isinstance(message, list) else str(message)},
        )


class AuditedAdminSite(admin.AdminSite):
    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        audited = type(admin_class.__name__, (AuditedAdminMixin, admin_class), {"__module__": admin_class.__module__})
        return super().register(model_or_iterable, audited, **options)
