"""Refunds through the provider that took the money.

A refund is saved first (``requested``, with our refund number, which the provider keeps
once), the provider is asked after the commit, and its answer is recorded by
``refund_record_result`` — whichever path brings it: the reply, a signed callback, or a
query by refund number from the settle job. For a wallet refund the amount is held in the
wallet from the request on (it cannot be spent twice) and the ledger entry is written only
when the provider confirms; a refused refund releases the hold.
"""

import logging
import secrets
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts import message_kinds
from accounts import services as account_services
from accounts.models import User
from billing.gateways import gateway_for
from billing.models import Order, Payment, Refund, Wallet

from .errors import PaymentAmountMismatch
from .wallet import ledger_append

logger = logging.getLogger(__name__)

REFUNDABLE_METHODS = (Payment.Method.ALIPAY, Payment.Method.WECHAT, Payment.Method.CARD)


def new_out_refund_no() -> str:
    return f"RF{timezone.now():%Y%m%d}{secrets.token_hex(6).upper()}"


def refund_request_for_duplicate(*, payment: Payment) -> Refund:
    """Refund a whole payment that arrived for an order already paid or closed.

    Called inside the transaction that recorded the payment; sent after its commit (a
    callback whose transaction rolls back is retried by the provider, and must not have
    refunded already). The database keeps one such refund per payment.
    """
    refund, created = Refund.objects.get_or_create(
        payment=payment,
        reason=Refund.Reason.DUPLICATE_PAYMENT,
        defaults={
            "user_id": payment.order.user_id,
            "out_refund_no": new_out_refund_no(),
            "amount": payment.amount,
            "reference": payment.order.number,
        },
    )
    if created:
        transaction.on_commit(lambda: refund_submit(refund_id=refund.pk))
    return refund


def _refundable_top_ups(*, user: User) -> list[tuple[Payment, Decimal]]:
    """The customer's paid top-ups through a provider, newest first, each with what is left to refund of it."""
    oldest = timezone.now() - timedelta(days=settings.REFUND_WITHIN_DAYS)
    payments = (
        Payment.objects.filter(
            order__user=user,
            order__kind=Order.Kind.TOP_UP,
            status=Payment.Status.SUCCEEDED,
            # Only through a provider configured now (a method switched off cannot refund).
            method__in=[method for method in REFUNDABLE_METHODS if method in settings.PAYMENT_METHOD_GATEWAYS],
            created_at__gte=oldest,
        )
        .annotate(refunded=Sum("refunds__amount", default=Decimal("0.00")))
        .order_by("-created_at", "-pk")
    )
    # Failed refunds gave their amount back: count only the others.
    failed = dict(
        Refund.objects.filter(payment__in=[p.pk for p in payments], status=Refund.Status.FAILED)
        .values("payment")
        .annotate(total=Sum("amount"))
        .values_list("payment", "total")
    )
    left = []
    for payment in payments:
        remaining = payment.amount - payment.refunded + failed.get(payment.pk, Decimal("0.00"))
        if remaining > 0:
            left.append((payment, remaining))
    return left


def refunds_request_for_balance(*, wallet: Wallet, amount: Decimal, actor: User | None, reference: str) -> list[Refund]:
    """Hold ``amount`` of a locked wallet and request refunds of it against the customer's top-ups.

    Returns the refunds made (sent after the commit); their total may be less than
    ``amount`` when no provider payment covers the rest (the caller refunds that by hand).
    """
    refunds = []
    to_cover = amount
    for payment, remaining in _refundable_top_ups(user=wallet.user):
        if to_cover <= 0:
            break
        part = min(remaining, to_cover)
        refunds.append(
            Refund.objects.create(
                payment=payment,
                user=wallet.user,
                out_refund_no=new_out_refund_no(),
                amount=part,
                reason=Refund.Reason.WALLET_BALANCE,
                reference=reference[:64],
                actor=actor if getattr(actor, "pk", None) else None,
            )
        )
        to_cover -= part
    if refunds:
        wallet.held += sum(refund.amount for refund in refunds)
        wallet.save(update_fields=["held", "updated_at"])
        ids = [refund.pk for refund in refunds]
        transaction.on_commit(lambda: [refund_submit(refund_id=pk) for pk in ids])
    return refunds


def refund_submit(*, refund_id: int) -> Refund:
    """Ask the provider for a refund still ``requested`` (again, if an earlier call got no answer)."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != Refund.Status.REQUESTED:
        return refund
    payment = refund.payment
    try:
        result = gateway_for(payment.method).refund(
            out_trade_no=payment.out_trade_no,
            amount=refund.amount,
            out_refund_no=refund.out_refund_no,
            total=payment.amount,
        )
    except Exception:
        # No answer: it may or may not have arrived. The settle job asks by refund number.
        logger.exception("Refund %s: the provider did not answer", refund.out_refund_no)
        return refund
    if result.status == "unknown" or result.status == "not_found":
        return refund
    return refund_record_result(
        out_refund_no=refund.out_refund_no,
        status=result.status,
        provider_refund_id=result.provider_refund_id,
        failure_reason=result.failure_reason,
        amount=result.amount,
    )


def refund_record_result(
    *,
    out_refund_no: str,
    status: str,
    provider_refund_id: str = "",
    failure_reason: str = "",
    amount: Decimal | None = None,
) -> Refund:
    """Apply what the provider says of one refund. Safe to call any number of times.

    A final state (succeeded, failed) never changes. A confirmation whose amount is not the
    refund's is refused (PaymentAmountMismatch). On success a wallet refund's amount leaves
    the hold and the balance through one ledger entry (referenced by the refund number, so
    it exists once); on failure the hold is released and the money stays spendable.
    """
    with transaction.atomic():
        refund = Refund.objects.select_for_update().select_related("payment__order").get(out_refund_no=out_refund_no)
        if amount is not None and amount != refund.amount:
            logger.error(
                "Provider reported refund %s of %s, which is %s: refused", out_refund_no, amount, refund.amount
            )
            raise PaymentAmountMismatch(out_refund_no)
        if refund.status in (Refund.Status.SUCCEEDED, Refund.Status.FAILED):
            return refund
        refund.provider_refund_id = provider_refund_id or refund.provider_refund_id
        if status == "pending":
            refund.status = Refund.Status.PENDING
            refund.save(update_fields=["status", "provider_refund_id", "updated_at"])
            return refund
        if status not in ("succeeded", "failed"):
            return refund
        if refund.reason == Refund.Reason.WALLET_BALANCE:
            wallet = Wallet.objects.select_for_update().get(user_id=refund.user_id)
            wallet.held -= refund.amount
            wallet.save(update_fields=["held", "updated_at"])
            if status == "succeeded":
                ledger_append(
                    user=wallet.user, kind="refund", amount=-refund.amount, reference=refund.out_refund_no,
                    actor=refund.actor, note=refund.reference,
                )  # fmt: skip
        if status == "succeeded":
            refund.status = Refund.Status.SUCCEEDED
            refund.confirmed_at = timezone.now()
        else:
            refund.status = Refund.Status.FAILED
            refund.failure_reason = failure_reason[:200]
            logger.error("Refund %s refused by the provider: %s", out_refund_no, failure_reason)
            if refund.reason == Refund.Reason.WALLET_BALANCE:
                account_services.notify(
                    user=refund.user, kind=message_kinds.REFUND_FAILED_WALLET, params={"amount": refund.amount}
                )
            else:
                account_services.notify(
                    user=refund.user,
                    kind=message_kinds.REFUND_FAILED_ORDER,
                    params={"amount": refund.amount, "number": refund.payment.order.number},
                )
        refund.save(update_fields=["status", "provider_refund_id", "failure_reason", "confirmed_at", "updated_at"])
    return refund


def refund_settle_by_query(*, refund_id: int) -> Refund:
    """Ask the provider how an open refund ended; send again one it never received."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status not in Refund.OPEN:
        return refund
    try:
        result = gateway_for(refund.payment.method).refund_query(
            out_trade_no=refund.payment.out_trade_no, out_refund_no=refund.out_refund_no
        )
    except Exception:
        logger.exception("Refund query failed for %s", refund.out_refund_no)
        return refund
    if result.status == "not_found":
        # Never arrived: the same refund number again cannot refund twice.
        return refund_submit(refund_id=refund.pk) if refund.status == Refund.Status.REQUESTED else refund
    if result.status == "unknown":
        return refund
    try:
        return refund_record_result(
            out_refund_no=refund.out_refund_no,
            status=result.status,
            provider_refund_id=result.provider_refund_id,
            failure_reason=result.failure_reason,
            amount=result.amount,
        )
    except PaymentAmountMismatch:
        return Refund.objects.get(pk=refund_id)


def refunds_settle(*, limit: int = 500) -> dict:
    """The scheduled job: settle every open refund by asking its provider."""
    ids = list(Refund.objects.filter(status__in=Refund.OPEN).order_by("pk").values_list("pk", flat=True)[:limit])
    settled = sum(refund_settle_by_query(refund_id=pk).status not in Refund.OPEN for pk in ids)
    return {"checked": len(ids), "settled": settled}
