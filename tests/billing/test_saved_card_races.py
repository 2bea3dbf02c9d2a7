"""Saved cards and auto-renew switched off on two lines at once, with real threads on PostgreSQL."""

from accounts.models import AuditEvent
from billing import services
from billing.models import LineService, SavedCard
from tests.billing.conftest import verified_customer
from tests.billing.test_saved_cards import remember_a_card, renews_by_card, second_line
from tests.races import RACE_MARKS, Pause, run_while_held

pytestmark = RACE_MARKS
BY_CARD = LineService.AutoRenewMethod.WALLET_THEN_CARD
WALLET = LineService.AutoRenewMethod.WALLET


def test_switching_off_both_lines_that_renew_by_card_at_once_removes_the_card(plans, monkeypatch):
    # The first switch has checked (the other line still renews by card, so the card stays)
    # and not committed. Unless the second waits for it on the cards' rows, it sees the first
    # line still on and keeps the card too, which nothing could charge any more.
    user, line = verified_customer()
    other = second_line(user)
    remember_a_card(user, line, plans)
    renews_by_card(user, line)
    renews_by_card(user, other)
    pause = Pause(monkeypatch, "billing.services.autorenew.saved_cards_release")

    first, second, returned_while_held = run_while_held(
        lambda: services.autorenew_set(actor=user, line_id=line.pk, enabled=False, method=BY_CARD),
        lambda: services.autorenew_set(actor=user, line_id=other.pk, enabled=False, method=BY_CARD),
        pause=pause,
    )

    assert first[0] == second[0] == "ok", (first, second)
    assert not returned_while_held  # it waited for the cards
    assert not LineService.objects.filter(line__owner=user, auto_renew=True).exists()
    assert not SavedCard.objects.filter(user=user).exists()


def test_removing_the_card_twice_at_once_removes_it_once_and_the_second_finds_it_gone(plans, monkeypatch):
    # A double click on "Remove this card": the first holds the lines and the cards until it
    # commits; the second must wait, then find no card (a 404 to the customer), not remove twice.
    user, line = verified_customer()
    card = remember_a_card(user, line, plans)
    renews_by_card(user, line)
    pause = Pause(monkeypatch, "billing.services.card_removal.saved_cards_release")

    first, second, returned_while_held = run_while_held(
        lambda: services.saved_card_remove(actor=user, card_id=card.pk),
        lambda: services.saved_card_remove(actor=user, card_id=card.pk),
        pause=pause,
    )

    assert first[0] == "ok", first
    assert second[0] == "error" and isinstance(second[1], SavedCard.DoesNotExist), second
    assert not returned_while_held
    assert AuditEvent.objects.filter(verb="saved_cards.removed", subject_user=user).count() == 1
    assert LineService.objects.get(line=line).auto_renew_method == WALLET


def test_removing_the_card_while_its_line_is_switched_off_neither_deadlocks_nor_leaves_the_card(plans, monkeypatch):
    # The removal holds the line's service row and the cards; switching that line's auto-renew
    # off takes the service row first too, so it waits its turn instead of deadlocking.
    user, line = verified_customer()
    card = remember_a_card(user, line, plans)
    renews_by_card(user, line)
    pause = Pause(monkeypatch, "billing.services.card_removal.saved_cards_release")

    removal, switch, returned_while_held = run_while_held(
        lambda: services.saved_card_remove(actor=user, card_id=card.pk),
        lambda: services.autorenew_set(actor=user, line_id=line.pk, enabled=False, method=BY_CARD),
        pause=pause,
    )

    assert removal[0] == switch[0] == "ok", (removal, switch)
    assert not returned_while_held
    assert not SavedCard.objects.filter(user=user).exists()
    service = LineService.objects.get(line=line)
    assert (service.auto_renew, service.auto_renew_method) == (False, BY_CARD)  # the switch came last
