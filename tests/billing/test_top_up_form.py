"""The top-up page's quick amounts and typed amount, posted as a browser posts them (issue 16, problem 1)."""

import re
from decimal import Decimal

import pytest

from billing.forms import TopUpForm
from billing.models import Order
from tests.billing.conftest import key
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(english):
    user = CustomerFactory()
    english.force_login(user)
    return user


def opened_order(response) -> Order:
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    return Order.objects.get(number=response["Location"].rstrip("/").rsplit("/", 1)[-1])


def test_a_quick_button_wins_over_the_empty_typed_field_the_browser_sends_with_it(english, customer):
    # What Chromium sends for a tap on ¥100: the button's own field and the empty typed one.
    response = english.post("/billing/top-up/", {"idempotency_key": key(), "amount": "", "quick_amount": "100"})

    order = opened_order(response)
    assert (order.kind, order.amount, order.user) == (Order.Kind.TOP_UP, Decimal("100.00"), customer)


def test_a_quick_button_wins_over_a_typed_amount(english, customer):
    response = english.post("/billing/top-up/", {"idempotency_key": key(), "amount": "75", "quick_amount": "200"})

    assert opened_order(response).amount == Decimal("200.00")


def test_the_typed_amount_counts_when_no_button_was_tapped(english, customer):
    response = english.post("/billing/top-up/", {"idempotency_key": key(), "amount": "75.50"})

    assert opened_order(response).amount == Decimal("75.50")


def test_nothing_typed_and_no_button_asks_for_an_amount_and_opens_nothing(english, customer):
    response = english.post("/billing/top-up/", {"idempotency_key": key(), "amount": ""})

    assert response.status_code == 200
    assert "Type an amount, or tap one of the amounts below." in response.content.decode()
    assert not Order.objects.exists()


@pytest.mark.parametrize("value", ["0", "-5", "999999", "abc"])
def test_a_forged_quick_amount_gets_the_typed_fields_checks(english, customer, value):
    response = english.post("/billing/top-up/", {"idempotency_key": key(), "amount": "", "quick_amount": value})

    assert response.status_code == 200
    assert response.context["form"].errors["amount"]
    assert not Order.objects.exists()


def test_continue_comes_before_the_quick_buttons_so_enter_submits_the_typed_amount(english, customer):
    content = english.get("/billing/top-up/").content.decode()

    form = re.search(r'<form[^>]*data-testid="top-up-form".*?</form>', content, re.S).group(0)
    buttons = re.findall(r"<button[^>]*>", form)
    assert 'data-testid="top-up-continue"' in buttons[0]
    assert all('name="quick_amount"' in button for button in buttons[1:])
    assert len(buttons) == 1 + len(TopUpForm.QUICK_AMOUNTS)
    assert 'name="amount"' not in "".join(buttons)
