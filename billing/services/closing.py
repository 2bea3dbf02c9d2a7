"""Billing's part of cancelling a line: hand back the balance, stop auto-renew."""

from decimal import Decimal

from django.db import transaction

from accounts import message_kinds
from accounts import services as account_services
from accounts.models import Line, User
from billing.models import LineService, Wallet

from .cards import saved_cards_release
from .errors import ERR_BALANCE_CHANGED, BillingError
from .refunds import refunds_request_for_balance
from .wallet import ledger_append


def wallet_refund_balance(
    *, user: User, actor: User | None, reference: str, confirmed_amount: Decimal | None = None
) -> Decimal:
    """Return the spendable wallet balance to the customer's original payment methods.

    The balance is matched to the customer's top-ups paid through a provider, newest first,
    each up to what is left of it, and a refund is requested from that provider for each:
    its amount is held at once and leaves the balance when the provider confirms
    (services.refunds). What no such payment covers (a staff adjustment, a top-up older than
    REFUND_WITHIN_DAYS) is refunded as before: a 'refund' ledger entry now, paid out by
    finance. Returns the amount refunded or on its way (0 if nothing was spendable).
    ``confirmed_amount`` is the balance the customer was shown and confirmed: if the
    spendable balance is another amount by now (a top-up credited, a renewal paid
    meanwhile) the refund is refused with ERR_BALANCE_CHANGED, under the wallet's lock.
    """
    with transaction.atomic():
        wallet = Wallet.objects.select_for_update().filter(user=user).first()
        if wallet is None or wallet.available <= 0:
            return Decimal("0.00")
        amount = wallet.available
        if confirmed_amount is not None and Decimal(confirmed_amount).quantize(Decimal("0.01")) != amount:
            raise BillingError(ERR_BALANCE_CHANGED % {"amount": amount})
        refunds = refunds_request_for_balance(wallet=wallet, amount=amount, actor=actor, reference=reference)
        by_hand = amount - sum((refund.amount for refund in refunds), Decimal("0.00"))
        if by_hand:
            ledger_append(user=user, kind="refund", amount=-by_hand, reference=reference, actor=actor)
        account_services.notify(user=user, kind=message_kinds.BALANCE_REFUNDED, params={"amount": amount})
    return amount


def line_billing_close(*, line: Line, actor: User | None) -> None:
    """Stop auto-renew for a line being cancelled; remove the saved cards nothing may charge any more.

    The cards go when this line renewed by card and no other line does, or when it is the
    owner's last line (their service ends: nothing is renewed or topped up after).
    """
    service = LineService.objects.select_for_update().filter(line=line).first()
    renewed_by_card = (
        service is not None
        and service.auto_renew
        and service.auto_renew_method == LineService.AutoRenewMethod.WALLET_THEN_CARD
    )
    LineService.objects.filter(line=line).update(auto_renew=False, auto_renew_next_attempt_at=None)
    last_line = (
        not Line.objects.filter(owner_id=line.owner_id)
        .exclude(pk=line.pk)
        .exclude(status=Line.Status.CANCELLED)
        .exists()
    )
    if line.owner_id is not None and (renewed_by_card or last_line):
        saved_cards_release(user_id=line.owner_id, actor=actor, why="line_closed")
