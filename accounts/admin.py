from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef
from django.db.models.constants import LOOKUP_SEP
from django.utils.translation import gettext_lazy as _

from accounts.models import (
    AuditEvent,
    Line,
    Notification,
    NumberQuarantine,
    OneTimeCode,
    OutboundMessage,
    ServicePoint,
    SmsDailyCount,
    User,
)
from accounts.services.users import STAFF_ROLES
from heyon_site.admin_tools import (
    CsvExportMixin,
    EstimatedCountPaginator,
    ExactSearchMixin,
    LargeTableAdmin,
    ServicePointScopedMixin,
    export_as_csv,
)


class ReadOnlyAdmin(LargeTableAdmin):
    """For append-only records: visible, searchable, never edited or deleted."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SecretFieldsAdmin(ReadOnlyAdmin):
    """Rows holding a secret staff must never read: the fields are left out of every view, and a
    changelist URL may not filter on them either (``?pending_code__startswith=1`` would reveal a
    code digit by digit through the row counts)."""

    secret_fields: tuple[str, ...] = ()

    def get_exclude(self, request, obj=None):
        return [*(super().get_exclude(request, obj) or ()), *self.secret_fields]

    def lookup_allowed(self, lookup, value, request=None):
        if lookup.split(LOOKUP_SEP)[0] in self.secret_fields:
            return False
        return super().lookup_allowed(lookup, value, request)


class RoleFilter(admin.SimpleListFilter):
    """Staff by role (group) without Django's many-to-many filter, which makes the changelist
    SELECT DISTINCT over every user and reads the groups table on each view."""

    title = Group._meta.verbose_name_plural
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return [(role, role) for role in STAFF_ROLES]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        member = User.groups.through.objects.filter(user_id=OuterRef("pk"), group__name=self.value())
        return queryset.filter(Exists(member))


@admin.register(User)
class UserAdmin(CsvExportMixin, ExactSearchMixin, DjangoUserAdmin):
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    actions = [export_as_csv]
    # Newest first by id (ids follow sign-up): sorting a million rows by date_joined has no index.
    ordering = ["-pk"]
    list_display = ["__str__", "phone", "email", "is_staff", "service_point", "real_name_verified_at", "date_joined"]
    list_filter = ["is_staff", "is_active", RoleFilter, "service_point"]
    list_select_related = ["service_point"]
    # Whole values only, answered by the unique indexes (a substring search scans every user).
    search_fields = ["=username", "=phone", "=email"]
    readonly_fields = [
        "phone_verified_at",
        "real_name_verified_at",
        "last_login",
        "date_joined",
        "email_verified_at",
        "pending_email",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "username",
                    "phone",
                    "email",
                    "email_verified_at",
                    "pending_email",
                    "display_name",
                    "password",
                ]
            },
        ),
        (
            _("Status"),
            {"fields": ["is_active", "phone_verified_at", "real_name_verified_at", "last_login", "date_joined"]},
        ),
        (_("Staff"), {"fields": ["is_staff", "is_superuser", "groups", "service_point"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["username", "phone", "email", "usable_password", "password1", "password2"],
            },
        )
    ]

    def get_readonly_fields(self, request, obj=None):
        # A customer's email is theirs once they prove it, on their email page or in the app
        # (accounts.services.emails); typed here it would reach the account unproved.
        if obj is not None and not obj.is_staff:
            return [*super().get_readonly_fields(request, obj), "email"]
        return super().get_readonly_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if "email" in form.changed_data:
            # A staff member's email is the administrator's word, never a proof.
            obj.email_verified_at = None
        super().save_model(request, obj, form, change)


@admin.register(ServicePoint)
class ServicePointAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "city", "phone", "is_active"]
    list_filter = ["kind", "is_active", "city"]
    search_fields = ["code", "name", "city", "address"]


@admin.register(Line)
class LineAdmin(ServicePointScopedMixin, LargeTableAdmin):
    # Lines belong to no store: store staff look one up at the desk, not through every customer's.
    list_display = ["msisdn", "iccid", "status", "owner", "validity_end", "activation_code_hint"]
    list_filter = ["status"]
    list_select_related = ["owner"]
    search_fields = ["=msisdn", "=iccid"]
    raw_id_fields = ["owner"]
    # Status changes go through services (activation, cancellation), never a form field.
    readonly_fields = [
        "status",
        "owner",
        "activation_code_hint",
        "activation_code_used_at",
        "attached_at",
        "activated_at",
        "validity_end",
        "created_at",
    ]

    def has_add_permission(self, request):
        # Lines are created with a fresh activation code by seed or import commands.
        return False

    def has_delete_permission(self, request, obj=None):
        # A line leaves service through cancellation (which quarantines the number), never by deletion.
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    # ``subject`` is rendered in the reader's language from the message's kind and parameters.
    list_display = ["subject", "kind", "user", "created_at", "read_at"]
    list_select_related = ["user"]
    search_fields = ["=user__phone"]


@admin.register(OutboundMessage)
class OutboundMessageAdmin(SecretFieldsAdmin):
    secret_fields = ("pending_code",)
    list_display = ["channel", "recipient", "kind", "status", "attempts", "next_attempt_at", "sent_at", "delivery"]
    list_filter = ["channel", "status", "delivery"]
    search_fields = ["=recipient"]


@admin.register(SmsDailyCount)
class SmsDailyCountAdmin(ReadOnlyAdmin):
    list_display = ["recipient", "day", "count"]
    search_fields = ["=recipient"]


@admin.register(OneTimeCode)
class OneTimeCodeAdmin(SecretFieldsAdmin):
    secret_fields = ("code_hash", "registration_password")
    list_display = ["purpose", "channel", "destination", "created_at", "expires_at", "used_at", "failed_attempts"]
    list_filter = ["purpose", "channel"]
    search_fields = ["destination"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "verb", "target_type", "target_id", "subject_user"]
    # No list_filter on verb or target_type: on a free-text column Django would run a
    # SELECT DISTINCT over the whole table on every view. Search by exact verb instead.
    list_select_related = ["actor", "subject_user"]
    search_fields = ["=verb", "=target_id", "=actor__username"]


@admin.register(NumberQuarantine)
class NumberQuarantineAdmin(ReadOnlyAdmin):
    list_display = ["msisdn", "until", "created_at"]
    search_fields = ["=msisdn"]
