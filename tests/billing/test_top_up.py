"""Topping up the wallet: an order paid by card or Alipay, credited once through a 'topup' entry."""

from decimal import Decimal

import pytest

from billing.gateways.sandbox import signed_notification
from billing.models import LedgerEntry, Order, Receipt, SandboxCharge
from tests.billing.conftest import fund, key, page_shows, wallet_balance
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(english):
    user = CustomerFactory()
    english.force_login(user)
    return user


def start_top_up(client, amount="100"):
    response = client.post("/billing/top-up/", {"amount": amount, "idempotency_key": key()})
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    return Order.objects.get(number=response["Location"].rstrip("/").rsplit("/", 1)[-1])


def pay_by_card(client, order, number="4242424242424242"):
    return client.post(
        f"/billing/orders/{order.number}/pay/",
        {"method": "card", "card_number": number, "card_expiry": "12/30", "card_cvc": "123"},
        follow=True,
    )


def test_top_up_page_shows_the_balance(english, customer):
    fund(customer, "12.50")

    response = english.get("/billing/top-up/")

    assert response.status_code == 200
    assert response.context["balance"] == Decimal("12.50")
    assert "¥12.50" in response.content.decode()


def test_a_card_top_up_credits_the_wallet_once(english, customer):
    order = start_top_up(english, "100")
    assert order.kind == Order.Kind.TOP_UP

    paid = pay_by_card(english, order)
    again = pay_by_card(english, order)  # a second click on the same page

    assert paid.context["order"].status == Order.Status.PAID
    assert page_shows(paid, "Paid. Thank you!")
    assert again.context["order"].status == Order.Status.PAID
    entry = LedgerEntry.objects.get(wallet__user=customer)
    assert (entry.kind, entry.amount, entry.reference) == ("topup", Decimal("100.00"), order.number)
    assert wallet_balance(customer) == Decimal("100.00")
    assert SandboxCharge.objects.count() == 1
    assert Receipt.objects.get(order=order).description


def test_a_declined_card_top_up_credits_nothing(english, customer):
    order = start_top_up(english, "100")

    pay_by_card(english, order, "4000000000000002")

    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN
    assert wallet_balance(customer) == Decimal("0.00")
    assert not LedgerEntry.objects.exists()


def test_an_alipay_top_up_is_credited_once_even_if_the_callback_repeats(english, customer):
    order = start_top_up(english, "50")
    cashier = english.post(f"/billing/orders/{order.number}/pay/", {"method": "alipay"})
    english.post(cashier["Location"], {"outcome": "pay"})
    headers, body = signed_notification(SandboxCharge.objects.get())

    repeat = english.post("/billing/webhooks/sandbox/", data=body, content_type="application/json", headers=headers)

    assert repeat.status_code == 200
    assert wallet_balance(customer) == Decimal("50.00")
    assert LedgerEntry.objects.filter(kind="topup").count() == 1


@pytest.mark.parametrize("amount", ["0", "0.50", "5000.01", "abc", ""])
def test_a_top_up_amount_out_of_range_is_refused(english, customer, amount):
    response = english.post("/billing/top-up/", {"amount": amount, "idempotency_key": key()})

    assert response.status_code == 200
    assert "amount" in response.context["form"].errors
    assert not Order.objects.exists()


def test_the_wallet_is_not_offered_to_pay_a_top_up(english, customer):
    fund(customer, "100")
    order = start_top_up(english, "20")

    page = english.get(f"/billing/orders/{order.number}/")
    response = english.post(f"/billing/orders/{order.number}/pay/", {"method": "wallet"}, follow=True)

    assert "wallet" not in dict(page.context["pay_form"].fields["method"].choices)
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN
    assert response.status_code == 200
    assert wallet_balance(customer) == Decimal("100.00")


def test_top_up_needs_a_login(client):
    response = client.post("/billing/top-up/", {"amount": "50", "idempotency_key": key()})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Order.objects.exists()
