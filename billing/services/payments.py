"""Paying an order: wallet in one transaction; providers around an outside call.

A provider is never called inside a database transaction. The attempt is saved
first (so a crash leaves a trace), the provider is called, and the answer is
recorded in a second transaction. Whatever path brings a result (the synchronous
answer, a callback, a query), ``payment_record_result`` applies it once.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import message_kinds
from accounts import services as account_services
from accounts.models import User
from billing.gateways import GatewayResult, gateway_for
from billing.models import Order, Payment, SavedCard

from .errors import (
    ERR_CARD_DECLINED,
    ERR_METHOD_NOT_ALLOWED,
    ERR_ORDER_EXPIRED,
    ERR_ORDER_NOT_OPEN,
    ERR_OWN_STORE_RENEWAL,
    ERR_PAYMENT_IN_FLIGHT,
    ERR_PROVIDER_FAILED,
    ERR_PROVIDER_TIMEOUT,
    BillingError,
    PaymentAmountMismatch,
    ServiceEnded,
)
from .orders import (
    check_order_fulfillable,
    customer_in_service_lock,
    new_out_trade_no,
    order_mark_paid,
    orders_expire_stale,
    renewal_service_lock,
)
from .refunds import refund_request_for_duplicate
from .wallet import DuplicateLedgerEntry, ledger_append

logger = logging.getLogger(__name__)

PROVIDER_METHODS = (Payment.Method.ALIPAY, Payment.Method.WECHAT, Payment.Method.CARD)
STORE_METHODS = (Payment.Method.STORE_CASH, Payment.Method.STORE_CARD)
FAILURE_MESSAGES = {"card_declined": ERR_CARD_DECLINED, "timeout": ERR_PROVIDER_TIMEOUT}
# What a success writes on the payment, whether it pays the order or is refunded.
SUCCESS_FIELDS = ("status", "provider_transaction_id", "failure_reason", "failure_overturned_at")
# What the customer is told when a payment that may not pay its order is refunded, by why.
REFUND_MESSAGES = {
    "line_not_renewable": message_kinds.PAYMENT_REFUNDED_NOT_RENEWABLE,
    "service_ended": message_kinds.PAYMENT_REFUNDED_SERVICE_ENDED,
}


@dataclass
class PayOutcome:
    order: Order
    payment: Payment | None
    redirect_url: str = ""
    error: str = ""


def _payable(order: Order) -> None:
    if order.status == Order.Status.OPEN and order.expires_at <= timezone.now():
        orders_expire_stale(order_id=order.pk)
        raise BillingError(ERR_ORDER_EXPIRED)
    if order.status != Order.Status.OPEN:
        raise BillingError(ERR_ORDER_EXPIRED if order.status == Order.Status.EXPIRED else ERR_ORDER_NOT_OPEN)
    check_order_fulfillable(order)


def _no_attempt_in_flight(order: Order) -> None:
    """Refuse a new attempt while an earlier one may have charged (created or unknown, not settled).

    A pending attempt (the customer left the provider's cashier unpaid) does not block: the
    provider said no money moved yet, and a late success there is refunded.
    """
    if order.payments.filter(status__in=[Payment.Status.CREATED, Payment.Status.UNKNOWN]).exists():
        raise BillingError(ERR_PAYMENT_IN_FLIGHT)


def order_pay(
    *,
    order_id: int,
    method: str,
    actor: User | None,
    card: dict | None = None,
    device: str = "web",
    client_ip: str = "",
) -> PayOutcome:
    """Pay an open order with one method. Returns the outcome; raises BillingError when refused.

    Before a new attempt, every attempt that may have reached the provider is settled by
    asking the provider, so a payment that went through (a timeout, or a worker killed
    before it recorded the answer) is never charged again. An attempt that cannot be
    settled yet (still in flight, or the provider does not answer) refuses the new one.
    """
    order = Order.objects.get(pk=order_id)
    for unsettled in order.payments.filter(status__in=Payment.UNSETTLED):
        payment_settle_by_query(payment_id=unsettled.pk)
    order.refresh_from_db()
    if order.status == Order.Status.PAID:
        return PayOutcome(order=order, payment=order.payments.filter(status=Payment.Status.SUCCEEDED).first())
    _payable(order)
    _no_attempt_in_flight(order)

    if method == Payment.Method.WALLET:
        return _pay_from_wallet(order_id=order.pk, actor=actor)
    if method not in PROVIDER_METHODS or method not in settings.PAYMENT_METHOD_GATEWAYS:
        raise BillingError(ERR_METHOD_NOT_ALLOWED)

    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        _payable(order)
        _no_attempt_in_flight(order)
        if order.kind == Order.Kind.TOP_UP:
            # Taking turns with the approval that ends the service: it sees this attempt, or this sees the end.
            customer_in_service_lock(user_id=order.user_id)
        number = "".join(ch for ch in (card or {}).get("number", "") if ch.isdigit())
        payment = Payment.objects.create(
            order=order, method=method, amount=order.amount, out_trade_no=new_out_trade_no(), card_last4=number[-4:]
        )
    gateway = gateway_for(method)
    try:
        result = gateway.create(
            out_trade_no=payment.out_trade_no,
            amount=payment.amount,
            method=method,
            description=order.number,
            card=card,
            # Back from the cashier, the order page asks the provider about this attempt.
            return_url=f"/billing/orders/{order.number}/?out_trade_no={payment.out_trade_no}",
            device=device,
            expires_at=order.expires_at,
            client_ip=client_ip,
        )
    except Exception:
        logger.exception("Payment provider failed for %s", payment.out_trade_no)
        payment_record_result(out_trade_no=payment.out_trade_no, status="unknown", failure_reason="timeout")
        return PayOutcome(order=order, payment=payment, error=str(ERR_PROVIDER_TIMEOUT))

    if result.status == "pending":
        Payment.objects.filter(pk=payment.pk, status=Payment.Status.CREATED).update(status=Payment.Status.PENDING)
        return PayOutcome(order=order, payment=payment, redirect_url=result.redirect_url)
    payment = payment_record_result(
        out_trade_no=payment.out_trade_no,
        status=result.status,
        transaction_id=result.transaction_id,
        failure_reason=result.failure_reason,
    )
    if result.status == "succeeded" and result.card_token:
        expiry_month, expiry_year = _card_expiry((card or {}).get("expiry", ""))
        SavedCard.objects.get_or_create(
            token=result.card_token,
            defaults={
                "user": order.user,
                "last4": number[-4:],
                "brand": result.card_brand,
                "expiry_month": expiry_month,
                "expiry_year": expiry_year,
            },
        )
    order.refresh_from_db()
    error = ""
    if payment.status != Payment.Status.SUCCEEDED:
        error = str(FAILURE_MESSAGES.get(result.failure_reason, ERR_PROVIDER_FAILED))
    return PayOutcome(order=order, payment=payment, error=error)


def _card_expiry(expiry: str) -> tuple[int | None, int | None]:
    """(month, year) of an "MM/YY" the pay form checked, or (None, None) when there is none to keep."""
    month, _slash, year = expiry.partition("/")
    if not (month.isdigit() and year.isdigit() and 1 <= int(month) <= 12 and len(year) == 2):
        return None, None
    return int(month), 2000 + int(year)


def _pay_from_wallet(*, order_id: int, actor: User | None) -> PayOutcome:
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        _payable(order)
        _no_attempt_in_flight(order)
        if order.kind != Order.Kind.RENEWAL:
            raise BillingError(ERR_METHOD_NOT_ALLOWED)
        renewal_service_lock(order)  # before the wallet, in the auto-renew job's order
        try:
            ledger_append(user=order.user, kind="charge", amount=-order.amount, reference=order.number, actor=actor)
        except DuplicateLedgerEntry as error:  # a charge for this order exists: it is paid
            raise BillingError(ERR_ORDER_NOT_OPEN) from error
        payment = Payment.objects.create(
            order=order,
            method=Payment.Method.WALLET,
            amount=order.amount,
            out_trade_no=new_out_trade_no(),
            status=Payment.Status.SUCCEEDED,
        )
        order = order_mark_paid(order_id=order.pk, payment=payment, actor=actor)
    return PayOutcome(order=order, payment=payment)


def payment_record_at_store(*, order_id: int, method: str, actor: User) -> PayOutcome:
    """A clerk took cash or a card at the counter: the order is paid in the same transaction."""
    if method not in STORE_METHODS:
        raise BillingError(ERR_METHOD_NOT_ALLOWED)
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        # Staff never take money for their own orders: a colleague records it (see store_renewal).
        if order.user_id == actor.pk:
            raise BillingError(ERR_OWN_STORE_RENEWAL)
        if order.status == Order.Status.PAID:
            return PayOutcome(order=order, payment=order.payments.filter(status=Payment.Status.SUCCEEDED).first())
        _payable(order)
        payment = Payment.objects.create(
            order=order, method=method, amount=order.amount, out_trade_no=new_out_trade_no(),
            status=Payment.Status.SUCCEEDED,
        )  # fmt: skip
        order = order_mark_paid(order_id=order.pk, payment=payment, actor=actor)
    return PayOutcome(order=order, payment=payment)


def payment_record_result(
    *,
    out_trade_no: str,
    status: str,
    transaction_id: str = "",
    failure_reason: str = "",
    amount: Decimal | None = None,
    currency: str = "",
    actor: User | None = None,
) -> Payment:
    """Apply what the provider says about one attempt. Safe to call any number of times.

    ``amount`` and ``currency`` are what the provider says it charged (a callback, a
    query): when they differ from the attempt's, nothing is applied and
    PaymentAmountMismatch is raised. A success or a refund is final. A failure is final
    too, except against a success: the provider took the money after all (a payment that
    crossed our close of its trade, a retry inside the same trade), so the attempt is
    treated as any success, and ``failure_overturned_at`` and the audit trail say so. A
    success pays its order if the order is open and can still be fulfilled; one for an
    order that another attempt already paid, that closed, or that can no longer be
    fulfilled is refunded whole at once: the customer is never charged for nothing.
    """
    refund_needed = False
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("order").get(out_trade_no=out_trade_no)
        if amount is not None and (amount != payment.amount or currency != payment.order.currency):
            logger.error(
                "Provider reported %s %s for %s, which is %s %s: refused",
                amount, currency or "(no currency)", out_trade_no, payment.amount, payment.order.currency,
            )  # fmt: skip
            raise PaymentAmountMismatch(out_trade_no)
        if payment.status in (Payment.Status.SUCCEEDED, Payment.Status.REFUNDED):
            return payment
        if payment.status == Payment.Status.FAILED and status != "succeeded":
            return payment
        if status == "succeeded":
            overturned = payment.status == Payment.Status.FAILED
            earlier_failure = payment.failure_reason
            if overturned:
                payment.failure_overturned_at = timezone.now()
                logger.warning("Provider reported a success for %s, recorded as failed", out_trade_no)
            order = Order.objects.select_for_update().get(pk=payment.order_id)
            payment.provider_transaction_id = transaction_id or payment.provider_transaction_id
            payable = order.status == Order.Status.OPEN
            refused_because = "order_already_closed"
            if payable:
                try:
                    # A savepoint: if the renewal is refused after all (一证五号 counted under
                    # its lock), or the customer's service ended meanwhile, the payment is
                    # refunded below instead of left unrecorded.
                    with transaction.atomic():
                        payment.status = Payment.Status.SUCCEEDED
                        payment.failure_reason = ""
                        payment.save(update_fields=[*SUCCESS_FIELDS, "updated_at"])
                        order_mark_paid(order_id=order.pk, payment=payment, actor=actor)
                except ServiceEnded:
                    payable, refused_because = False, "service_ended"
                except BillingError:
                    payable, refused_because = False, "line_not_renewable"
            if not payable:
                payment.status = Payment.Status.REFUNDED
                # The provider took the money for an order that may not be paid: give it back.
                payment.failure_reason = refused_because
                payment.save(update_fields=[*SUCCESS_FIELDS, "updated_at"])
                # Sent after the commit: a callback's transaction that rolls back is retried
                # by the provider, and the refund must not have left already.
                refund_request_for_duplicate(payment=payment)
                refund_needed = True
            if overturned:
                account_services.audit_record(
                    actor=actor,
                    verb="payment.failure_overturned",
                    target=payment,
                    subject_user=User(pk=order.user_id),
                    data={
                        "earlier_failure": earlier_failure,
                        "outcome": "paid" if payable else "refunded",
                        "provider_transaction_id": payment.provider_transaction_id,
                        **({} if payable else {"refund_reason": refused_because}),
                    },
                )
        elif status == "failed":
            payment.status = Payment.Status.FAILED
            payment.failure_reason = failure_reason[:200]
            payment.save(update_fields=["status", "failure_reason", "updated_at"])
            Order.objects.filter(pk=payment.order_id).update(last_failure=failure_reason[:200])
        elif status == "unknown":
            payment.status = Payment.Status.UNKNOWN
            payment.failure_reason = failure_reason[:200]
            payment.save(update_fields=["status", "failure_reason", "updated_at"])
        else:  # pending: nothing decided yet
            if payment.status == Payment.Status.CREATED:
                payment.status = Payment.Status.PENDING
                payment.save(update_fields=["status", "updated_at"])
    if refund_needed:
        account_services.notify(
            user=payment.order.user,
            kind=REFUND_MESSAGES.get(payment.failure_reason, message_kinds.PAYMENT_REFUNDED_EXTRA),
            params={"number": payment.order.number, "amount": payment.amount},
        )
    return payment


def payment_settle_by_query(*, payment_id: int, now: datetime | None = None, recheck_failed: bool = False) -> Payment:
    """Ask the provider how an attempt that may have reached it ended, and record it.

    An attempt still ``created`` for less than PAYMENT_SETTLE_AFTER_SECONDS may be inside
    its provider call in another process right now: only a success settles it, since "not
    found" may just mean the call has not arrived yet. A provider that does not answer, or
    answers with another amount, leaves the attempt unsettled (and logged) for the next run.

    ``recheck_failed`` asks about an attempt recorded as failed too (reconciliation found it
    paid on the provider's statement): only the provider's success changes it.
    """
    now = now or timezone.now()
    payment = Payment.objects.select_related("order").get(pk=payment_id)
    recorded_failed = recheck_failed and payment.status == Payment.Status.FAILED
    if payment.method not in PROVIDER_METHODS or (payment.status not in Payment.UNSETTLED and not recorded_failed):
        return payment
    try:
        result = gateway_for(payment.method).query(out_trade_no=payment.out_trade_no)
    except Exception:
        logger.exception("Payment provider query failed for %s", payment.out_trade_no)
        return payment
    if recorded_failed and result.status != "succeeded":
        return payment
    call_over = now - timedelta(seconds=settings.PAYMENT_SETTLE_AFTER_SECONDS)
    in_flight = payment.status == Payment.Status.CREATED and payment.created_at > call_over
    if in_flight and result.status != "succeeded":
        return payment
    never_sent_to_cashier = payment.status == Payment.Status.UNKNOWN
    if result.status == "pending" and (payment.order.expires_at <= now or never_sent_to_cashier):
        # The order's time is over and the customer never paid at the cashier (or never got
        # there: the create's answer was lost): close the trade so that it can no longer be
        # paid, then believe only the provider's next word.
        try:
            closed = gateway_for(payment.method).close(out_trade_no=payment.out_trade_no)
            result = gateway_for(payment.method).query(out_trade_no=payment.out_trade_no)
        except Exception:
            logger.exception("Closing the unpaid trade %s failed", payment.out_trade_no)
            return payment
        if closed and result.status == "pending":
            # Closed but not yet visible as closed (or never opened at the cashier, past its time_expire).
            result = GatewayResult(status="failed", failure_reason="closed")
    try:
        return payment_record_result(
            out_trade_no=payment.out_trade_no,
            status=result.status,
            transaction_id=result.transaction_id,
            failure_reason=result.failure_reason,
            amount=result.amount,
            currency=result.currency,
        )
    except PaymentAmountMismatch:
        return Payment.objects.get(pk=payment_id)


def payments_settle(*, now: datetime | None = None, limit: int = 500) -> dict:
    """Settle every attempt that may have reached the provider, by asking it: the scheduled job.

    Unknown attempts (timeouts), attempts left ``created`` by a worker that died during the
    provider call, and pending cashier attempts of orders past their pay-before time (so
    that those orders can close). Safe on several machines at once: each answer is applied
    under the payment's row lock, and a settled payment is never changed again.
    """
    now = now or timezone.now()
    call_over = now - timedelta(seconds=settings.PAYMENT_SETTLE_AFTER_SECONDS)
    candidates = Payment.objects.filter(method__in=PROVIDER_METHODS).filter(
        Q(status=Payment.Status.UNKNOWN)
        | Q(status=Payment.Status.CREATED, created_at__lte=call_over)
        | Q(status=Payment.Status.PENDING, order__expires_at__lte=now)
    )
    ids = list(candidates.order_by("pk").values_list("pk", flat=True)[:limit])
    settled = sum(
        payment_settle_by_query(payment_id=payment_id, now=now).status not in Payment.UNSETTLED for payment_id in ids
    )
    return {"checked": len(ids), "settled": settled}
