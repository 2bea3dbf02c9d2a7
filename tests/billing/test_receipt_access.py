"""Who may open a receipt: its customer; a clerk only their own store's; support and administrators any.

Receipt numbers are sequential, so any other answer lets one clerk read every customer's
name, line and payments by counting.
"""

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import CustomerFactory, make_staff
from tests.security.test_store_scope import Stores, build_stores

pytestmark = pytest.mark.django_db

LOGIN = reverse(settings.LOGIN_URL)


@pytest.fixture
def stores() -> Stores:
    return build_stores()


def pdf(receipt) -> str:
    return f"/billing/receipts/{receipt.number}/pdf/"


def desk(receipt) -> str:
    return f"/staff/desk/receipts/{receipt.number}/"


def test_a_clerk_opens_their_own_stores_receipt(client, stores):
    client.force_login(stores.clerk)
    assert client.get(pdf(stores.own)).status_code == 200
    assert client.get(desk(stores.own)).status_code == 200


@pytest.mark.parametrize("url", [pdf, desk])
@pytest.mark.parametrize("which", ["other", "online"])
def test_a_clerk_gets_404_for_another_stores_or_an_online_receipt(client, stores, url, which):
    client.force_login(stores.clerk)
    assert client.get(url(getattr(stores, which))).status_code == 404


@pytest.mark.parametrize("url", [pdf, desk])
def test_a_clerk_without_a_service_point_gets_404(client, stores, url):
    client.force_login(make_staff("clerk"))
    assert client.get(url(stores.own)).status_code == 404


def test_the_customer_opens_their_own_receipt_and_no_one_elses(client, stores):
    client.force_login(stores.online.user)
    assert client.get(pdf(stores.online)).status_code == 200
    for receipt in (stores.own, stores.other):
        assert client.get(pdf(receipt)).status_code == 404
        assert client.get(desk(receipt)).status_code in (403, 404)
    client.force_login(CustomerFactory())
    assert client.get(pdf(stores.online)).status_code == 404


@pytest.mark.parametrize("url", [pdf, desk])
def test_an_anonymous_visitor_is_sent_to_sign_in(client, stores, url):
    response = client.get(url(stores.own))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_support_and_an_administrator_open_any_receipt(client, stores):
    for role in ("support", "admin"):
        client.force_login(make_staff(role))
        for receipt in (stores.own, stores.other, stores.online):
            assert client.get(pdf(receipt)).status_code == 200
    assert client.get(desk(stores.online)).status_code == 200  # the administrator at the desk page
