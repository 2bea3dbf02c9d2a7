"""The account centre's billing parts: balance, plan, allowances, auto-renew, orders and receipts."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing import services
from billing.models import LineService, Order, Receipt, Wallet
from tests.billing.conftest import fund, renewal_order, verified_customer
from tests.factories import make_line

pytestmark = pytest.mark.django_db


def customer_with(lines: int, plans):
    """A verified customer with ``lines`` lines, each renewed once from the wallet; auto-renew on for the first."""
    user, first = verified_customer()
    all_lines = [first] + [make_line(owner=user)[0] for _ in range(lines - 1)]
    fund(user, str(60 * lines + 15))
    for line in all_lines:
        order = renewal_order(user, line, plans["standard"])
        services.order_pay(order_id=order.pk, method="wallet", actor=user)
    services.autorenew_set(actor=user, line_id=first.pk, enabled=True, method="wallet_then_card")
    return user, all_lines


def test_the_account_centre_shows_balance_plan_allowances_auto_renew_orders_and_receipts(english, plans):
    user, (line,) = customer_with(1, plans)
    order = Order.objects.get(user=user)
    english.force_login(user)

    response = english.get("/account/")

    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["balance_and_held"] == (Decimal("15.00"), Decimal("0.00"))
    assert 'data-testid="wallet-held"' not in html
    assert 'data-testid="wallet-balance">¥15.00<' in html
    [(shown_line, service)] = response.context["lines"]
    assert shown_line == line
    assert service == LineService.objects.get(line=line)
    line_html = html.split(f'data-testid="line-{line.pk}"')[1].split("</li>")[0]
    assert "Standard" in line_html
    assert "Data left 50 GB" in line_html  # the month of basic it started with (10 GB) and standard's 40
    assert f"Minutes left {plans['basic'].voice_minutes + plans['standard'].voice_minutes}" in line_html
    assert f'id="ar-{line.pk}" checked' in line_html
    assert '<option value="wallet_then_card" selected>' in line_html
    orders_html = html.split('data-testid="orders"')[1].split("</section>")[0]
    assert f"/billing/orders/{order.number}/" in orders_html
    assert order.receipt.number in orders_html
    assert f"/billing/receipts/{order.receipt.number}/pdf/" in orders_html


def test_money_held_for_a_refund_in_progress_is_shown_as_soon_as_it_is_held(english, plans):
    user, _lines = customer_with(1, plans)
    english.force_login(user)
    assert 'data-testid="wallet-held"' not in english.get("/account/").content.decode()  # now cached

    # As a wallet refund does while the provider has not confirmed it (billing.services.refunds).
    Wallet.objects.filter(user=user).update(held=Decimal("10.00"))

    html = english.get("/account/").content.decode()
    assert 'data-testid="wallet-balance">¥15.00<' in html
    assert "of which ¥10.00 is held for a refund in progress" in html


def test_the_account_centre_shows_auto_renew_off_by_default(english, customer_line):
    user, line = customer_line
    english.force_login(user)

    html = english.get("/account/").content.decode()

    line_html = html.split(f'data-testid="line-{line.pk}"')[1].split("</li>")[0]
    assert f'id="ar-{line.pk}" >' in line_html
    assert "checked" not in line_html
    assert 'data-testid="wallet-balance">¥0.00<' in html


def test_the_account_centre_does_not_show_another_customers_orders(english, plans):
    user, _lines = customer_with(1, plans)
    stranger, _their_lines = customer_with(1, plans)
    english.force_login(stranger)

    response = english.get("/account/")

    assert list(response.context["orders"]) == list(Order.objects.filter(user=stranger))
    for receipt in Receipt.objects.filter(user=user):
        assert receipt.number not in response.content.decode()


def test_the_account_centre_costs_the_same_queries_for_one_or_five_lines_and_orders(client, plans):
    one, _lines = customer_with(1, plans)
    five, _lines = customer_with(5, plans)

    def queries_for(user) -> int:
        client.force_login(user)
        client.get("/account/")  # warm caches (content types, permissions)
        cache.clear()  # the page itself must be rendered, not served from its cache
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/account/")
        assert response.status_code == 200
        return len(captured.captured_queries)

    few, many = queries_for(one), queries_for(five)

    assert Order.objects.filter(user=five).count() == 5
    assert few == many
