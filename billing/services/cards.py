"""Saved cards: a card token is kept only while a line of its owner may charge it."""

from accounts.models import User
from accounts.services import audit_record
from billing.models import LineService, SavedCard


def saved_cards_release(*, user_id: int, actor: User | None, why: str, card_id: int | None = None) -> int:
    """Remove the customer's saved cards unless a line of theirs still renews by card; return how many went.

    Auto-renew "wallet, then my saved card" is the only thing that charges a saved card, so
    once no line of the customer has it on the token is of no use and is not kept. Called
    in the transaction that switched a line off it or closed the line, after that line's
    service row was changed. The cards are locked first: two lines switched off at once
    take turns, and the second sees the first's change.

    With ``card_id``, the customer asked to remove that card: it goes whatever their lines
    say (``saved_card_remove`` switches the lines), and SavedCard.DoesNotExist is raised
    when it is not one of theirs.
    """
    cards = list(SavedCard.objects.select_for_update().filter(user_id=user_id).values_list("pk", flat=True))
    if card_id is not None:
        if card_id not in cards:
            raise SavedCard.DoesNotExist
        cards = [card_id]
    elif (
        not cards
        or LineService.objects.filter(
            line__owner_id=user_id, auto_renew=True, auto_renew_method=LineService.AutoRenewMethod.WALLET_THEN_CARD
        ).exists()
    ):
        return 0
    removed, _by_model = SavedCard.objects.filter(pk__in=cards).delete()
    audit_record(
        actor=actor,
        verb="saved_cards.removed",
        target=User(pk=user_id),
        subject_user=User(pk=user_id),
        data={"cards": removed, "why": why},
    )
    return removed
