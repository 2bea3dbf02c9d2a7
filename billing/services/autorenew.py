"""Auto-renew: the customer's switch, and the scheduled job that renews lines before they end.

The job walks due lines in chunks ordered by line id and commits each chunk. Lines
are locked with SKIP LOCKED (on PostgreSQL), so two copies of the job share the work
instead of both charging; the ``one_auto_renewal_per_period`` constraint (one auto
order per line and validity period) is the last guard. A killed run loses at most
its current chunk, which rolls back, and the next run picks those lines up again;
renewed lines have moved past the window, so nobody is charged twice.

Wallet payments, the common case, are done in bulk: a chunk costs a fixed number of
queries whatever its size. Its due lines are read as named tuples; billing's own rows
(orders, payments, ledger entries, balances) are written in one statement per table,
by COPY on PostgreSQL (``autorenew_pg``) and by bulk_create/bulk_update elsewhere; what
follows a payment is what follows any order's (``renewals_extend``, ``paid_orders_settle``),
and the lines, audit events and the customer's messages are accounts' services'.
Saved-card payments call the provider one line at a time, outside any transaction.
"""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from accounts import message_kinds
from accounts import services as account_services
from accounts.models import Line, User
from accounts.services.lines import RENEWABLE_STATUSES
from billing.gateways import gateway_for
from billing.models import LedgerEntry, LineService, Order, Payment, Plan, SavedCard, Wallet
from billing.selectors import MAX_AUTORENEW_FAILURES, due_line_ids, plans_current_by_code

from . import autorenew_pg
from .cards import saved_cards_release
from .errors import BillingError
from .orders import (
    check_renewable,
    fingerprint,
    new_order_number,
    new_out_trade_no,
    paid_orders_settle,
    renewals_extend,
    renewals_refused,
)
from .payments import payment_record_result

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500
CHUNK_ATTEMPTS = 3


def autorenew_set(*, actor: User, line_id: int, enabled: bool, method: str, term_months: int = 1) -> LineService:
    """Switch auto-renew on or off for one of the actor's own lines."""
    with transaction.atomic():
        # The service row before the line, in the order the job locks them: else the two deadlock.
        service = LineService.objects.select_for_update().filter(line_id=line_id).first()
        line = Line.objects.select_for_update(of=("self",)).select_related("owner").get(pk=line_id)
        check_renewable(line=line, owner=actor, refusals=enabled)
        if service is None:
            plan = Plan.objects.filter(is_current=True, is_active=True).order_by("monthly_price").first()
            service = LineService.objects.create(line=line, plan=plan)
        by_card = LineService.AutoRenewMethod.WALLET_THEN_CARD
        stops_card = service.auto_renew and service.auto_renew_method == by_card and not (enabled and method == by_card)
        service.auto_renew = enabled
        service.auto_renew_method = method
        service.auto_renew_term_months = term_months
        service.auto_renew_next_attempt_at = None
        service.auto_renew_failures = 0
        service.full_clean()
        service.save()
        account_services.audit_record(
            actor=actor,
            verb="line.autorenew_" + ("on" if enabled else "off"),
            target=line,
            subject_user=actor,
            data={"method": method, "term_months": term_months},
        )
        if stops_card:
            saved_cards_release(user_id=line.owner_id, actor=actor, why="auto_renew_off")
    return service


class DueLine(NamedTuple):
    """A line's service row, locked, with what a chunk needs of the line and its owner."""

    line_id: int
    plan_id: int
    method: str
    term_months: int
    next_attempt_at: datetime | None
    failures: int
    validity_end: datetime | None
    status: str
    owner_id: int | None
    msisdn: object
    verified_at: datetime | None
    phone: object
    email: str | None

    @property
    def owner(self) -> User:
        """The owner as far as messages need them (id, phone, email)."""
        return User(pk=self.owner_id, phone=self.phone, email=self.email)


class Renewal(NamedTuple):
    """A due line its owner's wallet pays for: the order (an earlier attempt's, or None), plan and amount."""

    line: DueLine
    plan: Plan
    amount: Decimal
    wallet: Wallet
    balance_after: Decimal
    open_order: Order | None


class CardCharge(NamedTuple):
    """A due line to charge to its owner's saved card, outside the chunk's transaction: what was priced."""

    line_id: int
    period: datetime
    plan_id: int
    term_months: int
    amount: Decimal


class Failure(NamedTuple):
    """A due line that could not be paid: the customer is told and the job tries again later."""

    line_id: int
    validity_end: datetime
    failures: int
    msisdn: object
    owner: User
    amount: Decimal
    balance: Decimal


def _record_refusal(line_id: int, *, now: datetime) -> None:
    """Count a refused renewal (一证五号) as a failed attempt: it waits for the next slot, or is given up.

    Left due, the line would be tried in every run, and its chunk redone one line at a time.
    """
    service = LineService.objects.select_related("line").filter(line_id=line_id).first()
    if service is None:
        return
    end = service.line.validity_end
    next_attempt = _next_attempt(end, now) if end is not None else None
    failures = service.auto_renew_failures + 1 if next_attempt is not None else MAX_AUTORENEW_FAILURES
    LineService.objects.filter(line_id=line_id).update(
        auto_renew_failures=failures, auto_renew_next_attempt_at=next_attempt, updated_at=now
    )


def _next_attempt(validity_end: datetime, now: datetime) -> datetime | None:
    """Retry one day before the end and on the day; None when no try is left."""
    for slot in (validity_end - timedelta(days=1), validity_end - timedelta(hours=1)):
        if slot > now:
            return slot
    return None


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
        for charge in _renew_chunk_retrying(ids, now=now, counts=counts):
            _renew_by_saved_card(charge, now=now, counts=counts)
    return counts


def _renew_chunk_retrying(ids: list[int], *, now: datetime, counts: dict) -> list[CardCharge]:
    """Renew a chunk; if a unique constraint refuses it, the chunk rolled back whole: read it again.

    Two random order numbers of the same day may collide, and a job racing this one may
    have settled a period first; either way a fresh attempt (new numbers, settled periods
    skipped) is right, where an exception would stop the whole run.
    """
    for attempt in range(1, CHUNK_ATTEMPTS + 1):
        chunk_counts = dict.fromkeys(counts, 0)
        try:
            card_charges = _renew_chunk(ids, now=now, counts=chunk_counts)
        except BillingError:
            # One expired line's ID has no room left (一证五号): the chunk rolled back whole.
            # Renew its lines one by one so that only the refused ones are left out.
            return _renew_one_by_one(ids, now=now, counts=counts)
        except IntegrityError:
            if attempt == CHUNK_ATTEMPTS:
                raise
            logger.warning("Auto-renew chunk from line %s refused by a unique constraint; retrying", ids[0])
            continue
        for key, value in chunk_counts.items():
            counts[key] += value
        return card_charges
    return []


def _renew_one_by_one(ids: list[int], *, now: datetime, counts: dict) -> list[CardCharge]:
    card_charges = []
    for line_id in ids:
        line_counts = dict.fromkeys(counts, 0)
        try:
            card_charges.extend(_renew_chunk([line_id], now=now, counts=line_counts))
        except BillingError as error:
            logger.info("Auto-renew of line %s refused: %s", line_id, error)
            counts["skipped"] += 1
            _record_refusal(line_id, now=now)
            continue
        for key, value in line_counts.items():
            counts[key] += value
    return card_charges


def _skip_locked() -> dict:
    return {"skip_locked": True, "of": ("self",)} if connection.features.has_select_for_update_skip_locked else {}


def _lock_due_lines(ids: list[int]) -> list[DueLine]:
    """Lock the service rows of these lines that nobody else holds, and read them with their line and owner."""
    rows = (
        LineService.objects.select_for_update(**_skip_locked())
        .filter(line_id__in=ids, auto_renew=True)
        .annotate(
            validity_end=F("line__validity_end"),
            line_status=F("line__status"),
            owner_id=F("line__owner_id"),
            msisdn=F("line__msisdn"),
            verified_at=F("line__owner__real_name_verified_at"),
            phone=F("line__owner__phone"),
            email=F("line__owner__email"),
        )
        .order_by("line_id")
        .values_list(
            "line_id", "plan_id", "auto_renew_method", "auto_renew_term_months", "auto_renew_next_attempt_at",
            "auto_renew_failures", "validity_end", "line_status",
            "owner_id", "msisdn", "verified_at", "phone", "email",
        )
    )  # fmt: skip
    return [DueLine(*row) for row in rows]


def _is_due(line: DueLine, *, now: datetime) -> bool:
    """``due_line_ids``' conditions again, now that the row is locked, and an owner whose real name is verified."""
    window_end = now + timedelta(days=settings.AUTORENEW_WINDOW_DAYS)
    return (
        line.validity_end is not None
        and line.validity_end <= window_end
        and line.status in RENEWABLE_STATUSES
        and line.owner_id is not None
        and line.verified_at is not None
        and line.failures < MAX_AUTORENEW_FAILURES
        and (line.next_attempt_at is None or line.next_attempt_at <= now)
    )


def _renew_chunk(ids: list[int], *, now: datetime, counts: dict) -> list[CardCharge]:
    """Renew the chunk's wallet-funded lines in bulk; return the lines to charge by saved card."""
    with transaction.atomic():
        due = [line for line in _lock_due_lines(ids) if _is_due(line, now=now)]
        # A line whose cancellation is requested is not charged for (nor counted as a failure).
        refused = renewals_refused([line.line_id for line in due]) if due else {}
        due = [line for line in due if line.line_id not in refused]
        counts["skipped"] += len(ids) - len(due)
        if not due:
            return []
        plans = plans_current_by_code()
        plans_by_id = Plan.objects.in_bulk({line.plan_id for line in due})
        periods = {line.line_id: line.validity_end for line in due}
        this_period = {
            order.line_id: order
            for order in Order.objects.filter(
                channel=Order.Channel.AUTO, line_id__in=periods, renews_from__in=set(periods.values())
            ).annotate(
                in_flight=Exists(
                    Payment.objects.filter(
                        order=OuterRef("pk"), status__in=[Payment.Status.CREATED, Payment.Status.UNKNOWN]
                    )
                )
            )
            if order.renews_from == periods[order.line_id]
        }
        owner_ids = sorted({line.owner_id for line in due})
        wallets = {
            wallet.user_id: wallet
            for wallet in Wallet.objects.select_for_update().filter(user_id__in=owner_ids).order_by("pk")
        }
        saved_cards = set(SavedCard.objects.filter(user_id__in=owner_ids).values_list("user_id", flat=True))

        renewals, card_charges, failed = [], [], []
        for line in due:
            order = this_period.get(line.line_id)
            if order is not None and order.status != Order.Status.OPEN:
                counts["skipped"] += 1  # this period is settled already
                continue
            if order is not None and order.in_flight:
                # A card charge of it may have gone through: payments_settle asks the provider first.
                counts["skipped"] += 1
                continue
            plan = plans_by_id[line.plan_id]
            plan = plans.get(plan.code, plan)
            amount = (plan.monthly_price * line.term_months).quantize(Decimal("0.01"))
            wallet = wallets.get(line.owner_id)
            # What is held for a refund on its way is not the customer's to spend (ledger_append's rule).
            if wallet is not None and wallet.available >= amount:
                wallet.balance -= amount
                renewals.append(Renewal(line, plan, amount, wallet, wallet.balance, order))
            elif line.method == LineService.AutoRenewMethod.WALLET_THEN_CARD and line.owner_id in saved_cards:
                card_charges.append(CardCharge(line.line_id, line.validity_end, plan.pk, line.term_months, amount))
            else:
                balance = wallet.available if wallet is not None else Decimal("0.00")
                failed.append(
                    Failure(line.line_id, line.validity_end, line.failures, line.msisdn, line.owner, amount, balance)
                )
        if renewals:
            _write_paid(renewals, now=now)
        counts["renewed"] += len(renewals)
        _record_failures(failed, now=now, counts=counts)
    return card_charges


def _write_paid(renewals: list[Renewal], *, now: datetime) -> None:
    """Write the chunk's wallet payments: orders paid, payments, charges, balances, then what any payment does."""
    orders = []
    for renewal in renewals:
        order = renewal.open_order or _auto_order(
            line_id=renewal.line.line_id,
            owner_id=renewal.line.owner_id,
            period=renewal.line.validity_end,
            term_months=renewal.line.term_months,
            plan=renewal.plan,
            amount=renewal.amount,
            now=now,
        )
        order.status, order.paid_at, order.plan, order.amount = Order.Status.PAID, now, renewal.plan, renewal.amount
        # What paid_orders_settle needs of them: the number and owner it tells the customer about.
        order.line = Line(pk=renewal.line.line_id, msisdn=renewal.line.msisdn)
        order.user = renewal.line.owner
        orders.append(order)
    renewals_extend(orders, actor=None, now=now)  # the orders are written once, with their new validity end
    reused = [order for order in orders if order.pk is not None]
    new_orders = [order for order in orders if order.pk is None]
    if _set_based():
        autorenew_pg.orders_create(new_orders)
    else:
        Order.objects.bulk_create(new_orders, batch_size=1000)
    _update(Order, reused, ["status", "paid_at", "plan", "amount", "new_validity_end"])
    payments = [
        Payment(
            order=order,
            method=Payment.Method.WALLET,
            status=Payment.Status.SUCCEEDED,
            amount=order.amount,
            out_trade_no=new_out_trade_no(),
        )
        for order in orders
    ]
    _create(Payment, payments)
    _create(
        LedgerEntry,
        [
            LedgerEntry(
                wallet=renewal.wallet,
                kind=LedgerEntry.Kind.CHARGE,
                amount=-renewal.amount,
                balance_after=renewal.balance_after,
                reference=order.number,
                note="auto-renew",
                created_at=now,
            )
            for renewal, order in zip(renewals, orders, strict=True)
        ],
    )
    charged = list({renewal.wallet.pk: renewal.wallet for renewal in renewals}.values())
    for wallet in charged:
        wallet.updated_at = now
    _update(Wallet, charged, ["balance", "updated_at"])
    paid_orders_settle(list(zip(orders, payments, strict=True)), actor=None, now=now, send_now=False)
    account_services.audit_record_many(
        actor=None,
        verb="order.paid",
        targets=orders,
        subject_user_ids=[order.user_id for order in orders],
        data={order.pk: {"method": "wallet", "amount": str(order.amount), "auto": True} for order in orders},
    )


def _auto_order(
    *, line_id: int, owner_id: int, period: datetime, term_months: int, plan: Plan, amount: Decimal, now: datetime
) -> Order:
    return Order(
        number=new_order_number(now),
        user_id=owner_id,
        kind=Order.Kind.RENEWAL,
        channel=Order.Channel.AUTO,
        line_id=line_id,
        plan=plan,
        term_months=term_months,
        amount=amount,
        idempotency_key=f"auto:{line_id}:{period.isoformat()}",
        request_fingerprint=fingerprint(kind="auto", line=line_id, period=period.isoformat()),
        renews_from=period,
        created_at=now,
        # Open until the period is over so that retries pay the same order.
        expires_at=period + timedelta(days=settings.LINE_EXPIRY_GRACE_DAYS),
    )


def _record_failures(failed: list[Failure], *, now: datetime, counts: dict) -> None:
    """Count a failed attempt on each line, plan the next one, and tell the customer."""
    if not failed:
        return
    services, messages = [], []
    for failure in failed:
        next_attempt = _next_attempt(failure.validity_end, now)
        failures = failure.failures + 1 if next_attempt is not None else MAX_AUTORENEW_FAILURES
        services.append(
            LineService(line_id=failure.line_id, auto_renew_failures=failures, auto_renew_next_attempt_at=next_attempt)
        )
        params = {
            "number": failure.msisdn.as_national,
            "balance": failure.balance,
            "amount": failure.amount,
            "end": message_kinds.date_param(failure.validity_end),
        }
        if next_attempt is not None:
            params["time"] = message_kinds.datetime_param(next_attempt)
        messages.append((failure.owner, message_kinds.AUTORENEW_FAILED, params, "/billing/top-up/"))
    _update(LineService, services, ["auto_renew_failures", "auto_renew_next_attempt_at"])
    account_services.notify_many(messages, send_now=False)
    counts["failed"] += len(failed)


def _renew_by_saved_card(charge: CardCharge, *, now: datetime, counts: dict) -> None:
    with transaction.atomic():
        service = (
            LineService.objects.select_for_update(**_skip_locked())
            .select_related("line__owner", "plan")
            .filter(line_id=charge.line_id)
            .first()
        )
        # The customer may have switched auto-renew off or to the wallet alone since the chunk
        # chose the card (its lock is gone): check again under this one.
        if (
            service is None
            or not service.auto_renew
            or service.auto_renew_method != LineService.AutoRenewMethod.WALLET_THEN_CARD
            or service.line.validity_end != charge.period
            or renewals_refused([charge.line_id])
        ):
            counts["skipped"] += 1
            return
        # Removed since the chunk chose it (auto-renew switched off on another line, the purge).
        card = SavedCard.objects.filter(user_id=service.line.owner_id).order_by("-created_at").first()
        if card is None:
            counts["skipped"] += 1
            return
        order = Order.objects.filter(
            channel=Order.Channel.AUTO, line_id=charge.line_id, renews_from=charge.period
        ).first()
        if order is not None and (
            order.status != Order.Status.OPEN or order.payments.exclude(status=Payment.Status.FAILED).exists()
        ):
            counts["skipped"] += 1  # paid, or an attempt is in flight
            return
        if order is None:
            order = _auto_order(
                line_id=charge.line_id,
                owner_id=service.line.owner_id,
                period=charge.period,
                # The term that was priced: a term changed since then counts from the next renewal.
                term_months=charge.term_months,
                plan=Plan.objects.get(pk=charge.plan_id),
                amount=charge.amount,
                now=now,
            )
            order.save()
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
        service = (
            LineService.objects.select_for_update(of=("self",))
            .select_related("line__owner")
            .get(line_id=charge.line_id)
        )
        line = service.line
        failure = Failure(
            line.pk,
            line.validity_end,
            service.auto_renew_failures,
            line.msisdn,
            line.owner,
            charge.amount,
            Decimal("0.00"),
        )
        _record_failures([failure], now=now, counts=counts)


def _set_based() -> bool:
    """Whether billing's batch rows go by COPY and UPDATE … FROM VALUES (``autorenew_pg``)."""
    return connection.vendor == "postgresql"


def _create(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    if _set_based():
        autorenew_pg.rows_create(model, objs)
    else:
        model._default_manager.bulk_create(objs, batch_size=1000)


def _update(model: type[models.Model], objs: Sequence[models.Model], fields: list[str]) -> None:
    if _set_based():
        autorenew_pg.rows_update(model, objs, fields)
    else:
        model._default_manager.bulk_update(objs, fields, batch_size=1000)
