"""Reads for the billing pages and for the account centre."""

from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Max, OuterRef, Q, Subquery, Sum, TextField
from django.db.models.functions import Cast, Concat, TruncMonth
from django.utils import timezone

from accounts.models import Line
from billing.models import LedgerEntry, LineService, Order, Payment, Plan, Receipt, UsageImport, UsageRecord, Wallet
from heyon_site.state_rows import first_rows, state_row


def wallet_balance(*, user) -> Decimal:
    return Wallet.objects.filter(user=user).values_list("balance", flat=True).first() or Decimal("0.00")


def plans_on_sale():
    return Plan.objects.filter(is_current=True, is_active=True).order_by("sort_order", "monthly_price")


def renewable_lines(*, user):
    from accounts.services.lines import RENEWABLE_STATUSES

    return Line.objects.filter(owner=user, status__in=RENEWABLE_STATUSES).order_by("msisdn")


def line_is_owned_by(*, line_id: int, user) -> bool:
    return Line.objects.filter(pk=line_id, owner=user).exists()


def services_by_line(*, line_ids) -> dict[int, LineService]:
    return LineService.objects.select_related("plan").in_bulk(list(line_ids))


def order_for_owner(*, number: str, user):
    return (
        Order.objects.select_related("line", "plan", "receipt")
        .prefetch_related("payments")
        .filter(number=number, user=user)
        .first()
    )


def recent_orders(*, user, limit: int = 10):
    return Order.objects.filter(user=user).select_related("line", "plan", "receipt").order_by("-created_at")[:limit]


def recent_ledger(*, user, limit: int = 10):
    return LedgerEntry.objects.filter(wallet__user=user).order_by("-created_at", "-pk")[:limit]


def receipt_for_viewer(*, number: str, user):
    """The receipt if ``user`` owns it or is staff allowed to view receipts."""
    receipt = Receipt.objects.select_related("order__line", "order__plan", "user").filter(number=number).first()
    if receipt is None:
        return None
    if receipt.user_id == user.pk or (user.is_staff and user.has_perm("billing.view_receipt")):
        return receipt
    return None


def usage_by_month(*, user, months: int = 6):
    """Usage per month and type, and money spent per month, for the account centre (two queries)."""
    usage = (
        UsageRecord.objects.filter(line__owner=user)
        .annotate(month=TruncMonth("occurred_at"))
        .values("month", "kind")
        .annotate(total=Sum("quantity"), records=Count("pk"))
        .order_by("-month")
    )
    charges = (
        Order.objects.filter(user=user, status=Order.Status.PAID)
        .annotate(month=TruncMonth("paid_at"))
        .values("month")
        .annotate(total=Sum("amount"))
        .order_by("-month")
    )
    table: dict = defaultdict(lambda: {"data": Decimal(0), "voice": Decimal(0), "sms": Decimal(0), "spent": Decimal(0)})
    for row in usage:
        table[row["month"]][row["kind"]] = row["total"]
    for row in charges:
        table[row["month"]]["spent"] = row["total"]
    return [{"month": month, **values} for month, values in sorted(table.items(), reverse=True)[:months]]


def line_by_number(*, msisdn):
    return Line.objects.select_related("owner").filter(msisdn=msisdn).first()


def open_items_before_cancellation(*, user, line) -> dict:
    """What billing still has open for this customer and line (shown before a cancellation)."""
    open_orders = list(
        Order.objects.filter(user=user, status=Order.Status.OPEN, expires_at__gt=timezone.now())
        .filter(Q(line=line) | Q(kind=Order.Kind.TOP_UP))
        .order_by("created_at")
    )
    unsettled = Payment.objects.filter(
        order__user=user, status__in=[Payment.Status.PENDING, Payment.Status.UNKNOWN]
    ).count()
    return {"balance": wallet_balance(user=user), "open_orders": open_orders, "unsettled_payments": unsettled}


def account_centre_state_rows(*, user_id: int) -> list:
    """What of billing the account centre shows, as querysets of text rows for its cache key.

    The wallet balance, each line's plan, allowances and auto-renew settings, the five
    latest orders with their receipts, the paid orders behind "spent by month", and the
    newest usage import behind the usage table (``heyon_site.state_rows``).
    """
    receipt_number = Subquery(Receipt.objects.filter(order=OuterRef("pk")).values("number")[:1])
    return [
        state_row(Wallet.objects.filter(user_id=user_id), "wallet", "balance"),
        state_row(
            LineService.objects.filter(line__owner_id=user_id),
            "service",
            "line_id",
            "plan_id",
            "data_left_mb",
            "voice_left_minutes",
            "sms_left",
            "auto_renew",
            Concat("auto_renew_method", Cast("auto_renew_term_months", TextField()), output_field=TextField()),
        ),
        state_row(
            first_rows(Order.objects.filter(user_id=user_id).order_by("-created_at", "-pk"), 5),
            "order",
            "pk",
            "status",
            "amount",
            "plan_id",
            "line_id",
            receipt_number,
        ),
        state_row(
            Order.objects.filter(user_id=user_id, status=Order.Status.PAID)
            .values("user_id")
            .annotate(paid_count=Count("pk"), paid_sum=Sum("amount"), last_paid=Max("paid_at"), last_id=Max("pk")),
            "paid",
            "paid_count",
            "paid_sum",
            "last_paid",
            "last_id",
        ),
        # Usage records come only from imported files, and a customer's history may hold
        # thousands: the newest import stands for them all, so no view scans the records.
        state_row(first_rows(UsageImport.objects.order_by("-pk"), 1), "usage", "pk"),
    ]
