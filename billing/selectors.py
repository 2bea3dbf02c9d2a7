"""Reads for the billing pages and for the account centre."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import Line
from accounts.services.lines import RENEWABLE_STATUSES, add_months
from billing.models import (
    ZERO,
    Discrepancy,
    LedgerEntry,
    LineService,
    Order,
    Payment,
    Plan,
    Receipt,
    SavedCard,
    UsageDaily,
    UsageImport,
    Wallet,
)
from heyon_site.security import is_store_staff

# An auto-renew that failed this many times for one period is given up (the customer was told each time).
MAX_AUTORENEW_FAILURES = 3


def wallet_balance(*, user) -> Decimal:
    return Wallet.objects.filter(user=user).values_list("balance", flat=True).first() or Decimal("0.00")


def wallet_balance_and_held(*, user) -> tuple[Decimal, Decimal]:
    """The balance and, of it, what is held for refunds the provider has not confirmed yet."""
    amounts = Wallet.objects.filter(user=user).values_list("balance", "held").first()
    return amounts if amounts else (Decimal("0.00"), Decimal("0.00"))


def wallet_available(*, user) -> Decimal:
    """The balance less what is held for refunds the provider has not confirmed: what can be spent or refunded."""
    balance, held = wallet_balance_and_held(user=user)
    return balance - held


def plans_on_sale():
    return Plan.objects.filter(is_current=True, is_active=True).order_by("sort_order", "monthly_price")


def plans_current_by_code() -> dict[str, Plan]:
    """The current version of each plan on sale, by code: what a renewal of an older version pays."""
    return {plan.code: plan for plan in plans_on_sale()}


def plan_on_sale_for_line(*, line_id: int) -> Plan | None:
    """The version on sale of the plan a line is on: what its renewal offers first.

    None when that plan is no longer sold (the customer then picks one).
    """
    line_plan_code = LineService.objects.filter(line_id=line_id).values("plan__code")[:1]
    return plans_on_sale().filter(code=Subquery(line_plan_code)).first()


def renewable_lines(*, user):
    return Line.objects.filter(owner=user, status__in=RENEWABLE_STATUSES).order_by("msisdn")


def line_is_owned_by(*, line_id: int, user) -> bool:
    return Line.objects.filter(pk=line_id, owner=user).exists()


def services_by_line(*, line_ids) -> dict[int, LineService]:
    return LineService.objects.select_related("plan").in_bulk(list(line_ids))


def saved_cards_of(*, user) -> list[SavedCard]:
    """The cards kept for ``user``'s auto-renew, newest first: the first is the one auto-renew charges."""
    return list(SavedCard.objects.filter(user=user).order_by("-created_at", "-pk"))


def saved_card_of(*, card_id: int, user) -> SavedCard | None:
    """One of ``user``'s saved cards, or None (someone else's answers like a missing one)."""
    return SavedCard.objects.filter(pk=card_id, user=user).first()


def lines_renewing_by_card(*, user) -> list[Line]:
    """``user``'s lines whose auto-renew is on and pays "wallet, then my saved card"."""
    return list(
        Line.objects.filter(
            owner=user,
            service__auto_renew=True,
            service__auto_renew_method=LineService.AutoRenewMethod.WALLET_THEN_CARD,
        ).order_by("msisdn")
    )


def order_for_owner(*, number: str, user):
    return (
        Order.objects.select_related("line", "plan", "receipt")
        .prefetch_related("payments__refunds")
        .filter(number=number, user=user)
        .first()
    )


def recent_orders(*, user, limit: int = 10):
    return Order.objects.filter(user=user).select_related("line", "plan", "receipt").order_by("-created_at")[:limit]


def recent_ledger(*, user, limit: int = 10):
    return LedgerEntry.objects.filter(wallet__user=user).order_by("-created_at", "-pk")[:limit]


def receipt_for_viewer(*, number: str, user):
    """The receipt if ``user`` may read it, else None (a foreign receipt answers like a missing one).

    The customer reads their own; staff with the view permission read any, except store
    staff (a clerk), who read only the receipts their own service point issued: a receipt
    names the customer, the line and what they paid, and numbers are sequential.
    """
    if not user.is_authenticated:
        return None
    receipt = Receipt.objects.select_related("order__line", "order__plan", "user").filter(number=number).first()
    if receipt is None:
        return None
    if receipt.user_id == user.pk:
        return receipt
    if not (user.is_staff and user.has_perm("billing.view_receipt")):
        return None
    if is_store_staff(user) and (
        user.service_point_id is None or receipt.order.service_point_id != user.service_point_id
    ):
        return None
    return receipt


def usage_by_month(*, user, months: int = 6):
    """Usage per month and type over the last ``months`` months, and money spent per month (two queries).

    Usage is summed from the daily totals (UsageDaily), never the records: a fixed number
    of days per line whatever the size of the records table, and on PostgreSQL only the
    months shown are read (the daily table is partitioned by month).

    Spending is what the customer paid for service: renewals, by whatever method they
    were paid (the wallet included). A top-up is not spending, it moves money into the
    wallet; money spent from the wallet counts once, with the renewal it paid for, and a
    balance refunded from the wallet was never spent, so neither shows. A payment refunded
    because its order was already paid never paid the order and is not in its amount.
    """
    zone = timezone.get_current_timezone()
    this_month = timezone.localdate().replace(day=1)
    index = this_month.year * 12 + this_month.month - months
    first_month = date(index // 12, index % 12 + 1, 1)
    usage = (
        UsageDaily.objects.filter(line__owner=user, day__gte=first_month)
        .annotate(month=TruncMonth("day"))
        .values("month")
        .annotate(data=Sum("data_mb"), voice=Sum("voice_minutes"), sms=Sum("sms_count"))
        .order_by()
    )
    charges = (
        Order.objects.filter(user=user, status=Order.Status.PAID, kind=Order.Kind.RENEWAL)
        .annotate(month=TruncMonth("paid_at"))
        .values("month")
        .annotate(total=Sum("amount"))
        .order_by("-month")
    )
    table: dict = defaultdict(lambda: {"data": Decimal(0), "voice": Decimal(0), "sms": Decimal(0), "spent": Decimal(0)})
    for row in usage:
        # The first of the month at local midnight, as TruncMonth gives the orders' months.
        month = datetime.combine(row["month"], time.min, tzinfo=zone)
        table[month].update(data=row["data"], voice=row["voice"], sms=row["sms"])
    for row in charges:
        table[row["month"]]["spent"] = row["total"]
    return [{"month": month, **values} for month, values in sorted(table.items(), reverse=True)[:months]]


def line_by_number(*, msisdn):
    return Line.objects.select_related("owner").filter(msisdn=msisdn).first()


@dataclass
class Quote:
    line: Line
    plan: Plan
    term_months: int
    amount: Decimal
    data_mb: int
    voice_minutes: int
    sms_count: int
    new_validity_end: datetime


def renewal_quote(*, line: Line, plan: Plan, term_months: int, now: datetime | None = None) -> Quote:
    """What renewing ``line`` on ``plan`` for ``term_months`` costs and gives, and until when."""
    now = now or timezone.now()
    start = max(line.validity_end or now, now)
    return Quote(
        line=line,
        plan=plan,
        term_months=term_months,
        amount=(plan.monthly_price * term_months).quantize(Decimal("0.01")),
        data_mb=plan.data_mb * term_months,
        voice_minutes=plan.voice_minutes * term_months,
        sms_count=plan.sms_count * term_months,
        new_validity_end=add_months(start, term_months),
    )


def due_line_ids(*, now: datetime, after_id: int, limit: int) -> list[int]:
    """The next ``limit`` lines due for auto-renew after line ``after_id``, in line id order.

    The id condition is stated on both tables (the line here, its service in the EXISTS):
    PostgreSQL does not carry an inequality across a join, and with it on one side only
    each chunk would read every line from the first one up.
    """
    window_end = now + timedelta(days=settings.AUTORENEW_WINDOW_DAYS)
    service_due = LineService.objects.filter(
        Q(auto_renew_next_attempt_at__isnull=True) | Q(auto_renew_next_attempt_at__lte=now),
        line_id=OuterRef("pk"),
        line_id__gt=after_id,
        auto_renew=True,
        auto_renew_failures__lt=MAX_AUTORENEW_FAILURES,
    )
    return list(
        Line.objects.filter(Exists(service_due), pk__gt=after_id, validity_end__lte=window_end)
        .filter(status__in=RENEWABLE_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def open_items_before_cancellation(*, user, line) -> dict:
    """What billing still has open for this customer and line (shown before a cancellation)."""
    open_orders = list(
        Order.objects.filter(user=user, status=Order.Status.OPEN, expires_at__gt=timezone.now())
        .filter(Q(line=line) | Q(kind=Order.Kind.TOP_UP))
        .order_by("created_at")
    )
    unsettled = Payment.objects.filter(order__user=user, status__in=Payment.UNSETTLED).count()
    balance, held = Wallet.objects.filter(user=user).values_list("balance", "held").first() or (ZERO, ZERO)
    return {
        "balance": balance - held,  # what is held is already on its way back through a provider
        "refunding": held,
        "open_orders": open_orders,
        "unsettled_payments": unsettled,
    }


def account_centre_state_sql(*, user_id: int) -> list[tuple[str, list]]:
    """What of billing the account centre shows, as rows of text for its cache key.

    Each fragment is one ``SELECT tag, c1 … c7`` (text or NULL) for
    ``customers.selectors.account_centre_state``, which unites them in one query: the
    wallet balance and what of it is held for refunds, each line's plan, allowances and
    auto-renew settings, the saved cards, the five latest orders with their receipts, the paid orders behind
    "spent by month", and the newest usage import behind the usage table. Anything that
    changes what the page shows changes a row.
    """
    wallet, service, order = Wallet._meta.db_table, LineService._meta.db_table, Order._meta.db_table
    receipt, usage_import, line = Receipt._meta.db_table, UsageImport._meta.db_table, Line._meta.db_table
    saved_card = SavedCard._meta.db_table
    paid = Order.Status.PAID
    # Table names come from the models' meta; every value is a parameter.
    return [
        (f"SELECT 'wallet', CAST(balance AS TEXT), CAST(held AS TEXT), NULL, NULL, NULL, NULL, NULL FROM {wallet} "  # noqa: S608
         "WHERE user_id = %s", [user_id]),
        (f"SELECT 'service', CAST(s.line_id AS TEXT), CAST(s.plan_id AS TEXT), CAST(s.data_left_mb AS TEXT), "  # noqa: S608
         "CAST(s.voice_left_minutes AS TEXT), CAST(s.sms_left AS TEXT), "
         "CAST(s.auto_renew AS TEXT) || ':' || s.auto_renew_method, CAST(s.auto_renew_term_months AS TEXT) "
         f"FROM {service} s JOIN {line} l ON l.id = s.line_id WHERE l.owner_id = %s", [user_id]),
        # The saved cards shown, and whether a line set to pay by card has one to pay with.
        (f"SELECT 'card', CAST(id AS TEXT), last4, brand, CAST(expiry_month AS TEXT), "  # noqa: S608
         f"CAST(expiry_year AS TEXT), CAST(created_at AS TEXT), NULL FROM {saved_card} WHERE user_id = %s", [user_id]),
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


def open_discrepancies(*, limit: int = 10) -> dict:
    """For the staff dashboard: how many reconciliation discrepancies are open, and the newest few."""
    rows = Discrepancy.objects.filter(resolved_at__isnull=True)
    return {
        "count": rows.count(),
        "newest": list(rows.select_related("reconciliation").order_by("-reconciliation__day", "-pk")[:limit]),
    }
