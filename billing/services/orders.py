"""Orders: quoting, creating (idempotently), and what happens when one is paid."""

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts import message_kinds
from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import Line, ServicePoint, User
from accounts.services.lines import RENEWABLE_STATUSES
from billing.models import LineService, Order, Payment, Plan, Receipt, ReceiptSequence
from billing.selectors import renewal_quote

from .errors import (
    ERR_IDEMPOTENCY_MISMATCH,
    ERR_LINE_NOT_RENEWABLE,
    ERR_LINE_NOT_YOURS,
    ERR_NOT_VERIFIED,
    ERR_PLAN_UNAVAILABLE,
    ERR_SERVICE_ENDED,
    ERR_TERM_INVALID,
    ERR_TOP_UP_AMOUNT,
    BillingError,
    ServiceEnded,
)
from .wallet import ledger_append

NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_order_number(now: datetime | None = None) -> str:
    """R + local date + 8 random characters: unique without a shared counter, not guessable."""
    stamp = timezone.localtime(now or timezone.now()).strftime("%Y%m%d")
    return "R" + stamp + get_random_string(8, NUMBER_ALPHABET)


def new_out_trade_no() -> str:
    return "P" + timezone.localtime().strftime("%Y%m%d%H%M%S") + secrets.token_hex(6).upper()


def fingerprint(**params) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


# What a higher app says about lines that must not be renewed now (the portal: a cancellation
# is requested). billing cannot import it (layers), so it hands its check in at start-up.
_renewal_refusals: list[Callable[[Sequence[int]], Mapping[int, str]]] = []


def renewal_refusal_add(check: Callable[[Sequence[int]], Mapping[int, str]]) -> None:
    """Call ``check(line_ids)`` before any renewal; it returns the refused lines' ids with the message for each."""
    if check not in _renewal_refusals:
        _renewal_refusals.append(check)


def renewals_refused(line_ids: Sequence[int]) -> dict[int, str]:
    """The lines among ``line_ids`` that no path may renew now, each with why (one query per check)."""
    refused: dict[int, str] = {}
    for check in _renewal_refusals:
        for line_id, message in check(line_ids).items():
            refused.setdefault(line_id, message)
    return refused


def check_renewable(*, line: Line, owner: User | None = None, refusals: bool = True) -> None:
    """Raise BillingError unless the line can be renewed (and belongs to ``owner`` when given).

    ``refusals=False`` skips the higher apps' refusals (``renewals_refused``): for switching
    auto-renew off, which renews nothing.
    """
    if owner is not None and line.owner_id != owner.pk:
        raise BillingError(ERR_LINE_NOT_YOURS)
    if line.owner is None or not line.owner.is_real_name_verified:
        raise BillingError(ERR_NOT_VERIFIED)
    if line.status not in RENEWABLE_STATUSES:
        raise BillingError(ERR_LINE_NOT_RENEWABLE)
    if refusals and (refused := renewals_refused([line.pk])):
        raise BillingError(refused[line.pk])


def customer_in_service_lock(*, user_id: int) -> None:
    """Lock the customer's row and raise ServiceEnded if their service has ended: no money is taken then.

    Inside the caller's transaction, before anything is written. Approving the cancellation
    of a last line holds the same row while it checks that no order or payment is open and
    ends the service, so one of the two waits for the other: a top-up is opened, started or
    credited either before (and the approval sees it) or after (and is refused here). No key
    update, as the approval takes it: orders and messages that only reference the customer
    go ahead.
    """
    customer = User.objects.select_for_update(no_key=True).get(pk=user_id)
    if account_selectors.customer_service_has_ended(user=customer):
        raise ServiceEnded(ERR_SERVICE_ENDED)


def check_order_fulfillable(order: Order) -> None:
    """Raise BillingError unless what the order buys can still be given (read without a lock, before a charge).

    A renewal: its line renewable (``check_order_renewable``). A top-up: its customer still
    in service (``ServiceEnded``); the locked check is ``customer_in_service_lock``.
    """
    if order.kind == Order.Kind.TOP_UP:
        if account_selectors.customer_service_has_ended(user=User.objects.get(pk=order.user_id)):
            raise ServiceEnded(ERR_SERVICE_ENDED)
        return
    check_order_renewable(order)


def check_order_renewable(order: Order) -> None:
    """Raise BillingError unless a renewal order's line can still be renewed, as when it was opened.

    Checked again when the order is paid: the owner's verification may have been revoked
    (their lines suspended) or the line cancelled in between, and paying must not put such
    a line back in service; nor an expired line whose ID already holds the maximum of
    active lines (一证五号). A top-up always passes.
    """
    if order.kind != Order.Kind.RENEWAL:
        return
    line = Line.objects.select_related("owner").get(pk=order.line_id)
    check_renewable(line=line, owner=User(pk=order.user_id))
    if line.status == Line.Status.EXPIRED:
        # Paying brings an expired line back: refuse before anyone is charged if its ID has
        # no room (一证五号). ``lines_extend`` counts again under the ID's lock.
        try:
            account_services.lines_activation_allow(adding={line.owner_id: 1}, lock=False)
        except account_services.LineLimitExceeded as error:
            raise BillingError(str(error)) from error


def _existing_for_key(idempotency_key: str, request_fingerprint: str) -> Order | None:
    order = Order.objects.filter(idempotency_key=idempotency_key).first()
    if order is not None and order.request_fingerprint != request_fingerprint:
        raise BillingError(ERR_IDEMPOTENCY_MISMATCH)
    return order


def _create_once(order: Order) -> Order:
    """Save a new order; if a concurrent request saved the same key first, return that one."""
    try:
        with transaction.atomic():
            # Uniqueness is the database's to decide: a check here would race with the
            # concurrent request and turn its commit into a ValidationError.
            order.full_clean(validate_unique=False, validate_constraints=False)
            order.save()
            return order
    except IntegrityError:
        existing = _existing_for_key(order.idempotency_key, order.request_fingerprint)
        if existing is None:
            raise
        return existing


def renewal_order_create(
    *,
    user: User,
    line_id: int,
    plan_id: int,
    term_months: int,
    idempotency_key: str,
    channel: str = Order.Channel.ONLINE,
    actor: User | None = None,
    service_point: ServicePoint | None = None,
) -> Order:
    """Open a renewal order of ``user``'s line, or return the one this idempotency key already made.

    ``actor`` is who opens it when it is not the customer (a clerk at a store).

    The same key with different parameters is refused: a key names one request.
    """
    request_fingerprint = fingerprint(kind="renewal", user=user.pk, line=line_id, plan=plan_id, term=term_months)
    existing = _existing_for_key(idempotency_key, request_fingerprint)
    if existing is not None:
        return existing
    if term_months not in settings.RENEWAL_TERMS_MONTHS:
        raise BillingError(ERR_TERM_INVALID)
    line = Line.objects.select_related("owner").filter(pk=line_id).first()
    if line is None:
        raise BillingError(ERR_LINE_NOT_YOURS)
    check_renewable(line=line, owner=user)
    plan = Plan.objects.filter(pk=plan_id, is_current=True, is_active=True).first()
    if plan is None:
        raise BillingError(ERR_PLAN_UNAVAILABLE)
    quote = renewal_quote(line=line, plan=plan, term_months=term_months)
    now = timezone.now()
    order = Order(
        number=new_order_number(now),
        user=user,
        kind=Order.Kind.RENEWAL,
        channel=channel,
        line=line,
        plan=plan,
        term_months=term_months,
        amount=quote.amount,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        renews_from=line.validity_end,
        new_validity_end=quote.new_validity_end,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.ORDER_PAY_WITHIN_MINUTES),
        created_by=actor if getattr(actor, "pk", None) else None,
        service_point=service_point,
    )
    return _create_once(order)


def topup_order_create(*, user: User, amount: Decimal, idempotency_key: str) -> Order:
    """Open a top-up order of ``user``'s wallet, or return the one this idempotency key already made.

    Refused (``ServiceEnded``) once the customer's service has ended, under their row lock.
    """
    amount = Decimal(amount).quantize(Decimal("0.01"))
    if not Decimal("1") <= amount <= Decimal(settings.TOP_UP_MAX):
        raise BillingError(ERR_TOP_UP_AMOUNT)
    request_fingerprint = fingerprint(kind="topup", user=user.pk, amount=str(amount))
    existing = _existing_for_key(idempotency_key, request_fingerprint)
    if existing is not None:
        return existing
    now = timezone.now()
    order = Order(
        number=new_order_number(now),
        user=user,
        kind=Order.Kind.TOP_UP,
        channel=Order.Channel.ONLINE,
        amount=amount,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.ORDER_PAY_WITHIN_MINUTES),
    )
    with transaction.atomic():
        customer_in_service_lock(user_id=user.pk)
        return _create_once(order)


def orders_expire_stale(*, now: datetime | None = None, order_id: int | None = None) -> int:
    """Close open orders past their pay-before time, all of them or the one given.

    An order with an attempt that may have reached the provider and is not settled yet
    (``Payment.UNSETTLED``) stays open: the money may have moved, and payments_settle
    decides it first. Nothing was charged for the orders this closes.
    """
    now = now or timezone.now()
    stale = Order.objects.filter(status=Order.Status.OPEN, expires_at__lte=now).exclude(
        Exists(Payment.objects.filter(order=OuterRef("pk"), status__in=Payment.UNSETTLED))
    )
    if order_id is not None:
        stale = stale.filter(pk=order_id)
    return stale.update(status=Order.Status.EXPIRED)


def receipts_allocate(*, count: int, now: datetime) -> list[tuple[int, int]]:
    """Reserve ``count`` consecutive receipt numbers of this year inside the caller's transaction.

    The sequence row is locked and bumped; if the transaction rolls back, so does the
    bump, so issued receipt numbers have no gaps.
    """
    year = timezone.localtime(now).year
    ReceiptSequence.objects.get_or_create(year=year)
    sequence = ReceiptSequence.objects.select_for_update().get(year=year)
    first = sequence.last_number + 1
    sequence.last_number += count
    sequence.save(update_fields=["last_number"])
    return [(year, number) for number in range(first, first + count)]


def receipt_number(year: int, sequence: int) -> str:
    return f"HY{year}-{sequence:08d}"


def describe(order: Order) -> str:
    if order.kind == Order.Kind.TOP_UP:
        return _("Wallet top-up")
    return ngettext(
        "Renewal of %(number)s: %(plan)s × %(months)s month",
        "Renewal of %(number)s: %(plan)s × %(months)s months",
        order.term_months,
    ) % {
        "number": order.line.msisdn.as_national,
        "plan": order.plan.name,
        "months": order.term_months,
    }


def apply_paid_orders(
    pairs: list[tuple[Order, Payment]], *, actor: User | None, now: datetime, send_now: bool = True
) -> None:
    """Everything that follows a payment, for one order or a batch, in the caller's transaction.

    The orders are already marked paid (and saved). Renewals extend their lines and top
    up their allowances (``renewals_extend``); then ``paid_orders_settle``.
    """
    renewals = [order for order, _payment in pairs if order.kind == Order.Kind.RENEWAL]
    renewals_extend(renewals, actor=actor, now=now)
    Order.objects.bulk_update(renewals, ["new_validity_end"], batch_size=1000)
    paid_orders_settle(pairs, actor=actor, now=now, send_now=send_now)


def renewals_extend(renewals: list[Order], *, actor: User | None, now: datetime) -> None:
    """Extend the renewed lines and top up their allowances; set (not save) each order's ``new_validity_end``.

    A batch job calls it before it inserts its orders, so that they are written once.
    """
    if not renewals:
        return
    months_by_line: dict[int, int] = {}
    for order in renewals:
        months_by_line[order.line_id] = months_by_line.get(order.line_id, 0) + order.term_months
    try:
        new_ends = account_services.lines_extend(extensions=months_by_line, actor=actor, now=now)
    except account_services.LineError as error:
        # An expired line whose owner is no longer verified, or whose ID has no room left.
        raise BillingError(str(error)) from error
    for order in renewals:
        order.new_validity_end = new_ends[order.line_id]
    _add_allowances(renewals, now=now)


def paid_orders_settle(
    pairs: list[tuple[Order, Payment]], *, actor: User | None, now: datetime, send_now: bool = True
) -> None:
    """Credit top-ups to the wallet, give every order the next receipt number, and tell the customer.

    Each order needs its ``user`` (phone and email) and, for a renewal, its ``line``
    (number), ``plan`` and ``new_validity_end``.
    """
    for order, _payment in pairs:
        if order.kind == Order.Kind.TOP_UP:
            ledger_append(user=order.user, kind="topup", amount=order.amount, reference=order.number, actor=actor)

    numbers = receipts_allocate(count=len(pairs), now=now)
    Receipt.objects.bulk_create(
        [
            Receipt(
                number=receipt_number(year, sequence),
                year=year,
                sequence=sequence,
                order=order,
                user_id=order.user_id,
                amount=order.amount,
                description=describe(order),
                payment_method=payment.method,
                issued_at=now,
            )
            for (order, payment), (year, sequence) in zip(pairs, numbers, strict=True)
        ],
        batch_size=1000,
    )
    messages = []
    for order, _payment in pairs:
        if order.kind == Order.Kind.RENEWAL:
            kind = message_kinds.RENEWAL_PAID
            params = {
                "number": order.line.msisdn.as_national,
                "end": message_kinds.date_param(order.new_validity_end),
                "amount": order.amount,
            }
        else:
            kind, params = message_kinds.WALLET_TOPPED_UP, {"amount": order.amount}
        messages.append((order.user, kind, params, f"/billing/orders/{order.number}/"))
    account_services.notify_many(messages, send_now=send_now)


def _add_allowances(renewals: list[Order], *, now: datetime) -> None:
    """Move each line to its renewal's plan and add the plan's allowances for the term; clear auto-renew's retries.

    Lines that gain the same amounts are updated together: a batch of renewals on a few
    plans and terms is a few UPDATEs, whatever its size.
    """
    gains: dict[int, tuple[Plan, int, int, int]] = {}
    for order in renewals:
        _plan, data, voice, sms = gains.get(order.line_id, (None, 0, 0, 0))
        gains[order.line_id] = (
            order.plan,
            data + order.plan.data_mb * order.term_months,
            voice + order.plan.voice_minutes * order.term_months,
            sms + order.plan.sms_count * order.term_months,
        )
    existing = set(LineService.objects.filter(pk__in=gains).values_list("pk", flat=True))
    LineService.objects.bulk_create(
        [
            LineService(line_id=line_id, plan=plan, data_left_mb=data, voice_left_minutes=voice, sms_left=sms)
            for line_id, (plan, data, voice, sms) in gains.items()
            if line_id not in existing
        ],
        batch_size=1000,
    )
    groups: dict[tuple[Plan, int, int, int], list[int]] = {}
    for line_id, gain in gains.items():
        if line_id in existing:
            groups.setdefault(gain, []).append(line_id)
    for (plan, data, voice, sms), line_ids in groups.items():
        LineService.objects.filter(pk__in=line_ids).update(
            plan=plan,
            data_left_mb=F("data_left_mb") + data,
            voice_left_minutes=F("voice_left_minutes") + voice,
            sms_left=F("sms_left") + sms,
            auto_renew_next_attempt_at=None,
            auto_renew_failures=0,
            updated_at=now,
        )


def renewal_service_lock(order: Order) -> None:
    """Lock the renewed line's service row, before the wallet, the line or anything else a renewal writes.

    The auto-renew job takes a line's service row first (then wallets, then lines); a
    payment that took the wallet or the line first and the service row last (its
    allowances) deadlocked with it. Taken first, the job skips the row (SKIP LOCKED) or
    the payment waits for the job's chunk to commit.
    """
    if order.kind == Order.Kind.RENEWAL:
        line_renewals_lock(line_id=order.line_id)


def line_renewals_lock(*, line_id: int) -> None:
    """Lock the line's service row, as every renewal does before it checks ``renewals_refused``.

    For a higher app about to change what its refusal says (the portal, filing a
    cancellation request), in the renewals' order: the service row, then the line. A
    renewal under way finishes first and the caller sees what it did; the auto-renew job
    skips a row held here (SKIP LOCKED) and an order's payment waits, then sees the refusal.
    A line without a service row has no auto-renew, and an order of it waits on the line.
    """
    list(LineService.objects.select_for_update().filter(line_id=line_id).values_list("pk", flat=True))


def order_mark_paid(*, order_id: int, payment: Payment, actor: User | None, now: datetime | None = None) -> Order:
    """Mark an open order paid by this (succeeded) payment and apply its effects, once.

    A renewal whose line is no longer renewable (``check_order_renewable``) is refused, and
    a top-up whose customer's service has ended (``customer_in_service_lock``).
    """
    now = now or timezone.now()
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).select_related("line", "plan", "user").get(pk=order_id)
        if order.status == Order.Status.PAID:
            return order
        renewal_service_lock(order)
        if order.kind == Order.Kind.TOP_UP:
            customer_in_service_lock(user_id=order.user_id)
        check_order_renewable(order)
        order.status = Order.Status.PAID
        order.paid_at = now
        order.last_failure = ""
        order.save(update_fields=["status", "paid_at", "last_failure"])
        account_services.audit_record(
            actor=actor,
            verb="order.paid",
            target=order,
            subject_user=order.user,
            data={"payment": payment.out_trade_no, "method": payment.method, "amount": str(order.amount)},
        )
        apply_paid_orders([(order, payment)], actor=actor, now=now)
    return order
