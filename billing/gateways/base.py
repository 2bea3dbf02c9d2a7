"""The interface a payment provider implements (real Alipay or WeChat Pay SDKs fit behind it)."""

from dataclasses import dataclass, field
from decimal import Decimal


class InvalidNotification(Exception):
    """A callback whose signature, timestamp or content cannot be trusted."""


@dataclass
class GatewayResult:
    """What the provider said when asked to charge, or when queried.

    status: "succeeded", "failed", "pending" (the customer must act, e.g. at a cashier
    page), or "unknown" (no answer: settle by ``query`` before any retry). A query's
    answer also says what the provider charged (``amount`` and ``currency``), which must
    match the payment's before it is believed.
    """

    status: str
    transaction_id: str = ""
    redirect_url: str = ""
    failure_reason: str = ""
    card_token: str = ""
    amount: Decimal | None = None
    currency: str = ""


@dataclass
class ProviderEvent:
    event_id: str
    out_trade_no: str
    status: str
    transaction_id: str
    amount: Decimal
    currency: str
    payload: dict = field(default_factory=dict)


class PaymentGateway:
    name = "base"

    def create(self, *, out_trade_no: str, amount: Decimal, method: str, description: str, card: dict | None,
               return_url: str) -> GatewayResult:  # fmt: skip
        raise NotImplementedError

    def charge_saved_card(self, *, out_trade_no: str, amount: Decimal, token: str, description: str) -> GatewayResult:
        raise NotImplementedError

    def verify_notification(self, *, headers: dict, body: bytes) -> ProviderEvent:
        raise NotImplementedError

    def query(self, *, out_trade_no: str) -> GatewayResult:
        """How the attempt with this out-trade number (our idempotency key at the provider) ended."""
        raise NotImplementedError

    def refund(self, *, out_trade_no: str, amount: Decimal) -> GatewayResult:
        raise NotImplementedError
