"""The admin site: every change made through Django admin also lands in the audit trail.

Django's own admin log (LogEntry) stays; staff read what happened to a customer, line,
submission or order on the audit page, which reads ``AuditEvent`` only. The site mixes
``AuditedAdminMixin`` into every ModelAdmin registered with it, Django's own included,
so a new admin cannot forget to.
"""

from django.contrib import admin

from accounts.forms import AdminLoginForm
from accounts.models import User
from accounts.services.audit import audit_event, audit_record_events


def customer_concerned(obj) -> int | None:
    """The id of the customer a record is about, if any (the user, a line's owner, an order's customer).

    Read from the record's own foreign keys, so no customer row is loaded; only a record
    that hangs off a line (a line's billing service) reads its line.
    """
    if isinstance(obj, User):
        return None if obj.is_staff else obj.pk
    for name in ("owner_id", "user_id", "customer_id"):
        if getattr(obj, name, None):
            return getattr(obj, name)
    return getattr(getattr(obj, "line", None), "owner_id", None)


class AuditedAdminMixin:
    def log_addition(self, request, obj, message):
        audit_record_events([_admin_event(request, obj, "admin.added", message)])
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        audit_record_events([_admin_event(request, obj, "admin.changed", message)])
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        # One INSERT for a whole "delete selected", not one per row.
        audit_record_events([_admin_event(request, obj, "admin.deleted", []) for obj in queryset])
        return super().log_deletions(request, queryset)


def _admin_event(request, obj, verb: str, message):
    return audit_event(
        actor=request.user,
        verb=verb,
        target=obj,
        subject_user_id=customer_concerned(obj),
        data={"record": str(obj)[:200], "change": message if isinstance(message, list) else str(message)},
    )


class AuditedAdminSite(admin.AdminSite):
    login_form = AdminLoginForm

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        audited = type(admin_class.__name__, (AuditedAdminMixin, admin_class), {"__module__": admin_class.__module__})
        return super().register(model_or_iterable, audited, **options)
