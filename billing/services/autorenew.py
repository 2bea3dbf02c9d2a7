"""Auto-renew: the customer's switch, and the scheduled job that renews lines before they end.

The job walks due lines in chunks ordered by line id and commits each chunk. Lines
are locked with SKIP LOCKED (on PostgreSQL), so two copies of the job share the work
instead of both charging; the ``one_auto_renewal_per_period`` constraint (one auto
order per line and validity period) is the last guard. A killed run loses at most
its current chunk, which rolls back, and the next run picks those lines up again;
renewed lines have moved past the window, so nobody is charged twice.

Wallet payments, the common case, are done in bulk: a chunk costs a fixed number of
queries whatever its size. On PostgreSQL they are written set-based from plain tuples
(``_renew_chunk_sql``: one statement per table, pipelined); elsewhere, and for a chunk
that pays an order left open by an earlier attempt, through model instances and
``apply_paid_orders`` (``_renew_chunk_orm``). Both write the same rows. Saved-card
payments call the provider one line at a time, outside any transaction.
"""

import hashlib
import logging
import re
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import services as account_services
from accounts.models import AuditEvent, Line, Notification, OutboundMessage, User
from billing.gateways import gateway_for
from billing.models import LedgerEntry, LineService, Order, Payment, Plan, Receipt, SavedCard, Wallet
from heyon_site.bulk import bulk_update_rows, insert_columns, int_array, update_columns

from .orders import (
    apply_paid_orders,
    check_renewable,
    fingerprint,
    new_order_number,
    new_out_trade_no,
    new_out_trade_nos,
    receipt_number,
)
from .payments import payment_record_result

logger = logging.getLogger(__name__)

MAX_AUTORENEW_FAILURES = 3
CHUNK_SIZE = 500
CHUNK_ATTEMPTS = 3


def autorenew_set(*, user, line_id: int, enabled: bool, method: str, term_months: int = 1) -> LineService:
    """Switch auto-renew on or off for one of the user's lines."""
    with transaction.atomic():
        line = Line.objects.select_for_update(of=("self",)).select_related("owner").get(pk=line_id)
        check_renewable(line=line, owner=user)
        service = LineService.objects.filter(line=line).first()
        if service is None:
            plan = Plan.objects.filter(is_current=True, is_active=True).order_by("monthly_price").first()
            service = LineService.objects.create(line=line, plan=plan)
        service.auto_renew = enabled
        service.auto_renew_method = method
        service.auto_renew_term_months = term_months
        service.auto_renew_next_attempt_at = None
        service.auto_renew_failures = 0
        service.full_clean()
        service.save()
        account_services.audit_record(
            actor=user,
            verb="line.autorenew_" + ("on" if enabled else "off"),
            target=line,
            subject_user=user,
            data={"method": method, "term_months": term_months},
        )
    return service


def _next_attempt(validity_end: datetime, now: datetime) -> datetime | None:
    """Retry one day before the end and on the day; None when no try is left."""
    for slot in (validity_end - timedelta(days=1), validity_end - timedelta(hours=1)):
        if slot > now:
            return slot
    return None


def due_line_ids(*, now: datetime, after_id: int, limit: int) -> list[int]:
    """The next ``limit`` due lines after ``after_id``, by line id.

    SQL of its own because both tables need the ``> after_id`` condition: PostgreSQL does
    not carry an inequality across the join, so with the ORM's one condition the merge
    join read every line from the first one up at each chunk (quadratic in a 100,000-line
    run: the chunk at line 50,000 read 50,000 lines).
    """
    window_end = now + timedelta(days=settings.AUTORENEW_WINDOW_DAYS)
    statuses = list(account_services.lines.RENEWABLE_STATUSES)
    moment = connection.ops.adapt_datetimefield_value
    placeholders = ", ".join(["%s"] * len(statuses))  # only placeholders are formatted into the text
    sql = (
        "SELECT s.line_id FROM billing_lineservice s JOIN accounts_line l ON l.id = s.line_id "  # noqa: S608
        "WHERE s.auto_renew AND s.auto_renew_failures < %s AND s.line_id > %s AND l.id > %s "
        f"AND l.validity_end <= %s AND l.status IN ({placeholders}) "
        "AND (s.auto_renew_next_attempt_at IS NULL OR s.auto_renew_next_attempt_at <= %s) "
        "ORDER BY s.line_id LIMIT %s"
    )
    params = [MAX_AUTORENEW_FAILURES, after_id, after_id, moment(window_end), *statuses, moment(now), limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [line_id for (line_id,) in cursor.fetchall()]


def autorenew_run(*, now: datetime | None = None, chunk_size: int = CHUNK_SIZE) -> dict:
    """Renew every line that is due. Returns counts: renewed, card_renewed, failed, skipped."""
    now = now or timezone.now()
    counts = {"renewed": 0, "card_renewed": 0, "failed": 0, "skipped": 0}
    last_id = 0
    while True:
        ids = due_line_ids(now=now, after_id=last_id, limit=chunk_size)
        if not ids:
            break
        last_id = ids[-1]
        card_work = _renew_chunk_retrying(ids, now=now, counts=counts)
        for item in card_work:
            _renew_by_saved_card(*item, now=now, counts=counts)
    return counts


def _renew_chunk_retrying(ids: list[int], *, now: datetime, counts: dict) -> list[tuple]:
    """Renew a chunk; if a unique constraint refuses it, the chunk rolled back whole: read it again.

    Two random order numbers of the same day collide about once in 150 runs of 100,000
    renewals, and a job racing this one may have settled a period first; either way a fresh
    attempt (new numbers, settled periods skipped) is right, where an exception would stop
    the whole run.
    """
    for attempt in range(1, CHUNK_ATTEMPTS + 1):
        chunk_counts = dict.fromkeys(counts, 0)
        try:
            card_work = _renew_chunk(ids, now=now, counts=chunk_counts)
        except IntegrityError:
            if attempt == CHUNK_ATTEMPTS:
                raise
            logger.warning("Auto-renew chunk from line %s refused by a unique constraint; retrying", ids[0])
            continue
        for key, value in chunk_counts.items():
            counts[key] += value
        return card_work
    return []


def _current_plans() -> dict[str, Plan]:
    return {plan.code: plan for plan in Plan.objects.filter(is_current=True, is_active=True)}


def _renew_chunk(ids: list[int], *, now: datetime, counts: dict) -> list[tuple]:
    """Renew the chunk's wallet-funded lines in bulk; return the lines to charge by saved card."""
    if _set_based():
        try:
            return _renew_chunk_sql(ids, now=now, counts=counts)
        except _NeedsModelPath:
            pass  # rolled back: an open order of an earlier attempt is paid the long way
    return _renew_chunk_orm(ids, now=now, counts=counts)


def _renew_chunk_orm(ids: list[int], *, now: datetime, counts: dict) -> list[tuple]:
    """The portable path: model instances, bulk_create and the shared apply_paid_orders."""
    window_end = now + timedelta(days=settings.AUTORENEW_WINDOW_DAYS)
    lock = {"skip_locked": True, "of": ("self",)} if connection.features.has_select_for_update_skip_locked else {}
    with transaction.atomic():
        services = list(
            LineService.objects.select_for_update(**lock)
            .filter(line_id__in=ids, auto_renew=True)
            .select_related("line__owner", "plan")
            .order_by("line_id")
        )
        due = [
            service
            for service in services
            if service.line.validity_end is not None
            and service.line.validity_end <= window_end
            and service.line.status in account_services.lines.RENEWABLE_STATUSES
            and service.line.owner is not None
            and service.line.owner.is_real_name_verified
            and service.auto_renew_failures < MAX_AUTORENEW_FAILURES
            and (service.auto_renew_next_attempt_at is None or service.auto_renew_next_attempt_at <= now)
        ]
        counts["skipped"] += len(ids) - len(due)
        if not due:
            return []
        plans = _current_plans()
        periods = {service.line_id: service.line.validity_end for service in due}
        open_orders = {
            order.line_id: order
            for order in Order.objects.filter(
                channel=Order.Channel.AUTO, line_id__in=periods, renews_from__in=set(periods.values())
            )
            if order.renews_from == periods[order.line_id]
        }
        owner_ids = sorted({service.line.owner_id for service in due})
        wallets = {
            wallet.user_id: wallet
            for wallet in Wallet.objects.select_for_update().filter(user_id__in=owner_ids).order_by("pk")
        }
        saved_cards = set(SavedCard.objects.filter(user_id__in=owner_ids).values_list("user_id", flat=True))

        paid, entries, card_work, failed = [], [], [], []
        for service in due:
            existing = open_orders.get(service.line_id)
            if existing is not None and existing.status != Order.Status.OPEN:
                counts["skipped"] += 1  # this period is settled already
                continue
            plan = plans.get(service.plan.code, service.plan)
            amount = (plan.monthly_price * service.auto_renew_term_months).quantize(Decimal("0.01"))
            wallet = wallets.get(service.line.owner_id)
            if wallet is not None and wallet.balance >= amount:
                wallet.balance -= amount
                order = existing or _auto_order(service, plan, amount, now)
                order.status, order.paid_at, order.plan, order.amount = Order.Status.PAID, now, plan, amount
                paid.append(order)
                entries.append((wallet, order, amount, wallet.balance))
            elif (
                service.auto_renew_method == LineService.AutoRenewMethod.WALLET_THEN_CARD
                and service.line.owner_id in saved_cards
            ):
                card_work.append((service.line_id, periods[service.line_id], plan.pk, amount))
            else:
                failed.append((service, amount, wallet.balance if wallet else Decimal("0.00")))

        reused = [order for order in paid if order.pk is not None]
        Order.objects.bulk_create([order for order in paid if order.pk is None], batch_size=1000)
        bulk_update_rows(reused, ["status", "paid_at", "plan", "amount"])
        payments = Payment.objects.bulk_create(
            [
                Payment(
                    order=order,
                    method=Payment.Method.WALLET,
                    status=Payment.Status.SUCCEEDED,
                    amount=order.amount,
                    out_trade_no=new_out_trade_no(),
                )
                for order in paid
            ],
            batch_size=1000,
        )
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(
                    wallet=wallet,
                    kind=LedgerEntry.Kind.CHARGE,
                    amount=-amount,
                    balance_after=balance_after,
                    reference=order.number,
                    note="auto-renew",
                    created_at=now,
                )
                for wallet, order, amount, balance_after in entries
            ],
            batch_size=1000,
        )
        bulk_update_rows(list({wallet.pk: wallet for wallet, *_rest in entries}.values()), ["balance"])
        if paid:
            apply_paid_orders(list(zip(paid, payments, strict=True)), actor=None, now=now, send_now=False)
            account_services.audit_record_many(
                actor=None,
                verb="order.paid",
                targets=paid,
                subject_user_ids=[order.user_id for order in paid],
                data={order.pk: {"method": "wallet", "amount": str(order.amount), "auto": True} for order in paid},
            )
        counts["renewed"] += len(paid)
        _record_failures(failed, now=now, counts=counts)
    return card_work


def _auto_order(service: LineService, plan: Plan, amount: Decimal, now: datetime) -> Order:
    period = service.line.validity_end
    return Order(
        number=new_order_number(now),
        user_id=service.line.owner_id,
        user=service.line.owner,
        kind=Order.Kind.RENEWAL,
        channel=Order.Channel.AUTO,
        line=service.line,
        plan=plan,
        term_months=service.auto_renew_term_months,
        amount=amount,
        idempotency_key=f"auto:{service.line_id}:{period.isoformat()}",
        request_fingerprint=fingerprint(kind="auto", line=service.line_id, period=period.isoformat()),
        renews_from=period,
        created_at=now,
        # Open until the period is over so that retries pay the same order.
        expires_at=period + timedelta(days=settings.LINE_EXPIRY_GRACE_DAYS),
    )


def _record_failures(failed: list[tuple], *, now: datetime, counts: dict) -> None:
    if not failed:
        return
    messages = []
    for service, amount, balance in failed:
        service.auto_renew_failures += 1
        service.auto_renew_next_attempt_at = _next_attempt(service.line.validity_end, now)
        if service.auto_renew_next_attempt_at is None:
            service.auto_renew_failures = MAX_AUTORENEW_FAILURES
        end = timezone.localtime(service.line.validity_end).strftime("%Y-%m-%d")
        body = _(
            "Auto-renew of line %(number)s could not be paid: the wallet holds ¥%(balance)s and the renewal costs "
            "¥%(amount)s. Top up before %(end)s to keep the line."
        ) % {"number": service.line.msisdn.as_national, "balance": balance, "amount": amount, "end": end}
        if service.auto_renew_next_attempt_at is not None:
            retry = timezone.localtime(service.auto_renew_next_attempt_at).strftime("%Y-%m-%d %H:%M")
            body += " " + _("We will try again at %(time)s.") % {"time": retry}
        messages.append((service.line.owner, _("Auto-renew failed"), body, "/billing/top-up/"))
    bulk_update_rows([service for service, *_rest in failed], ["auto_renew_failures", "auto_renew_next_attempt_at"])
    account_services.notify_many(messages, send_now=False)
    counts["failed"] += len(failed)


def _renew_by_saved_card(line_id: int, period: datetime, plan_id: int, amount: Decimal, *, now, counts) -> None:
    lock = {"skip_locked": True, "of": ("self",)} if connection.features.has_select_for_update_skip_locked else {}
    with transaction.atomic():
        service = (
            LineService.objects.select_for_update(**lock).select_related("line__owner", "plan").filter(line_id=line_id)
        ).first()
        if service is None or service.line.validity_end != period:
            counts["skipped"] += 1
            return
        order = Order.objects.filter(channel=Order.Channel.AUTO, line_id=line_id, renews_from=period).first()
        if order is not None and (
            order.status != Order.Status.OPEN or order.payments.exclude(status=Payment.Status.FAILED).exists()
        ):
            counts["skipped"] += 1  # paid, or an attempt is in flight
            return
        if order is None:
            order = _auto_order(service, Plan.objects.get(pk=plan_id), amount, now)
            order.save()
        card = SavedCard.objects.filter(user_id=service.line.owner_id).order_by("-created_at").first()
        payment = Payment.objects.create(
            order=order, method=Payment.Method.CARD, amount=order.amount, out_trade_no=new_out_trade_no(),
            card_last4=card.last4,
        )  # fmt: skip
    try:
        result = gateway_for(Payment.Method.CARD).charge_saved_card(
            out_trade_no=payment.out_trade_no, amount=payment.amount, token=card.token, description=order.number
        )
    except Exception:
        logger.exception("Saved-card charge failed for %s", payment.out_trade_no)
        payment_record_result(out_trade_no=payment.out_trade_no, status="unknown", failure_reason="timeout")
        counts["failed"] += 1
        return
    payment = payment_record_result(
        out_trade_no=payment.out_trade_no,
        status=result.status,
        transaction_id=result.transaction_id,
        failure_reason=result.failure_reason,
    )
    if payment.status == Payment.Status.SUCCEEDED:
        counts["card_renewed"] += 1
        return
    with transaction.atomic():
        service = LineService.objects.select_for_update(of=("self",)).select_related("line__owner").get(line_id=line_id)
        _record_failures([(service, amount, Decimal("0.00"))], now=now, counts=counts)


# --- PostgreSQL: the same chunk, written set-based ------------------------------------------
#
# At 100,000 lines the portable path spends its time building model instances (eight per
# line), converting each of their values to a query parameter and parsing phone numbers
# read back from the database. Here every row is a tuple, each table is written by one
# statement with one array parameter per column, and numbers are formatted from their
# stored E.164 text. The rows, locks (in the same order) and counts are the portable
# path's; tests/billing/test_autorenew_sql.py runs both on the same lines and compares.


def _set_based() -> bool:
    return connection.vendor == "postgresql"


class _NeedsModelPath(Exception):
    """A chunk the set-based path leaves to the portable one (it rolls back first)."""


_DUE_SQL = """
SELECT s.line_id, s.plan_id, s.auto_renew_method, s.auto_renew_term_months, s.auto_renew_next_attempt_at,
       s.auto_renew_failures, s.data_left_mb, s.voice_left_minutes, s.sms_left,
       l.validity_end, l.status, l.owner_id, l.msisdn, u.real_name_verified_at, u.phone, u.email
FROM billing_lineservice s
JOIN accounts_line l ON l.id = s.line_id
LEFT JOIN accounts_user u ON u.id = l.owner_id
WHERE s.line_id = ANY(%s::bigint[]) AND s.auto_renew
ORDER BY s.line_id
FOR UPDATE OF s{skip_locked}
"""

# A Chinese mobile number in E.164: its national form is 3-4-4 digits, exactly as the
# phonenumbers library writes it (checked for every prefix in the tests); other numbers
# are parsed as the model field would.
_CN_MOBILE = re.compile(r"\+861[3-9]\d{9}")


def _auto_fingerprint(line_id: int, period_iso: str) -> str:
    """``fingerprint(kind="auto", line=…, period=…)``: the same JSON text, written directly.

    An int and an ISO datetime need no escaping, so the text is exactly what json.dumps
    with sorted keys writes (the tests compare the two).
    """
    return hashlib.sha256(f'{{"kind": "auto", "line": {int(line_id)}, "period": "{period_iso}"}}'.encode()).hexdigest()


def _national(msisdn: str) -> str:
    if _CN_MOBILE.fullmatch(msisdn):
        return f"{msisdn[3:6]} {msisdn[6:10]} {msisdn[10:]}"
    return Line._meta.get_field("msisdn").to_python(msisdn).as_national


def _e164(phone: str) -> str:
    if _CN_MOBILE.fullmatch(phone):
        return phone
    return User._meta.get_field("phone").to_python(phone).as_e164


def _renew_chunk_sql(ids: list[int], *, now: datetime, counts: dict) -> list[tuple]:
    window_end = now + timedelta(days=settings.AUTORENEW_WINDOW_DAYS)
    renewable = account_services.lines.RENEWABLE_STATUSES
    skip_locked = " SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_DUE_SQL.format(skip_locked=skip_locked), [int_array(ids)])
            rows = cursor.fetchall()
        # (line, plan, method, term, next attempt, failures, data, voice, sms, end, status, owner, msisdn,
        #  verified at, phone, email): the portable path's conditions, on tuples.
        due = [
            row
            for row in rows
            if row[9] is not None
            and row[9] <= window_end
            and row[10] in renewable
            and row[11] is not None
            and row[13] is not None
            and row[5] < MAX_AUTORENEW_FAILURES
            and (row[4] is None or row[4] <= now)
        ]
        skipped = len(ids) - len(due)
        if not due:
            counts["skipped"] += skipped
            return []
        plans = _current_plans()
        plans_by_id = Plan.objects.in_bulk({row[1] for row in due})
        periods = {row[0]: row[9] for row in due}
        with connection.cursor() as cursor:
            # The line's auto orders, by the one_auto_renewal_per_period index; this period's is kept.
            cursor.execute(
                "SELECT line_id, renews_from, status FROM billing_order "
                "WHERE channel = %s AND line_id = ANY(%s::bigint[])",
                [Order.Channel.AUTO, int_array(periods)],
            )
            open_orders = {
                line_id: status for line_id, renews_from, status in cursor.fetchall() if renews_from == periods[line_id]
            }
        if Order.Status.OPEN in open_orders.values():
            raise _NeedsModelPath  # paying an earlier attempt's order keeps that order's own terms
        owner_ids = sorted({row[11] for row in due})
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, user_id, balance FROM billing_wallet "
                "WHERE user_id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE",
                [int_array(owner_ids)],
            )
            wallets = {user_id: [wallet_id, balance] for wallet_id, user_id, balance in cursor.fetchall()}
        saved_cards = None

        paid, card_work, failed_ids, failed = [], [], [], {}
        for row in due:
            line_id, owner_id = row[0], row[11]
            if line_id in open_orders:
                skipped += 1  # this period is settled already
                continue
            plan = plans_by_id[row[1]]
            plan = plans.get(plan.code, plan)
            term = row[3]
            amount = (plan.monthly_price * term).quantize(Decimal("0.01"))
            wallet = wallets.get(owner_id)
            if wallet is not None and wallet[1] >= amount:
                wallet[1] -= amount
                paid.append((row, plan, amount, wallet[0], wallet[1]))
                continue
            if row[2] == LineService.AutoRenewMethod.WALLET_THEN_CARD:
                if saved_cards is None:
                    saved_cards = set(SavedCard.objects.filter(user_id__in=owner_ids).values_list("user_id", flat=True))
                if owner_id in saved_cards:
                    card_work.append((line_id, row[9], plan.pk, amount))
                    continue
            failed_ids.append(line_id)
            failed[line_id] = (amount, wallet[1] if wallet else Decimal("0.00"))

        if paid:
            _write_paid(paid, wallets, now=now)
        counts["skipped"] += skipped
        counts["renewed"] += len(paid)
        if failed_ids:
            services = LineService.objects.select_related("line__owner").filter(line_id__in=failed_ids)
            by_line = {service.line_id: service for service in services}
            _record_failures([(by_line[line_id], *failed[line_id]) for line_id in failed_ids], now=now, counts=counts)
    return card_work


def _write_paid(paid: list[tuple], wallets: dict, *, now: datetime) -> None:
    """Write what the portable path writes for wallet-paid renewals: same rows, same order, same values."""
    # Lines are locked after the wallets, as lines_extend locks them in the portable path.
    line_ids = [item[0][0] for item in paid]
    count = len(paid)
    year = timezone.localtime(now).year
    # Three statements, one round trip: the lines' locks, the orders' ids (taken from their
    # sequence now so that no statement below waits for another's result) and the receipt
    # numbers (receipts_allocate in one statement: the year's row is created or locked and
    # bumped by the count, and rolls back with the chunk, so numbers stay gapless).
    with connection.wrap_database_errors, connection.connection.pipeline():
        with connection.cursor() as lines, connection.cursor() as ids, connection.cursor() as sequence:
            lines.execute(
                "SELECT id, status, validity_end FROM accounts_line "
                "WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE",
                [int_array(line_ids)],
            )
            ids.execute(
                # The sequence is looked up once (a sub-select), not once a row.
                "SELECT nextval((SELECT pg_get_serial_sequence(%s, %s)::regclass)) FROM generate_series(1, %s)",
                [Order._meta.db_table, Order._meta.pk.column, count],
            )
            sequence.execute(
                "INSERT INTO billing_receiptsequence (year, last_number) VALUES (%s, %s) ON CONFLICT (year) "
                "DO UPDATE SET last_number = billing_receiptsequence.last_number + EXCLUDED.last_number "
                "RETURNING last_number",
                [year, count],
            )
            locked = {line_id: (status, end) for line_id, status, end in lines.fetchall()}
            order_pks = [pk for (pk,) in ids.fetchall()]
            (last,) = sequence.fetchone()
    if len(locked) != len(line_ids) or any(
        status not in account_services.lines.RENEWABLE_STATUSES for status, _end in locked.values()
    ):
        raise account_services.lines.LineError(account_services.lines.ERR_LINE_NOT_RENEWABLE)
    receipts = [(year, number) for number in range(last - count + 1, last + 1)]
    new_ends = [account_services.add_months(max(locked[line_id][1] or now, now), item[0][3])
                for line_id, item in zip(line_ids, paid, strict=True)]  # fmt: skip
    # Pipelined: each statement is sent without waiting for the one before, so PostgreSQL
    # writes a table while this process builds the next one's values. An error surfaces
    # when the pipeline ends, as the Django exception the chunk's retry expects.
    with connection.wrap_database_errors, connection.connection.pipeline():
        with connection.cursor() as cursor:
            # Foreign keys are checked as each statement ends instead of all at commit: the
            # same checks in the same transaction, but done while this process builds the
            # next statement, not while it waits for the commit (a tenth of a chunk's time).
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        update_columns(Line, line_ids, {"validity_end": new_ends, "status": [Line.Status.ACTIVE] * count})
        update_columns(
            LineService,
            line_ids,
            {
                "plan_id": [plan.pk for _row, plan, *_rest in paid],
                "data_left_mb": [row[6] + plan.data_mb * row[3] for row, plan, *_rest in paid],
                "voice_left_minutes": [row[7] + plan.voice_minutes * row[3] for row, plan, *_rest in paid],
                "sms_left": [row[8] + plan.sms_count * row[3] for row, plan, *_rest in paid],
                "auto_renew_next_attempt_at": [None] * count,
                "auto_renew_failures": [0] * count,
            },
        )
        charged = {item[3]: wallets[item[0][11]][1] for item in paid}
        update_columns(Wallet, list(charged), {"balance": list(charged.values())})
        grace = timedelta(days=settings.LINE_EXPIRY_GRACE_DAYS)
        orders = {name: [] for name in (
            "number", "user_id", "line_id", "plan_id", "term_months", "amount", "idempotency_key",
            "request_fingerprint", "renews_from", "new_validity_end", "expires_at",
        )}  # fmt: skip
        for (row, plan, amount, _wallet_id, _balance), new_end in zip(paid, new_ends, strict=True):
            line_id, period = row[0], row[9]
            period_iso = period.isoformat()
            orders["number"].append(new_order_number(now))
            orders["user_id"].append(row[11])
            orders["line_id"].append(line_id)
            orders["plan_id"].append(plan.pk)
            orders["term_months"].append(row[3])
            orders["amount"].append(amount)
            orders["idempotency_key"].append(f"auto:{line_id}:{period_iso}")
            orders["request_fingerprint"].append(_auto_fingerprint(line_id, period_iso))
            orders["renews_from"].append(period)
            orders["new_validity_end"].append(new_end)
            orders["expires_at"].append(period + grace)
        insert_columns(
            Order,
            {"id": order_pks, **orders},
            constants={
                "kind": Order.Kind.RENEWAL,
                "channel": Order.Channel.AUTO,
                "status": Order.Status.PAID,
                "created_at": now,
                "paid_at": now,
            },
        )
        insert_columns(
            Payment,
            {"order_id": order_pks, "amount": orders["amount"], "out_trade_no": new_out_trade_nos(count)},
            constants={"method": Payment.Method.WALLET, "status": Payment.Status.SUCCEEDED},
        )
        insert_columns(
            LedgerEntry,
            {
                "wallet_id": [item[3] for item in paid],
                "amount": [-item[2] for item in paid],
                "balance_after": [item[4] for item in paid],
                "reference": orders["number"],
            },
            constants={"kind": LedgerEntry.Kind.CHARGE, "note": "auto-renew", "created_at": now},
        )
        nationals = [_national(item[0][12]) for item in paid]
        description = _("Renewal of %(number)s: %(plan)s × %(months)s month(s)")
        plans = {plan.pk: plan for _row, plan, *_rest in paid}
        names = {pk: plan.name for pk, plan in plans.items()}  # in the active language, once a plan
        insert_columns(
            Receipt,
            {
                "number": [receipt_number(year, sequence) for year, sequence in receipts],
                "year": [year for year, _sequence in receipts],
                "sequence": [sequence for _year, sequence in receipts],
                "order_id": order_pks,
                "user_id": orders["user_id"],
                "amount": orders["amount"],
                "description": [
                    description % {"number": national, "plan": names[plan.pk], "months": row[3]}
                    for (row, plan, *_rest), national in zip(paid, nationals, strict=True)
                ],
            },
            constants={"payment_method": Payment.Method.WALLET, "issued_at": now},
        )
        _notify_renewed(paid, nationals, new_ends, orders["number"])
        # The portable path's two audit batches, in its order: lines_extend's, then the orders'.
        insert_columns(
            AuditEvent,
            {
                "verb": ["line.renewed"] * count + ["order.paid"] * count,
                "target_type": ["accounts.line"] * count + ["billing.order"] * count,
                "target_id": [str(line_id) for line_id in line_ids] + [str(pk) for pk in order_pks],
                "subject_user_id": orders["user_id"] * 2,
                "data": [{"validity_end": end.isoformat()} for end in new_ends]
                + [{"method": "wallet", "amount": str(amount), "auto": True} for amount in orders["amount"]],
            },
        )


def _notify_renewed(paid: list[tuple], nationals: list[str], new_ends: list[datetime], numbers: list[str]) -> None:
    """apply_paid_orders' message for each renewal: inbox, SMS and email rows, left for the dispatcher."""
    subject = _("Renewal paid")
    template = _("Line %(number)s is renewed until %(end)s. ¥%(amount)s paid.")
    notifications = {"user_id": [], "subject": [], "body": [], "link": []}
    outbound = {"channel": [], "recipient": [], "subject": [], "body": []}
    for (row, _plan, amount, *_rest), national, end, number in zip(paid, nationals, new_ends, numbers, strict=True):
        body = template % {
            "number": national,
            "end": end.strftime("%Y-%m-%d"),  # add_months' end is in local time already
            "amount": amount,
        }
        notifications["user_id"].append(row[11])
        notifications["subject"].append(subject)
        notifications["body"].append(body)
        notifications["link"].append(f"/billing/orders/{number}/")
        phone, email = row[14], row[15]
        if phone:
            outbound["channel"].append(OutboundMessage.Channel.SMS)
            outbound["recipient"].append(_e164(phone))
            outbound["subject"].append("")
            outbound["body"].append(f"【Heyon】{subject}：{body}")
        if email:
            outbound["channel"].append(OutboundMessage.Channel.EMAIL)
            outbound["recipient"].append(email)
            outbound["subject"].append(subject[:200])
            outbound["body"].append(body)
    insert_columns(Notification, notifications)
    insert_columns(OutboundMessage, outbound)
