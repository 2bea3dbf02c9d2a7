"""Fixtures of the API tests: an app client with a customer's tokens, photos, plans."""

import uuid

import pytest
from rest_framework.test import APIClient

from api import tokens
from tests.accounts.conftest import sent, travel
from tests.billing.conftest import _ledger_sum_equals_balance, customer_line, plans
from tests.factories import PASSWORD, CustomerFactory, make_staff

__all__ = ["_ledger_sum_equals_balance", "customer_line", "plans", "sent", "travel"]

API = "/api/v1/"


def key() -> str:
    return uuid.uuid4().hex


class AppClient(APIClient):
    """The app: JSON, English messages unless told otherwise, a bearer token once signed in."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.credentials()
        self.language = "en"

    def sign_in_as(self, user):
        pair = tokens.token_pair_issue(user=user, how="test")
        self.access, self.refresh = pair["access"], pair["refresh"]
        self.use(self.access)
        return pair

    def use(self, access):
        self.access = access
        self.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")

    def request(self, **kwargs):
        kwargs.setdefault("HTTP_ACCEPT_LANGUAGE", self.language)
        return super().request(**kwargs)

    def post_once(self, path, data=None, *, idempotency_key=None, format="json", **extra):
        """A POST with a fresh Idempotency-Key (or the one given)."""
        return self.post(path, data, format=format, HTTP_IDEMPOTENCY_KEY=idempotency_key or key(), **extra)


@pytest.fixture
def app():
    return AppClient()


@pytest.fixture
def customer():
    return CustomerFactory()


@pytest.fixture
def signed_in(app, customer):
    app.sign_in_as(customer)
    return app


@pytest.fixture
def staff_member():
    return make_staff("support")


def problem(response) -> dict:
    assert response["Content-Type"] == "application/problem+json", (response.status_code, response.content[:300])
    body = response.json()
    assert {"type", "title", "status", "code", "detail"} <= body.keys()
    assert body["status"] == response.status_code
    return body


__all__ += ["PASSWORD", "problem"]
