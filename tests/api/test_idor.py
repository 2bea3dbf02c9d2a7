"""IDOR sweep over every API URL with an id: another customer's ids answer 404 and change nothing.

Every API route with a parameter must be classified here (``test_every_api_url_with_a_parameter_is_swept``):
a new one that is not fails the sweep until it is added.
"""

import uuid

import pytest
from django.urls import URLPattern

from accounts.models import AuditEvent, Line
from api import urls as api_urls
from billing.models import LineService, Order, Payment, SavedCard
from customers.models import CancellationRequest, SupportMessage, SupportThread
from tests.api.conftest import AppClient
from tests.factories import CustomerFactory
from tests.security.test_idor import World, photo_set, world

__all__ = ["photo_set", "world"]

pytestmark = pytest.mark.django_db

API = "/api/v1/"
# Public on purpose: a certificate number is checked by anyone (masked name and date only).
PUBLIC = {"certificate"}
BODIES = {
    "auto_renew": {"enabled": True, "method": "wallet", "term_months": 1},
    "order_pay": {"method": "wallet"},
    "support_messages": {"body": "我想看看别人的对话"},
}


# route name → the owner's object ids to put in its URL
OWNED = {
    "auto_renew": lambda w: {"line_id": w.line.pk},
    "cancellation_check": lambda w: {"line_id": w.line.pk},
    "order": lambda w: {"number": w.open_order.number},
    "order_pay": lambda w: {"number": w.open_order.number},
    "receipt": lambda w: {"number": w.paid_order.receipt.number},
    "cancellation_withdraw": lambda w: {"request_id": w.cancellation.pk},
    "support_thread": lambda w: {"thread_id": w.thread.pk},
    "support_messages": lambda w: {"thread_id": w.thread.pk},
    "saved_card": lambda w: {"card_id": w.saved_card.pk},
}


def api_routes_with_parameters() -> list[URLPattern]:
    return [pattern for pattern in api_urls.urlpatterns if "<" in str(pattern.pattern)]


def url_for(pattern: URLPattern, values: dict) -> str:
    route = str(pattern.pattern)
    for name, value in values.items():
        for converter in ("int", "str"):
            route = route.replace(f"<{converter}:{name}>", str(value))
    assert "<" not in route, route
    return API + route


def methods_of(pattern: URLPattern) -> list[str]:
    view_class = pattern.callback.view_class
    return [method for method in ("get", "post", "put", "patch", "delete") if hasattr(view_class, method)]


def snapshot(w: World):
    return (
        list(Line.objects.filter(owner=w.owner).order_by("pk").values()),
        list(LineService.objects.filter(line__owner=w.owner).order_by("pk").values()),
        list(Order.objects.filter(user=w.owner).order_by("pk").values()),
        list(Payment.objects.filter(order__user=w.owner).order_by("pk").values()),
        list(CancellationRequest.objects.filter(user=w.owner).order_by("pk").values()),
        list(SupportThread.objects.filter(customer=w.owner).order_by("pk").values()),
        SupportMessage.objects.filter(thread__customer=w.owner).count(),
        AuditEvent.objects.filter(subject_user=w.owner).count(),
        list(SavedCard.objects.filter(user=w.owner).order_by("pk").values()),
    )


def test_every_api_url_with_a_parameter_is_swept():
    names = {pattern.name for pattern in api_routes_with_parameters()}
    swept = set(OWNED) | PUBLIC
    assert names - PUBLIC <= swept, f"add these API URLs to the IDOR sweep: {sorted(names - swept)}"


def test_another_customers_ids_answer_404_on_every_api_url_and_change_nothing(world):
    intruder = AppClient()
    intruder.sign_in_as(CustomerFactory())
    owner = AppClient()
    owner.sign_in_as(world.owner)
    before = snapshot(world)
    tried = 0
    for pattern in api_routes_with_parameters():
        if pattern.name in PUBLIC:
            continue
        url = url_for(pattern, OWNED[pattern.name](world))
        for method in methods_of(pattern):
            extra = {"HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex, "HTTP_ACCEPT": "application/json"}
            response = getattr(intruder, method)(url, BODIES.get(pattern.name), format="json", **extra)
            assert response.status_code == 404, (method, url, response.status_code, response.content[:200])
            assert response.json()["code"] == "not_found"
            tried += 1
            # The owner reaches the same URL (so the 404 above is about ownership, not a broken URL).
            if method == "get":
                owner_response = owner.get(url, HTTP_ACCEPT="application/json, application/pdf")
                assert owner_response.status_code == 200, (url, owner_response.content[:200])
    assert tried >= len(OWNED)
    assert snapshot(world) == before
