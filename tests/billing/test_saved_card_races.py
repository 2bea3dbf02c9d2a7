"""Saved cards and auto-renew switched off on two lines at once, with real threads on PostgreSQL."""

from billing import services
from billing.models import LineService, SavedCard
from tests.billing.conftest import verified_customer
from tests.billing.test_saved_cards import remember_a_card, renews_by_card, second_line
from tests.races import RACE_MARKS, Pause, run_while_held

pytestmark = RACE_MARKS
BY_CARD = LineService.AutoRenewMethod.WALLET_THEN_CARD


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
