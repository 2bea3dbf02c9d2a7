"""Daily reconciliation: a provider's statement of one day against our payments and refunds.

Every statement line is matched by out-trade number (a refund by its refund number) and
amount. What the provider lists that we have no record of is an ``unknown_trade``. A
trade it lists as paid that we hold as failed (or not settled yet) is first settled by
asking the provider, as a late callback would be (``payment_record_result``), and is a
``not_taken_by_us`` when the provider does not confirm it. What we recorded that day that
the statement lacks is ``missing_at_provider``; a match whose amounts differ is an
``amount_mismatch``. A day is reconciled once per provider: running it again replaces the
open discrepancies of that day (resolved ones stay resolved) under the reconciliation's
row lock, so two runs at once write one report.
"""

import logging
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from accounts.models import User
from accounts.services import audit_record
from billing.gateways import StatementLine, gateway_named
from billing.models import Discrepancy, Payment, Reconciliation, Refund

from .errors import BillingError
from .payments import payment_settle_by_query

logger = logging.getLogger(__name__)
ERR_RESOLUTION_NOTE = gettext_lazy("Say how the discrepancy was resolved.")
TAKEN = (Payment.Status.SUCCEEDED, Payment.Status.REFUNDED)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))  # the site's time zone (Asia/Shanghai)
    return start, start + timedelta(days=1)


def methods_of(provider: str) -> list[str]:
    return [method for method, name in settings.PAYMENT_METHOD_GATEWAYS.items() if name == provider]


def _findings(*, provider: str, day: date, lines: list[StatementLine]) -> tuple[list[Discrepancy], int]:
    methods = methods_of(provider)
    payment_lines = [line for line in lines if line.kind == "payment"]
    refund_lines = [line for line in lines if line.kind == "refund"]
    payments = {
        payment.out_trade_no: payment
        for payment in Payment.objects.filter(
            method__in=methods, out_trade_no__in=[line.out_trade_no for line in payment_lines]
        )
    }
    refunds = {
        refund.out_refund_no: refund
        for refund in Refund.objects.filter(
            payment__method__in=methods,
            out_refund_no__in=[line.out_refund_no for line in refund_lines],
            status=Refund.Status.SUCCEEDED,
        )
    }
    found, matched = [], 0
    for line in payment_lines:
        payment = payments.get(line.out_trade_no)
        if payment is not None and payment.status not in TAKEN:
            # Ours, recorded as not paid, and the provider's own answer did not say otherwise
            # (``_settle_listed``): staff find out which is right.
            found.append(
                Discrepancy(
                    kind=Discrepancy.Kind.NOT_TAKEN_BY_US,
                    out_trade_no=line.out_trade_no,
                    transaction_id=line.transaction_id,
                    our_amount=payment.amount,
                    provider_amount=line.amount,
                )
            )
        elif payment is None:
            found.append(
                Discrepancy(
                    kind=Discrepancy.Kind.UNKNOWN_TRADE,
                    out_trade_no=line.out_trade_no,
                    transaction_id=line.transaction_id,
                    provider_amount=line.amount,
                )
            )
        elif payment.amount != line.amount:
            found.append(
                Discrepancy(
                    kind=Discrepancy.Kind.AMOUNT_MISMATCH,
                    out_trade_no=line.out_trade_no,
                    transaction_id=line.transaction_id,
                    our_amount=payment.amount,
                    provider_amount=line.amount,
                )
            )
        else:
            matched += 1
    for line in refund_lines:
        refund = refunds.get(line.out_refund_no)
        if refund is None:
            found.append(
                Discrepancy(
                    kind=Discrepancy.Kind.UNKNOWN_TRADE,
                    out_trade_no=line.out_trade_no,
                    out_refund_no=line.out_refund_no,
                    transaction_id=line.transaction_id,
                    provider_amount=line.amount,
                )
            )
        elif refund.amount != abs(line.amount):
            found.append(
                Discrepancy(
                    kind=Discrepancy.Kind.AMOUNT_MISMATCH,
                    out_trade_no=line.out_trade_no,
                    out_refund_no=line.out_refund_no,
                    our_amount=-refund.amount,
                    provider_amount=line.amount,
                )
            )
        else:
            matched += 1

    start, end = _day_bounds(day)
    listed_trades = {line.out_trade_no for line in payment_lines}
    listed_refunds = {line.out_refund_no for line in refund_lines}
    ours = Payment.objects.filter(method__in=methods, status__in=TAKEN, updated_at__gte=start, updated_at__lt=end)
    for payment in ours.exclude(out_trade_no__in=listed_trades).order_by("pk"):
        found.append(
            Discrepancy(
                kind=Discrepancy.Kind.MISSING_AT_PROVIDER,
                out_trade_no=payment.out_trade_no,
                transaction_id=payment.provider_transaction_id,
                our_amount=payment.amount,
            )
        )
    confirmed = Refund.objects.filter(
        payment__method__in=methods, status=Refund.Status.SUCCEEDED, confirmed_at__gte=start, confirmed_at__lt=end
    ).select_related("payment")
    for refund in confirmed.exclude(out_refund_no__in=listed_refunds).order_by("pk"):
        found.append(
            Discrepancy(
                kind=Discrepancy.Kind.MISSING_AT_PROVIDER,
                out_trade_no=refund.payment.out_trade_no,
                out_refund_no=refund.out_refund_no,
                our_amount=-refund.amount,
            )
        )
    return found, matched


def _settle_listed(*, provider: str, lines: list[StatementLine], now: datetime) -> None:
    """Ask the provider about each trade its statement lists as paid that we do not hold as taken.

    A success we missed (its callback lost, or arriving after we had recorded the attempt
    as failed) is then applied by ``payment_record_result``, the one writer of an attempt's
    outcome, as the callback would have applied it: the order paid, or the money refunded.
    The statement alone changes nothing (it may be a file brought by hand): only the
    provider's answer to the query does.
    """
    listed = [line.out_trade_no for line in lines if line.kind == "payment"]
    not_taken = (
        Payment.objects.filter(method__in=methods_of(provider), out_trade_no__in=listed)
        .exclude(status__in=TAKEN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for payment_id in not_taken:
        payment_settle_by_query(payment_id=payment_id, now=now, recheck_failed=True)


def reconcile(
    *, provider: str, day: date, lines: list[StatementLine] | None = None, source: str = ""
) -> Reconciliation:
    """Reconcile one provider's statement of one day; downloads it from the provider unless ``lines`` are given."""
    if not methods_of(provider):
        raise ValueError(f"No payment method is taken by the gateway {provider!r}.")
    if lines is None:
        lines = gateway_named(provider).statement(day=day)
        source = source or "downloaded"
    _settle_listed(provider=provider, lines=lines, now=timezone.now())
    found, matched = _findings(provider=provider, day=day, lines=lines)
    try:
        Reconciliation.objects.get_or_create(provider=provider, day=day, defaults={"source": source[:255]})
    except IntegrityError:
        pass  # another run created it a moment ago; its row lock orders us after it
    with transaction.atomic():
        report = Reconciliation.objects.select_for_update().get(provider=provider, day=day)
        resolved = set(
            report.discrepancies.filter(resolved_at__isnull=False).values_list("kind", "out_trade_no", "out_refund_no")
        )
        report.discrepancies.filter(resolved_at__isnull=True).delete()
        fresh = [d for d in found if (d.kind, d.out_trade_no, d.out_refund_no) not in resolved]
        for discrepancy in fresh:
            discrepancy.reconciliation = report
        Discrepancy.objects.bulk_create(fresh)
        report.source = source[:255]
        report.line_count = len(lines)
        report.matched_count = matched
        report.ran_at = timezone.now()
        report.save(update_fields=["source", "line_count", "matched_count", "ran_at"])
    if fresh:
        logger.warning("%s statement of %s: %d discrepancies", provider, day, len(fresh))
    return report


def reconcile_yesterday(*, today: date | None = None) -> dict:
    """The scheduled job: yesterday's statement of every real provider that takes a method."""
    today = today or timezone.localdate()
    day = today - timedelta(days=1)
    results = {}
    for provider in sorted(set(settings.PAYMENT_METHOD_GATEWAYS.values())):
        if provider == "sandbox":
            continue  # the sandbox publishes no statement
        try:
            report = reconcile(provider=provider, day=day)
        except Exception:
            logger.exception("Reconciling %s for %s failed", provider, day)
            results[provider] = "failed"
            continue
        results[provider] = report.discrepancies.filter(resolved_at__isnull=True).count()
    return results


def discrepancy_resolve(*, discrepancy_id: int, actor: User, note: str) -> Discrepancy:
    """Staff looked into a discrepancy and settled it (a refund by hand, a corrected record…)."""
    note = note.strip()
    if not note:
        raise BillingError(ERR_RESOLUTION_NOTE)
    with transaction.atomic():
        discrepancy = Discrepancy.objects.select_for_update().get(pk=discrepancy_id)
        if discrepancy.resolved_at is not None:
            return discrepancy
        discrepancy.resolved_at = timezone.now()
        discrepancy.resolved_by = actor
        discrepancy.resolution_note = note[:200]
        discrepancy.save(update_fields=["resolved_at", "resolved_by", "resolution_note"])
        audit_record(actor=actor, verb="billing.discrepancy_resolved", target=discrepancy, data={"note": note[:200]})
    return discrepancy
