"""Payment providers behind one interface. Settings map a payment method to a gateway class."""

from django.conf import settings
from django.utils.module_loading import import_string

from .base import GatewayResult, InvalidNotification, PaymentGateway, ProviderEvent, RefundResult, StatementLine

__all__ = [
    "GatewayResult",
    "InvalidNotification",
    "PaymentGateway",
    "ProviderEvent",
    "RefundResult",
    "StatementLine",
    "cashier_origins",
    "gateway_for",
    "gateway_named",
]


def gateway_named(name: str) -> PaymentGateway:
    path = settings.PAYMENT_GATEWAYS.get(name)
    if path is None:
        raise KeyError(name)
    return import_string(path)()


def gateway_for(method: str) -> PaymentGateway:
    return gateway_named(settings.PAYMENT_METHOD_GATEWAYS[method])


def cashier_origins() -> list[str]:
    """The origins the configured gateways send a customer to (for the pay form's CSP form-action)."""
    origins = set()
    for name in set(settings.PAYMENT_METHOD_GATEWAYS.values()):
        path = settings.PAYMENT_GATEWAYS.get(name)
        if path:
            origins.update(import_string(path).cashier_origins())
    return sorted(origins)
