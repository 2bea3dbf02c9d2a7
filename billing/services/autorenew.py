"""Auto-renew: the customer's switch, and the scheduled job that renews lines before they end.

The job walks due lines in chunks ordered by line id and commits each chunk. Lines
are locked with SKIP LOCKED (on PostgreSQL), so two copies of the job share the work
instead of both charging; the ``one_auto_renewal_per_period`` constraint (one auto
order per line and validity period) is the last guard. A killed run loses at most
its current chunk, which rolls back, and the next run picks those lines up again;
renewed lines have moved past the window, so nobody is charged twice.

Wallet payments, the common case, are done in bulk: a chunk costs a fixed number of
queries whatever its size. Saved-card payments call the provider one line at a time,
outside any transaction.
"""

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import services as account_services
from accounts.models import Line
from billing.gateways import gateway_for
from billing.models import LedgerEntry, LineService, Order, Payment, Plan, SavedCard, Wallet
from heyon_site.bulk import bulk_update_rows

from .orders import apply_paid_orders, check_renewable, fingerprint, new_order_number, new_out_trade_no
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
    window_end = now + timedelta(days=settings.AUTORENEW_WINDOW_DAYS)
    return list(
        LineService.objects.filter(
            auto_renew=True,
            auto_renew_failures__lt=MAX_AUTORENEW_FAILURES,
            line_id__gt=after_id,
            line__validity_end__lte=window_end,
            line__status__in=account_services.lines.RENEWABLE_STATUSES,
        )
        .filter(Q(auto_renew_next_attempt_at__isnull=True) | Q(auto_renew_next_attempt_at__lte=now))
        .order_by("line_id")
        .values_list("line_id", flat=True)[:limit]
    )


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
