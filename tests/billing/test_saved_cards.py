"""A saved card is kept only while a line of its owner may charge it (auto-renew, wallet then card)."""

import pytest

from accounts import services as account_services
from accounts.models import AuditEvent
from billing import services
from billing.models import LineService, Payment, SavedCard
from billing.services import autorenew
from tests.billing.conftest import renewal_order, verified_customer
from tests.billing.test_autorenew import auto_orders, due_line
from tests.factories import make_line

pytestmark = pytest.mark.django_db
BY_CARD = LineService.AutoRenewMethod.WALLET_THEN_CARD
WALLET = LineService.AutoRenewMethod.WALLET


def remember_a_card(user, line, plans) -> SavedCard:
    """Pay a renewal by card and ask us to remember it, as a customer does before choosing wallet-then-card."""
    order = renewal_order(user, line, plans["basic"])
    services.order_pay(order_id=order.pk, method="card", actor=user, card={"number": "4242424242424242", "save": True})
    return SavedCard.objects.get(user=user)


def renews_by_card(user, line):
    return services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method=BY_CARD)


def second_line(user):
    line, _code = make_line(owner=user)
    account_services.user_mark_real_name_verified(user=user, actor=None, channel="online")
    line.refresh_from_db()
    return line


def removals(user):
    return AuditEvent.objects.filter(verb="saved_cards.removed", subject_user=user)


def test_switching_auto_renew_off_on_the_last_line_paying_by_card_removes_the_card(plans):
    user, line = verified_customer()
    remember_a_card(user, line, plans)
    renews_by_card(user, line)

    services.autorenew_set(actor=user, line_id=line.pk, enabled=False, method=BY_CARD)

    assert not SavedCard.objects.filter(user=user).exists()
    assert removals(user).get().data == {"cards": 1, "why": "auto_renew_off"}
    # The money records keep what they hold of the card's payment.
    assert Payment.objects.get(order__user=user).card_last4 == "4242"


def test_switching_auto_renew_to_the_wallet_alone_removes_the_card(plans):
    user, line = verified_customer()
    remember_a_card(user, line, plans)
    renews_by_card(user, line)

    services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method=WALLET)

    assert not SavedCard.objects.filter(user=user).exists()


def test_a_card_another_line_still_renews_by_stays(plans):
    user, line = verified_customer()
    other = second_line(user)
    card = remember_a_card(user, line, plans)
    renews_by_card(user, line)
    renews_by_card(user, other)

    services.autorenew_set(actor=user, line_id=line.pk, enabled=False, method=BY_CARD)

    assert SavedCard.objects.get(user=user) == card
    assert not removals(user).exists()


def test_a_card_remembered_but_not_yet_used_stays_when_another_setting_changes(plans):
    # Saved while paying, auto-renew by card not switched on yet: switching another line's
    # wallet auto-renew off stops no use of the card.
    user, line = verified_customer()
    other = second_line(user)
    card = remember_a_card(user, line, plans)
    services.autorenew_set(actor=user, line_id=other.pk, enabled=True, method=WALLET)

    services.autorenew_set(actor=user, line_id=other.pk, enabled=False, method=WALLET)

    assert SavedCard.objects.get(user=user) == card


def test_closing_the_line_paying_by_card_removes_the_card(plans):
    user, line = verified_customer()
    other = second_line(user)
    remember_a_card(user, line, plans)
    renews_by_card(user, line)

    services.line_billing_close(line=line, actor=None)

    assert not SavedCard.objects.filter(user=user).exists()
    assert removals(user).get().data == {"cards": 1, "why": "line_closed"}
    assert LineService.objects.get(line=other).auto_renew is False  # untouched: never on


def test_closing_the_last_line_removes_a_card_even_if_it_never_renewed_anything(plans):
    user, line = verified_customer()
    remember_a_card(user, line, plans)

    services.line_billing_close(line=line, actor=None)

    assert not SavedCard.objects.filter(user=user).exists()


def test_closing_another_line_keeps_the_card_of_a_line_that_renews_by_it(plans):
    user, line = verified_customer()
    other = second_line(user)
    card = remember_a_card(user, line, plans)
    renews_by_card(user, line)

    services.line_billing_close(line=other, actor=None)

    assert SavedCard.objects.get(user=user) == card


def test_the_job_skips_a_line_whose_card_was_removed_after_it_was_chosen(plans, monkeypatch):
    user, line = verified_customer()
    remember_a_card(user, line, plans)
    user, line = due_line(balance="0", method=BY_CARD, customer=(user, line))
    charge_by_card = autorenew._renew_by_saved_card

    def card_gone_first(charge, **kwargs):
        SavedCard.objects.filter(user=user).delete()  # removed by a purge or a switch in between
        return charge_by_card(charge, **kwargs)

    monkeypatch.setattr(autorenew, "_renew_by_saved_card", card_gone_first)

    counts = services.autorenew_run()

    assert counts["card_renewed"] == 0 and counts["skipped"] == 1
    assert not auto_orders(line).exists()
