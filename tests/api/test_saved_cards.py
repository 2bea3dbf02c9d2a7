"""The app's view of the card kept for auto-renew: list it, remove it, and never reach another customer's."""

import pytest

from accounts.models import AuditEvent
from billing import services
from billing.models import LineService, SavedCard
from tests.api.conftest import API, AppClient, problem
from tests.billing.conftest import verified_customer
from tests.billing.test_saved_card_removal import method_of, save_card

pytestmark = pytest.mark.django_db
BY_CARD = LineService.AutoRenewMethod.WALLET_THEN_CARD
WALLET = LineService.AutoRenewMethod.WALLET
CARDS = f"{API}account/saved-cards/"


@pytest.fixture
def card_owner(app, plans):
    user, line = verified_customer()
    card = save_card(user, line, plans, number="6212345678901234", expiry="01/28")
    services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method=BY_CARD)
    app.sign_in_as(user)
    return app, user, line, card


def test_the_app_lists_the_saved_card_without_its_token(card_owner):
    app, _user, _line, card = card_owner

    response = app.get(CARDS)

    assert response.status_code == 200
    [listed] = response.json()
    assert {key: listed[key] for key in ("id", "brand", "last4", "expiry")} == {
        "id": card.pk,
        "brand": "unionpay",
        "last4": "1234",
        "expiry": "01/28",
    }
    assert listed["saved_at"].endswith("+08:00")
    assert card.token not in response.content.decode()


def test_deleting_the_card_removes_it_and_its_lines_fall_back_to_the_wallet(card_owner):
    app, user, line, card = card_owner

    response = app.delete(f"{CARDS}{card.pk}/")

    assert response.status_code == 200, response.content
    assert response.json()["lines_to_wallet"] == [line.pk]
    assert "wallet balance only" in response.json()["detail"]
    assert not SavedCard.objects.filter(user=user).exists()
    assert method_of(line) == (True, WALLET)
    assert AuditEvent.objects.filter(verb="saved_cards.removed", subject_user=user).count() == 1
    assert app.get(CARDS).json() == []


def test_another_customers_card_is_a_404_problem_and_stays(card_owner):
    _owner_app, owner, line, card = card_owner
    stranger = AppClient()
    stranger.sign_in_as(verified_customer()[0])

    response = stranger.delete(f"{CARDS}{card.pk}/")

    assert response.status_code == 404
    assert problem(response)["code"] == "not_found"
    assert stranger.get(CARDS).json() == []
    assert SavedCard.objects.get(user=owner) == card
    assert method_of(line) == (True, BY_CARD)


def test_a_card_already_removed_is_a_404_problem(card_owner):
    app, _user, _line, card = card_owner
    app.delete(f"{CARDS}{card.pk}/")

    assert problem(app.delete(f"{CARDS}{card.pk}/"))["status"] == 404


def test_saved_cards_need_a_signed_in_customer(app, card_owner):
    anonymous = AppClient()
    _app, _user, _line, card = card_owner

    assert anonymous.get(CARDS).status_code == 401
    assert anonymous.delete(f"{CARDS}{card.pk}/").status_code == 401
    assert SavedCard.objects.filter(pk=card.pk).exists()
