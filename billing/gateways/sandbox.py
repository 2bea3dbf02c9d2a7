"""The built-in sandbox provider: simulates success, decline and timeout, and calls back
with a signed notification as Alipay and WeChat Pay do.

Cards decide by their number: ending in 0002 is declined, ending in 0119 times out
(the sandbox charges it but the answer is lost, the case that makes double charges),
anything else succeeds. Alipay and WeChat Pay send the customer to a sandbox cashier
page with "pay", "decline" and "time out" buttons.

The sandbox charges in CNY. A cashier trade left waiting longer than the pay-before window
(ORDER_PAY_WITHIN_MINUTES) is closed when queried, as Alipay closes an unpaid trade.

Notifications are signed with HMAC-SHA256 over ``"<timestamp>.<body>"`` with
PAYMENT_SANDBOX_SECRET (a secret of its own, never SECRET_KEY; without it nothing is
signed or believed), and delivered
to the same handler the webhook URL uses (in-process: the sandbox has no network). The
sandbox stands for the provider outside, so it calls in to that handler like a callback
would; no billing module imports it statically (settings name it as a gateway class).
"""

import hashlib
import hmac
import json
import logging
import secrets
import time
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from billing.models import SandboxCharge
from billing.webhooks import NOTIFICATION_REFUSED, handle_provider_notification

from .base import GatewayResult, InvalidNotification, PaymentGateway, ProviderEvent, RefundResult

SIGNATURE_HEADER = "X-Sandbox-Signature"
TIMESTAMP_HEADER = "X-Sandbox-Timestamp"
DECLINED_SUFFIX = "0002"
TIMEOUT_SUFFIX = "0119"
CURRENCY = "CNY"

logger = logging.getLogger(__name__)


def _secret() -> bytes:
    # An empty key would let anyone sign a callback: refuse instead.
    if not settings.PAYMENT_SANDBOX_SECRET:
        raise ImproperlyConfigured("PAYMENT_SANDBOX_SECRET is not set: the sandbox cannot sign or verify callbacks.")
    return settings.PAYMENT_SANDBOX_SECRET.encode()


def sign(body: bytes, timestamp: int) -> str:
    return hmac.new(_secret(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signed_notification(charge) -> tuple[dict, bytes]:
    """The headers and body the sandbox sends for this charge's current state."""
    body = json.dumps(
        {
            "event_id": f"evt_{charge.transaction_id}_{charge.status}",
            "out_trade_no": charge.out_trade_no,
            "trade_status": charge.status,
            "transaction_id": charge.transaction_id,
            "amount": str(charge.amount),
            "currency": CURRENCY,
        },
        sort_keys=True,
    ).encode()
    timestamp = int(time.time())
    return {SIGNATURE_HEADER: sign(body, timestamp), TIMESTAMP_HEADER: str(timestamp)}, body


class SandboxGateway(PaymentGateway):
    name = "sandbox"

    def create(self, *, out_trade_no, amount, method, description, card, return_url, device="web", expires_at=None,
               client_ip=""):  # fmt: skip
        if method in ("alipay", "wechat"):
            SandboxCharge.objects.get_or_create(
                out_trade_no=out_trade_no,
                defaults={"amount": amount, "status": "waiting", "transaction_id": _transaction_id()},
            )
            return GatewayResult(status="pending", redirect_url=reverse("billing:sandbox_cashier", args=[out_trade_no]))
        number = "".join(ch for ch in (card or {}).get("number", "") if ch.isdigit())
        if number.endswith(DECLINED_SUFFIX):
            self._record(out_trade_no, amount, "failed")
            return GatewayResult(status="failed", failure_reason="card_declined")
        charge = self._record(out_trade_no, amount, "succeeded")
        token = f"tok_{secrets.token_hex(8)}" if (card or {}).get("save") else ""
        if number.endswith(TIMEOUT_SUFFIX):
            return GatewayResult(status="unknown", failure_reason="timeout")
        self.deliver(charge)
        brand = _card_brand(number) if token else ""
        return GatewayResult(
            status="succeeded", transaction_id=charge.transaction_id, card_token=token, card_brand=brand
        )

    def charge_saved_card(self, *, out_trade_no, amount, token, description):
        if token.endswith(DECLINED_SUFFIX):
            self._record(out_trade_no, amount, "failed")
            return GatewayResult(status="failed", failure_reason="card_declined")
        charge = self._record(out_trade_no, amount, "succeeded")
        return GatewayResult(status="succeeded", transaction_id=charge.transaction_id)

    def complete_at_cashier(self, *, out_trade_no: str, outcome: str) -> None:
        """The customer pressed a button on the sandbox cashier page."""
        with transaction.atomic():
            charge = SandboxCharge.objects.select_for_update().get(out_trade_no=out_trade_no)
            if charge.status == "waiting":
                charge.status = "failed" if outcome == "decline" else "succeeded"
                charge.save(update_fields=["status"])
        if outcome != "timeout":
            self.deliver(charge)  # a timeout: charged, but the callback never comes

    def deliver(self, charge) -> None:
        headers, body = signed_notification(charge)
        try:
            handle_provider_notification(provider="sandbox", headers=headers, body=body)
        except NOTIFICATION_REFUSED as error:
            # What the webhook would answer with a 400: the provider's problem, not the caller's.
            logger.warning("The sandbox's notification for %s was refused: %r", charge.out_trade_no, error)

    def verify_notification(self, *, headers, body):
        signature = headers.get(SIGNATURE_HEADER, "")
        if not settings.PAYMENT_SANDBOX_SECRET:
            raise InvalidNotification("no signing secret configured")
        try:
            timestamp = int(headers.get(TIMESTAMP_HEADER, ""))
        except ValueError as error:
            raise InvalidNotification("missing timestamp") from error
        if abs(time.time() - timestamp) > settings.PAYMENT_NOTIFICATION_MAX_AGE_SECONDS:
            raise InvalidNotification("stale notification")
        if not hmac.compare_digest(sign(body, timestamp), signature):
            raise InvalidNotification("bad signature")
        try:
            data = json.loads(body)
            return ProviderEvent(
                event_id=data["event_id"],
                out_trade_no=data["out_trade_no"],
                status=data["trade_status"],
                transaction_id=data["transaction_id"],
                amount=Decimal(data["amount"]),
                currency=data["currency"],
                payload=data,
            )
        except (ValueError, KeyError, ArithmeticError) as error:
            raise InvalidNotification("malformed body") from error

    def query(self, *, out_trade_no):
        """What the sandbox knows of this trade, from its own records (SandboxCharge)."""
        closing_before = timezone.now() - timedelta(minutes=settings.ORDER_PAY_WITHIN_MINUTES)
        waiting = SandboxCharge.objects.filter(out_trade_no=out_trade_no, status="waiting")
        waiting.filter(created_at__lte=closing_before).update(status="failed")
        charge = SandboxCharge.objects.filter(out_trade_no=out_trade_no).first()
        if charge is None:
            return GatewayResult(status="failed", failure_reason="not_found")
        if charge.status == "waiting":
            return GatewayResult(status="pending", transaction_id=charge.transaction_id)
        return GatewayResult(
            status=charge.status,
            transaction_id=charge.transaction_id,
            failure_reason="closed" if charge.status == "failed" else "",
            amount=charge.amount,
            currency=CURRENCY,
        )

    def refund(self, *, out_trade_no, amount, out_refund_no="", total=None):
        """The sandbox refunds at once, in full or in part."""
        if not SandboxCharge.objects.filter(out_trade_no=out_trade_no, status__in=["succeeded", "refunded"]).exists():
            return RefundResult(status="failed", failure_reason="trade_not_paid")
        SandboxCharge.objects.filter(out_trade_no=out_trade_no).update(status="refunded")
        return RefundResult(status="succeeded", provider_refund_id=f"SBXR{out_refund_no}", amount=amount)

    def refund_query(self, *, out_trade_no, out_refund_no):
        if SandboxCharge.objects.filter(out_trade_no=out_trade_no, status="refunded").exists():
            return RefundResult(status="succeeded", provider_refund_id=f"SBXR{out_refund_no}")
        return RefundResult(status="not_found")

    def close(self, *, out_trade_no):
        """Like its query, the sandbox closes a cashier trade only once its own window is over
        (it is not told the order's pay-before time)."""
        return self.query(out_trade_no=out_trade_no).status == "failed"

    def _record(self, out_trade_no, amount, status):
        charge, _created = SandboxCharge.objects.update_or_create(
            out_trade_no=out_trade_no,
            defaults={"amount": amount, "status": status, "transaction_id": _transaction_id()},
        )
        return charge


def _transaction_id() -> str:
    return f"SBX{secrets.token_hex(10).upper()}"


CARD_BRANDS_BY_PREFIX = (
    (("4",), "visa"),
    (("51", "52", "53", "54", "55", "22", "23", "24", "25", "26", "27"), "mastercard"),
    (("62",), "unionpay"),
    (("34", "37"), "amex"),
    (("35",), "jcb"),
)


def _card_brand(number: str) -> str:
    """The network a real provider would name for the card, from its first digits."""
    for prefixes, brand in CARD_BRANDS_BY_PREFIX:
        if number.startswith(prefixes):
            return brand
    return ""
