"""Provider callbacks: verified, stored once by event id, applied in a transaction."""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.gateways import InvalidNotification, gateway_named
from billing.models import Payment, ProviderNotification, Refund
from billing.services.errors import PaymentAmountMismatch
from billing.services.payments import payment_record_result
from billing.services.refunds import refund_record_result

logger = logging.getLogger(__name__)


class UnknownPayment(Exception):
    pass


# A callback refused with any of these changed nothing; the webhook answers 400 and the provider retries.
NOTIFICATION_REFUSED = (InvalidNotification, UnknownPayment, PaymentAmountMismatch)


def handle_provider_notification(*, provider: str, headers: dict, body: bytes) -> bool:
    """Verify and apply one callback. Returns False when this event was already handled.

    Raises InvalidNotification for a forged or stale callback, UnknownPayment for an
    out-trade number we never issued, and PaymentAmountMismatch for a callback whose
    amount or currency is not the payment's (logged); none of them changes anything.
    """
    gateway = gateway_named(provider)
    event = gateway.verify_notification(headers=headers, body=body)
    if event.kind == "refund":
        if not Refund.objects.filter(
            out_refund_no=event.out_refund_no, payment__out_trade_no=event.out_trade_no
        ).exists():
            raise UnknownPayment(event.out_refund_no)
    elif not Payment.objects.filter(out_trade_no=event.out_trade_no).exists():
        raise UnknownPayment(event.out_trade_no)
    try:
        with transaction.atomic():
            record = ProviderNotification.objects.create(
                provider=provider, event_id=event.event_id, out_trade_no=event.out_trade_no, payload=event.payload
            )
            if event.kind == "refund":
                refund_record_result(
                    out_refund_no=event.out_refund_no,
                    status=event.status,
                    provider_refund_id=event.transaction_id,
                    amount=event.amount,
                )
            else:
                payment_record_result(
                    out_trade_no=event.out_trade_no,
                    status=event.status,
                    transaction_id=event.transaction_id,
                    amount=event.amount,
                    currency=event.currency,
                )
            record.processed_at = timezone.now()
            record.save(update_fields=["processed_at"])
    except IntegrityError:
        if not ProviderNotification.objects.filter(provider=provider, event_id=event.event_id).exists():
            raise
        # The same event again (a provider retry, or two deliveries racing): applied once already.
        logger.info("Duplicate %s notification %s ignored", provider, event.event_id)
        return False
    return True
