"""Billing's part of cancelling a line: hand back the balance, stop auto-renew."""

from decimal import Decimal

from django.db import transaction

from accounts import message_kinds
from accounts import services as account_services
from accounts.models import Line, User
from billing.models import LineService, Wallet

from .errors import ERR_BALANCE_CHANGED, BillingError
from .wallet import ledger_append


def wallet_refund_balance(
    *, user: User, actor: User | None, reference: str, confirmed_amount: Decimal | None = None
) -> Decimal:
    """Return the whole wallet balance to the customer through a 'refund' ledger entry.

    The money goes back to the customer's original payment method (outside this system,
    by finance); the wallet ends at zero. Returns the amount refunded (0 if empty).
    ``confirmed_amount`` is the balance the customer was shown and confirmed: if the
    balance is another amount by now (a top-up credited, a renewal paid meanwhile) the
    refund is refused with ERR_BALANCE_CHANGED, under the wallet's lock.
    """
    with transaction.atomic():
        wallet = Wallet.objects.select_for_update().filter(user=user).first()
        if wallet is None or wallet.balance == 0:
            return Decimal("0.00")
        amount = wallet.balance
        if confirmed_amount is not None and Decimal(confirmed_amount).quantize(Decimal("0.01")) != amount:
            raise BillingError(ERR_BALANCE_CHANGED % {"amount": amount})
        ledger_append(user=user, kind="refund", amount=-amount, reference=reference, actor=actor)
        account_services.notify(user=user, kind=message_kinds.BALANCE_REFUNDED, params={"amount": amount})
    return amount


def line_billing_close(*, line: Line, actor: User | None) -> None:
    """Stop auto-renew for a cancelled line."""
    LineService.objects.filter(line=line).update(auto_renew=False, auto_renew_next_attempt_at=None)
