from datetime import date, datetime, time

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdmin
from billing import services
from billing.models import (
    Discrepancy,
    LedgerEntry,
    LineService,
    Order,
    Payment,
    Plan,
    ProviderNotification,
    Receipt,
    Reconciliation,
    Refund,
    UsageImport,
    UsageRecord,
    Wallet,
)
from heyon_site.admin_tools import LargeTableAdmin, ServicePointScopedMixin


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    """Saving a changed plan publishes a new version; orders keep pointing at theirs."""

    list_display = [
        "code",
        "version",
        "name_zh",
        "monthly_price",
        "data_mb",
        "voice_minutes",
        "is_current",
        "is_active",
    ]
    list_filter = ["is_current", "is_active"]
    search_fields = ["code", "name_zh", "name_en"]
    readonly_fields = ["version", "is_current", "created_at"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # A change publishes a new version (obj becomes it); the edited version stays as it was sold.
        services.plan_version_create(actor=request.user, plan=obj)


@admin.register(LineService)
class LineServiceAdmin(ServicePointScopedMixin, LargeTableAdmin):
    list_display = ["line", "plan", "data_left_mb", "voice_left_minutes", "auto_renew", "auto_renew_failures"]
    list_filter = ["auto_renew"]
    list_select_related = ["line", "plan"]
    search_fields = ["=line__msisdn"]
    # Every field is read-only: customers switch auto-renew in the account centre (an audited
    # service), cancellation switches it off, and allowances move only with orders and usage.
    readonly_fields = ["line", "plan", "data_left_mb", "voice_left_minutes", "sms_left", "auto_renew",
                       "auto_renew_method", "auto_renew_term_months", "auto_renew_next_attempt_at",
                       "auto_renew_failures", "expiry_warning_sent_for"]  # fmt: skip

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # The allowance left on a line is what the customer paid for; it ends with the line, not here.
        return False


@admin.register(Wallet)
class WalletAdmin(ServicePointScopedMixin, ReadOnlyAdmin):
    list_display = ["user", "balance", "currency", "updated_at"]
    list_select_related = ["user"]
    search_fields = ["=user__phone", "=user__email"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ServicePointScopedMixin, ReadOnlyAdmin):
    list_display = ["created_at", "wallet", "kind", "amount", "balance_after", "reference", "actor"]
    list_filter = ["kind"]
    list_select_related = ["wallet__user", "actor"]
    search_fields = ["=reference", "=wallet__user__phone"]


@admin.display(description=_("refund"))
def refund_given_back_status(payment: Payment) -> str:
    """How the refund of a payment given back stands: ``refunded`` is said when it is only asked for."""
    refund = payment.refund_given_back
    return refund.get_status_display() if refund else "—"


class PaymentInline(admin.TabularInline):
    model = Payment
    fields = [
        "out_trade_no", "method", "status", refund_given_back_status, "amount", "provider_transaction_id",
        "failure_reason", "created_at",
    ]  # fmt: skip
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("refunds")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ServicePointScopedMixin, ReadOnlyAdmin):
    service_point_path = "service_point"
    list_display = ["number", "user", "kind", "channel", "status", "amount", "line", "created_at", "paid_at"]
    list_filter = ["status", "kind", "channel"]
    list_select_related = ["user", "line"]
    search_fields = ["=number", "=line__msisdn", "=user__phone", "=payments__out_trade_no"]
    inlines = [PaymentInline]


@admin.register(Payment)
class PaymentAdmin(ServicePointScopedMixin, ReadOnlyAdmin):
    service_point_path = "order__service_point"
    list_display = ["out_trade_no", "order", "method", "status", refund_given_back_status, "amount", "created_at"]
    # Successes the provider reported after we had recorded a failure: worth a look on their own.
    list_filter = ["method", "status", ("failure_overturned_at", admin.EmptyFieldListFilter)]
    list_select_related = ["order"]
    search_fields = ["=out_trade_no", "=order__number", "=provider_transaction_id"]
    readonly_fields = [refund_given_back_status]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("refunds")


@admin.register(Receipt)
class ReceiptAdmin(ServicePointScopedMixin, ReadOnlyAdmin):
    service_point_path = "order__service_point"
    list_display = ["number", "user", "amount", "payment_method", "issued_at"]
    list_select_related = ["user"]
    search_fields = ["=number", "=order__number", "=user__phone"]


@admin.register(ProviderNotification)
class ProviderNotificationAdmin(ServicePointScopedMixin, ReadOnlyAdmin):
    list_display = ["provider", "event_id", "out_trade_no", "received_at", "processed_at"]
    search_fields = ["=event_id", "=out_trade_no"]


@admin.register(UsageImport)
class UsageImportAdmin(ServicePointScopedMixin, ReadOnlyAdmin):
    list_display = ["file_name", "record_count", "imported_at"]


class UsageMonthFilter(admin.SimpleListFilter):
    """One local month of usage records at a time, the current one by default (no "all").

    On PostgreSQL a month is one partition: the changelist, its estimated count and a search
    by number read that partition only, however many months are kept.
    """

    title = _("month")
    parameter_name = "month"
    months_offered = 24

    def lookups(self, request, model_admin):
        this_month = timezone.localdate().replace(day=1)
        return [(f"{month:%Y-%m}", f"{month:%Y-%m}") for month in _months_back(this_month, self.months_offered)]

    def choices(self, changelist):
        # No "All" entry: every choice is one month, and no choice means this month.
        current = self.value() or f"{timezone.localdate():%Y-%m}"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        try:
            month = datetime.strptime(self.value() or "", "%Y-%m").date()
        except ValueError:
            month = timezone.localdate().replace(day=1)
        start = timezone.make_aware(datetime.combine(month, time.min))
        end = timezone.make_aware(datetime.combine(_months_back(month, -1)[-1], time.min))
        return queryset.filter(occurred_at__gte=start, occurred_at__lt=end)


def _months_back(month: date, count: int) -> list[date]:
    """``count`` months from ``month`` backwards (a negative count: the month after ``month``)."""
    if count < 0:
        index = month.year * 12 + month.month
        return [date(index // 12, index % 12 + 1, 1)]
    months = []
    for offset in range(count):
        index = month.year * 12 + month.month - 1 - offset
        months.append(date(index // 12, index % 12 + 1, 1))
    return months


@admin.register(UsageRecord)
class UsageRecordAdmin(ServicePointScopedMixin, ReadOnlyAdmin):
    """The largest table: one month at a time, newest import first, an estimated count, no sorting by column."""

    list_display = ["line", "kind", "quantity", "occurred_at", "source"]
    list_filter = [UsageMonthFilter, "kind"]
    list_select_related = ["line", "source"]
    search_fields = ["=line__msisdn"]
    # (id, occurred_at) is each partition's primary key: the newest rows of a month come
    # straight off its index; ordering by a column would sort the whole month.
    ordering = ["-id"]
    sortable_by = []


admin.site.site_header = _("Heyon back-office")
admin.site.site_title = _("Heyon back-office")


@admin.register(Refund)
class RefundAdmin(ServicePointScopedMixin, ReadOnlyAdmin):
    service_point_path = "payment__order__service_point"
    list_display = ["out_refund_no", "payment", "reason", "status", "amount", "created_at", "confirmed_at"]
    list_filter = ["status", "reason"]
    list_select_related = ["payment"]
    search_fields = ["=out_refund_no", "=payment__out_trade_no", "=provider_refund_id", "=reference"]


class DiscrepancyInline(admin.TabularInline):
    model = Discrepancy
    fields = ["kind", "out_trade_no", "out_refund_no", "our_amount", "provider_amount", "resolved_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Reconciliation)
class ReconciliationAdmin(ServicePointScopedMixin, ReadOnlyAdmin):
    list_display = ["provider", "day", "line_count", "matched_count", "ran_at"]
    list_filter = ["provider"]
    date_hierarchy = "day"
    inlines = [DiscrepancyInline]


@admin.action(description=_("Mark as resolved (checked with the provider's statement)"))
def resolve_discrepancies(modeladmin, request, queryset):
    for discrepancy_id in queryset.filter(resolved_at__isnull=True).values_list("pk", flat=True):
        services.discrepancy_resolve(
            discrepancy_id=discrepancy_id, actor=request.user, note=str(_("Resolved in admin after checking."))
        )


@admin.register(Discrepancy)
class DiscrepancyAdmin(ServicePointScopedMixin, ReadOnlyAdmin):
    """Open discrepancies first; staff resolve them with the action, which records who and when."""

    list_display = ["kind", "reconciliation", "out_trade_no", "out_refund_no", "our_amount", "provider_amount",
                    "resolved_at"]  # fmt: skip
    list_filter = ["kind", ("resolved_at", admin.EmptyFieldListFilter), "reconciliation__provider"]
    list_select_related = ["reconciliation"]
    search_fields = ["=out_trade_no", "=out_refund_no", "=transaction_id"]
    actions = [resolve_discrepancies]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("billing.change_discrepancy"):
            actions.pop("resolve_discrepancies", None)
        return actions
