"""The payment page: a method chosen already, card fields tied to the card, amounts named for what they are."""

import re
from decimal import Decimal

import pytest

from billing.models import Order, Wallet
from tests.billing.conftest import fund, key, renewal_order, verified_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(english):
    user, line = verified_customer()
    english.force_login(user)
    return english, user, line


def checked_method(content: str) -> list[str]:
    return re.findall(r'<input[^>]*name="method"[^>]*value="(\w+)"[^>]*checked', content) + re.findall(
        r'<input[^>]*checked[^>]*name="method"[^>]*value="(\w+)"', content
    )


def test_a_top_up_is_labelled_as_an_amount_with_alipay_chosen_and_no_wallet(signed_in):
    client, _user, _line = signed_in
    response = client.post("/billing/top-up/", {"idempotency_key": key(), "quick_amount": "50"})
    content = client.get(response["Location"]).content.decode()

    label = re.search(r'data-testid="order-amount-label">(.*?)</dt>', content).group(1)
    assert label == "Top-up amount"
    assert checked_method(content) == ["alipay"]
    assert 'value="wallet"' not in content


def test_a_renewal_the_wallet_covers_has_the_wallet_chosen(signed_in, plans):
    client, user, line = signed_in
    fund(user, 100)
    order = renewal_order(user, line, plans["basic"])

    content = client.get(f"/billing/orders/{order.number}/").content.decode()

    assert re.search(r'data-testid="order-amount-label">Price</dt>', content)
    assert checked_method(content) == ["wallet"]


def test_a_renewal_the_wallet_cannot_cover_has_alipay_chosen(signed_in, plans):
    client, user, line = signed_in
    fund(user, 5)
    order = renewal_order(user, line, plans["basic"])

    content = client.get(f"/billing/orders/{order.number}/").content.decode()

    assert checked_method(content) == ["alipay"]


def test_money_held_for_a_refund_does_not_count_towards_the_wallet_choice(signed_in, plans):
    client, user, line = signed_in
    fund(user, 100)
    # A wallet refund waiting for the provider's confirmation holds the money (billing.services.refunds).
    Wallet.objects.filter(user=user).update(held=Decimal("90.00"))
    order = renewal_order(user, line, plans["basic"])

    content = client.get(f"/billing/orders/{order.number}/").content.decode()

    assert checked_method(content) == ["alipay"]
    assert "Available in your wallet: ¥10.00" in content


def test_the_card_fields_are_marked_for_the_script_and_the_summary_keeps_inside_the_card(signed_in, plans):
    client, user, line = signed_in
    order = renewal_order(user, line, plans["basic"])

    content = client.get(f"/billing/orders/{order.number}/").content.decode()

    # Without script the card fields show (progressive); pay.js hides them unless the card is chosen.
    assert re.search(r"<fieldset[^>]*data-card-fields", content)
    assert "billing/pay.js" in content
    assert re.search(r'<dl class="row mx-0[^"]*"[^>]*data-testid="order-summary"', content)


def test_card_fields_sent_with_alipay_are_ignored(signed_in, plans):
    client, user, line = signed_in
    order = renewal_order(user, line, plans["basic"])

    response = client.post(
        f"/billing/orders/{order.number}/pay/",
        {"method": "alipay", "card_number": "", "card_expiry": "", "card_cvc": ""},
    )

    assert response.status_code == 302
    assert "/billing/sandbox/cashier/" in response["Location"]
    assert Order.objects.get(pk=order.pk).amount == Decimal("30.00")
