"""The interface a payment provider implements (real Alipay or WeChat Pay SDKs fit behind it)."""

from dataclasses import dataclass, field
from datetime import date, datetime
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
    card_brand: str = ""  # with a card_token: the card's network as the provider names it ("visa")
    amount: Decimal | None = None
    currency: str = ""


@dataclass
class ProviderEvent:
    """A verified callback. ``kind`` "payment" speaks of a trade; "refund" of the refund
    ``out_refund_no`` of that trade (its ``amount`` is then the refund's)."""

    event_id: str
    out_trade_no: str
    status: str
    transaction_id: str
    amount: Decimal
    currency: str
    payload: dict = field(default_factory=dict)
    kind: str = "payment"
    out_refund_no: str = ""


@dataclass
class RefundResult:
    """What the provider said of one refund: "succeeded" (the money left), "pending" (accepted,
    still processing), "failed" (refused: nothing will move), "not_found" (the provider never
    received it: safe to send again under the same refund number), or "unknown" (no answer)."""

    status: str
    provider_refund_id: str = ""
    failure_reason: str = ""
    amount: Decimal | None = None


@dataclass
class StatementLine:
    """One line of a provider's statement: a payment (positive) or a refund (negative amount)."""

    kind: str  # "payment" or "refund"
    out_trade_no: str
    transaction_id: str
    amount: Decimal
    out_refund_no: str = ""


class PaymentGateway:
    name = "base"
    # Settings holding addresses this gateway talks to or gives out; production wants https.
    address_settings: tuple[str, ...] = ()

    @classmethod
    def configuration_problems(cls) -> list[str]:
        """What is missing or unreadable in this gateway's settings (the system checks report it)."""
        return []

    @classmethod
    def cashier_origins(cls) -> list[str]:
        """Origins outside this site that ``create`` may send the customer to."""
        return []

    def create(self, *, out_trade_no: str, amount: Decimal, method: str, description: str, card: dict | None,
               return_url: str, device: str = "web", expires_at: datetime | None = None,
               client_ip: str = "") -> GatewayResult:  # fmt: skip
        """Start a charge. ``device`` is "phone" or "web" (which cashier the customer gets);
        ``expires_at`` is when the provider must stop accepting this trade (the order's pay-before time)."""
        raise NotImplementedError

    def charge_saved_card(self, *, out_trade_no: str, amount: Decimal, token: str, description: str) -> GatewayResult:
        raise NotImplementedError

    def verify_notification(self, *, headers: dict, body: bytes) -> ProviderEvent:
        raise NotImplementedError

    def query(self, *, out_trade_no: str) -> GatewayResult:
        """How the attempt with this out-trade number (our idempotency key at the provider) ended."""
        raise NotImplementedError

    def refund(self, *, out_trade_no: str, amount: Decimal, out_refund_no: str = "",
               total: Decimal | None = None) -> RefundResult:  # fmt: skip
        """Send ``amount`` of the trade (whose whole is ``total``) back. The provider keeps each
        ``out_refund_no`` once, so asking again with the same number never refunds twice."""
        raise NotImplementedError

    def refund_query(self, *, out_trade_no: str, out_refund_no: str) -> RefundResult:
        raise NotImplementedError

    def close(self, *, out_trade_no: str) -> bool:
        """Close an unpaid trade so that it can no longer be paid. False when it could not be
        closed because it was paid meanwhile (ask ``query``)."""
        raise NotImplementedError

    def statement(self, *, day: date) -> list[StatementLine]:
        """The provider's statement of one day (payments and refunds), downloaded."""
        raise NotImplementedError

    def parse_statement(self, content: bytes) -> list[StatementLine]:
        """A statement file as the provider publishes it (for a file downloaded by hand)."""
        raise NotImplementedError
