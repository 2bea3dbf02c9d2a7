"""The customer removes a card we keep for them: the card goes, and auto-renew by card falls back to the wallet."""

from dataclasses import dataclass, field

from django.db import transaction

from accounts.models import User
from billing.models import LineService, SavedCard

from .autorenew import autorenew_set
from .cards import saved_cards_release
from .errors import BillingError


@dataclass
class SavedCardRemoval:
    """What removing a card did: the lines now renewing from the wallet alone, and those that could not switch."""

    lines_to_wallet: list = field(default_factory=list)  # the lines (accounts.Line), numbers for the customer
    lines_left: list = field(default_factory=list)


def saved_card_remove(*, actor: User, card_id: int) -> SavedCardRemoval:
    """Remove one of the actor's saved cards; with none left, their auto-renew by card falls back to the wallet.

    Raises SavedCard.DoesNotExist for a card that is not the actor's (a missing one to them).
    Each line the last card leaves switches through ``autorenew_set`` (its audit event, its
    checks); a line that refuses (an open cancellation, say) keeps its setting, which the
    job treats as the wallet alone while no card is saved, and comes back in ``lines_left``.
    """
    by_card = LineService.AutoRenewMethod.WALLET_THEN_CARD
    removal = SavedCardRemoval()
    with transaction.atomic():
        # The lines' service rows before the cards: the order autorenew_set and the job take them in.
        services = list(
            LineService.objects.select_for_update(of=("self",))
            .select_related("line")
            .filter(line__owner_id=actor.pk, auto_renew=True, auto_renew_method=by_card)
            .order_by("line_id")
        )
        saved_cards_release(user_id=actor.pk, actor=actor, why="removed_by_customer", card_id=card_id)
        if SavedCard.objects.filter(user_id=actor.pk).exists():
            return removal  # auto-renew charges the newest card left
        for service in services:
            try:
                autorenew_set(
                    actor=actor,
                    line_id=service.line_id,
                    enabled=True,
                    method=LineService.AutoRenewMethod.WALLET,
                    term_months=service.auto_renew_term_months,
                )
            except BillingError:
                removal.lines_left.append(service.line)
            else:
                removal.lines_to_wallet.append(service.line)
    return removal
