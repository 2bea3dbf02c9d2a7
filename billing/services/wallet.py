"""The wallet ledger: every change of a balance is an appended entry, in one transaction."""

from decimal import Decimal

from django.db import IntegrityError, transaction

from accounts.models import User
from billing.models import LedgerEntry, Wallet

from .errors import ERR_INSUFFICIENT_BALANCE, BillingError


class DuplicateLedgerEntry(BillingError):
    """An entry of this kind already exists for this reference (a retried request)."""


def wallet_get_or_create(*, user: User) -> Wallet:
    wallet, _created = Wallet.objects.get_or_create(user=user)
    return wallet


def ledger_append(
    *, user: User, kind: str, amount: Decimal, reference: str, actor: User | None = None, note: str = ""
) -> LedgerEntry:
    """Append one entry and move the balance with it, or raise.

    The wallet row is locked so concurrent entries apply one after another; a
    negative result is refused here and, as a last line, by the database's check.
    Each (kind, reference) exists once: a retried top-up or charge raises
    DuplicateLedgerEntry instead of applying twice.
    """
    amount = Decimal(amount).quantize(Decimal("0.01"))
    wallet_get_or_create(user=user)
    with transaction.atomic():
        wallet = Wallet.objects.select_for_update().get(user=user)
        new_balance = wallet.balance + amount
        # What is held for refunds on their way back cannot be spent (it leaves through its own entry).
        if new_balance < 0 or (amount < 0 and new_balance < wallet.held):
            raise BillingError(ERR_INSUFFICIENT_BALANCE)
        try:
            with transaction.atomic():
                entry = LedgerEntry.objects.create(
                    wallet=wallet,
                    kind=kind,
                    amount=amount,
                    balance_after=new_balance,
                    reference=reference,
                    actor=actor if getattr(actor, "pk", None) else None,
                    note=note,
                )
        except IntegrityError as error:
            raise DuplicateLedgerEntry(f"{kind} {reference} already recorded") from error
        wallet.balance = new_balance
        wallet.save(update_fields=["balance", "updated_at"])
    return entry
