"""The customer removes a card we keep: what the card records, and the one service that removes it."""

import pytest
from django.utils import translation

from accounts.models import AuditEvent
from billing import services
from billing.forms import PayForm
from billing.models import LineService, SavedCard
from customers import services as customer_services
from tests.billing.conftest import renewal_order, verified_customer
from tests.billing.test_saved_cards import renews_by_card, second_line

pytestmark = pytest.mark.django_db
BY_CARD = LineService.AutoRenewMethod.WALLET_THEN_CARD
WALLET = LineService.AutoRenewMethod.WALLET


def save_card(user, line, plans, number="4242424242424242", expiry="08/29") -> SavedCard:
    """Pay a renewal by card with "Remember this card for auto-renew" ticked; return the card kept."""
    order = renewal_order(user, line, plans["basic"])
    services.order_pay(
        order_id=order.pk, method="card", actor=user, card={"number": number, "expiry": expiry, "save": True}
    )
    return SavedCard.objects.filter(user=user).order_by("-pk").first()


def method_of(line) -> tuple[bool, str]:
    service = LineService.objects.get(line=line)
    return service.auto_renew, service.auto_renew_method


def test_a_remembered_card_keeps_its_brand_and_expiry_for_its_holder_to_recognise(plans):
    user, line = verified_customer()

    card = save_card(user, line, plans, number="5555555555554444", expiry="03/31")

    assert (card.brand, card.brand_display, card.last4) == ("mastercard", "Mastercard", "4444")
    assert (card.expiry_month, card.expiry_year, card.expiry) == (3, 2031, "03/31")


def test_the_pay_form_hands_the_expiry_on_and_refuses_a_thirteenth_month():
    fields = {"method": "card", "card_number": "4242 4242 4242 4242", "card_cvc": "123", "save_card": "on"}
    form = PayForm(data={**fields, "card_expiry": "11/30"}, allow_wallet=False)
    assert form.is_valid(), form.errors
    assert form.card() == {"number": "4242 4242 4242 4242", "expiry": "11/30", "save": True}

    refused = PayForm(data={**fields, "card_expiry": "13/30"}, allow_wallet=False)

    with translation.override("en"):
        assert not refused.is_valid()
        assert refused.errors["card_expiry"] == ["Enter the expiry as MM/YY."]


def test_removing_the_only_card_removes_it_and_lines_paying_by_card_fall_back_to_the_wallet(plans):
    user, line = verified_customer()
    other = second_line(user)
    third = second_line(user)
    card = save_card(user, line, plans)
    renews_by_card(user, line)
    renews_by_card(user, other)
    services.autorenew_set(actor=user, line_id=third.pk, enabled=False, method=WALLET)

    removal = services.saved_card_remove(actor=user, card_id=card.pk)

    assert not SavedCard.objects.filter(user=user).exists()
    assert sorted(line.pk for line in removal.lines_to_wallet) == sorted([line.pk, other.pk])
    assert removal.lines_left == []
    assert method_of(line) == method_of(other) == (True, WALLET)
    assert method_of(third) == (False, WALLET)  # never paid by card: untouched
    [removed] = AuditEvent.objects.filter(verb="saved_cards.removed", subject_user=user)
    assert removed.data == {"cards": 1, "why": "removed_by_customer"}
    assert removed.actor == user
    # Each line switched through the auto-renew service, which records it.
    switched = AuditEvent.objects.filter(verb="line.autorenew_on", subject_user=user, data__method=WALLET)
    assert sorted(event.target_id for event in switched) == sorted([str(line.pk), str(other.pk)])


def test_removing_one_of_two_cards_keeps_the_other_and_auto_renew_by_card(plans):
    user, line = verified_customer()
    older = save_card(user, line, plans, number="4000056655665556")
    newer = save_card(user, line, plans, number="4242424242424242")
    renews_by_card(user, line)

    removal = services.saved_card_remove(actor=user, card_id=newer.pk)

    assert list(SavedCard.objects.filter(user=user)) == [older]
    assert removal.lines_to_wallet == removal.lines_left == []
    assert method_of(line) == (True, BY_CARD)


def test_another_customers_card_is_refused_as_missing_and_nothing_changes(plans):
    owner, owner_line = verified_customer()
    card = save_card(owner, owner_line, plans)
    renews_by_card(owner, owner_line)
    stranger, stranger_line = verified_customer()
    renews_by_card(stranger, stranger_line)

    with pytest.raises(SavedCard.DoesNotExist):
        services.saved_card_remove(actor=stranger, card_id=card.pk)

    assert SavedCard.objects.get(user=owner) == card
    assert method_of(owner_line) == (True, BY_CARD)
    assert method_of(stranger_line) == (True, BY_CARD)  # the refusal rolled the stranger's own switch back too
    assert not AuditEvent.objects.filter(verb="saved_cards.removed").exists()


def test_a_line_that_cannot_renew_now_keeps_its_setting_and_is_reported(plans):
    user, line = verified_customer()
    other = second_line(user)
    card = save_card(user, line, plans)
    renews_by_card(user, line)
    renews_by_card(user, other)
    # An open cancellation refuses renewals of that line (and so switching its auto-renew on).
    customer_services.cancellation_request_submit(
        actor=user,
        line_id=other.pk,
        full_name="李雷",
        phone=user.phone,
        reason="no_longer_needed",
        reason_detail="",
        bindings=[],
    )

    removal = services.saved_card_remove(actor=user, card_id=card.pk)

    assert not SavedCard.objects.filter(user=user).exists()
    assert [line.pk for line in removal.lines_to_wallet] == [line.pk]
    assert [line.pk for line in removal.lines_left] == [other.pk]
    assert method_of(line) == (True, WALLET)
    assert method_of(other) == (True, BY_CARD)
