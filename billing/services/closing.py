"""Billing's part of cancelling a line: hand back the balance, stop auto-renew."""

from decimal import Decimal

from django.db import transaction

from accounts import message_kinds
from accounts import services as account_services
from accounts.models import Line, User
from billing.models import LineService, Wallet

from .wallet import ledger_append


def wallet_refund_balance(*, user: User, actor: User | None, reference: str) -> Decimal:
    """Return the whole wallet balance to the customer through a 'refund' ledger entry.

    The money goes back to the customer's original payment method (outside this system,
    by finance); the wallet ends at zero. Returns the amount refunded (0 if empty).
    """
    with transaction.atomic():
        wallet = Wallet.objects.select_for_update().filter(user=user).first()
        if wallet is None or wallet.balance == 0:
            return Decimal("0.00")
        amount = wallet.balance
        ledger_append(user=user, kind="refund", amount=-amount, reference=reference, actor=actor)
        account_services.notify(user=user, kind=message_kinds.BALANCE_REFUNDED, params={"amount": amount})
    return amount


def line_billing_close(*, line: Line, actor: User | None) -> None:
    """Stop auto-renew for a cancelled line."""
    LineService.objects.filter(line=line).update(auto_renew=False, auto_renew_next_attempt_at=None)
