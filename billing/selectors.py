"""Reads for the billing pages and for the account centre."""

from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import Line
from billing.models import LedgerEntry, LineService, Order, Payment, Plan, Receipt, UsageImport, UsageRecord, Wallet


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


def account_centre_state_sql(*, user_id: int) -> list[tuple[str, list]]:
    """What of billing the account centre shows, as rows of text for its cache key.

    Each fragment is one ``SELECT tag, c1 … c7`` (text or NULL) for
    ``customers.selectors.account_centre_state``, which unites them in one query: the
    wallet balance, each line's plan, allowances and auto-renew settings, the five latest
    orders with their receipts, the paid orders behind "spent by month", and the newest
    usage import behind the usage table. Anything that changes what the page shows changes a row.
    """
    wallet, service, order = Wallet._meta.db_table, LineService._meta.db_table, Order._meta.db_table
    receipt, usage_import, line = Receipt._meta.db_table, UsageImport._meta.db_table, Line._meta.db_table
    paid = Order.Status.PAID
    # Table names come from the models' meta; every value is a parameter.
    return [
        (f"SELECT 'wallet', CAST(balance AS TEXT), NULL, NULL, NULL, NULL, NULL, NULL FROM {wallet} "  # noqa: S608
         "WHERE user_id = %s", [user_id]),
        (f"SELECT 'service', CAST(s.line_id AS TEXT), CAST(s.plan_id AS TEXT), CAST(s.data_left_mb AS TEXT), "  # noqa: S608
         "CAST(s.voice_left_minutes AS TEXT), CAST(s.sms_left AS TEXT), "
         "CAST(s.auto_renew AS TEXT) || ':' || s.auto_renew_method, CAST(s.auto_renew_term_months AS TEXT) "
         f"FROM {service} s JOIN {line} l ON l.id = s.line_id WHERE l.owner_id = %s", [user_id]),
        (f"SELECT 'order', CAST(id AS TEXT), status, CAST(amount AS TEXT), CAST(plan_id AS TEXT), "  # noqa: S608
         f"CAST(line_id AS TEXT), (SELECT number FROM {receipt} r WHERE r.order_id = o.id), NULL "
         f"FROM (SELECT id, status, amount, plan_id, line_id FROM {order} WHERE user_id = %s "
         "ORDER BY created_at DESC LIMIT 5) o", [user_id]),
        (f"SELECT 'paid', CAST(count(*) AS TEXT), CAST(sum(amount) AS TEXT), CAST(max(paid_at) AS TEXT), "  # noqa: S608
         f"CAST(max(id) AS TEXT), NULL, NULL, NULL FROM {order} WHERE user_id = %s AND status = %s", [user_id, paid]),
        # Usage records come only from imported files (each record names its import), and a
        # customer's history may hold thousands: the newest import stands for them all. An
        # import (hourly, say) renews every customer's page; counting their records would
        # cost every view a scan that grows each month.
        (f"SELECT 'usage', CAST(max(id) AS TEXT), NULL, NULL, NULL, NULL, NULL, NULL FROM {usage_import}",  # noqa: S608
         []),
    ]  # fmt: skip
