"""CSRF: every URL of the project refuses a POST without a token; only the signed webhook is exempt.

The URLs come from the resolver, so a new view is in the sweep the moment it is routed.
A POST is sent to each one by a signed-in customer, by staff (a superuser, who could
reach every staff action) and anonymously, through ``Client(enforce_csrf_checks=True)``.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.factories import PASSWORD, CustomerFactory
from tests.security.test_templates import project_templates
from tests.security.urls import project_routes

pytestmark = pytest.mark.django_db

EXEMPT = {"billing:webhook"}  # a provider's server-to-server callback, proven by its signature
CSRF_REFUSAL = 'data-testid="csrf-failure"'  # our 403_csrf.html, not a permission 403

FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.IGNORECASE | re.DOTALL)
POST_METHOD = re.compile(r"""\bmethod\s*=\s*["']?post""", re.IGNORECASE)


def url_of(route) -> str:
    return "/" + re.sub(r"<[^>]+>", "1", route.route)


def superuser() -> User:
    return User.objects.create_superuser(username="root-csrf", password=PASSWORD)


def is_csrf_refusal(response) -> bool:
    return response.status_code == 403 and CSRF_REFUSAL in response.content.decode()


@pytest.fixture
def strict():
    client = Client(enforce_csrf_checks=True)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the refusal page is read in English
    return client


def test_only_the_signed_webhook_is_csrf_exempt():
    exempt = {route.name for route in project_routes() if getattr(route.view, "csrf_exempt", False)}
    assert exempt == EXEMPT


@pytest.mark.parametrize("who", ["anonymous", "customer", "staff"])
def test_every_post_without_a_token_is_refused(strict, who):
    if who == "customer":
        strict.force_login(CustomerFactory())
    elif who == "staff":
        strict.force_login(superuser())
    accepted = {}
    for route in project_routes():
        if route.name in EXEMPT:
            continue
        response = strict.post(url_of(route), {"anything": "1"})
        if not is_csrf_refusal(response):
            accepted[route.name] = response.status_code
    assert accepted == {}


def test_admin_posts_need_a_token_too(strict):
    strict.force_login(superuser())
    response = strict.post("/admin/accounts/user/", {"action": "delete_selected", "_selected_action": ["1"]})
    assert is_csrf_refusal(response)
    strict.logout()
    strict.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = strict.post("/admin/login/", {"username": "x", "password": "y"})
    assert is_csrf_refusal(response)


def test_a_post_with_the_token_from_the_page_goes_through(strict):
    """The sweep's refusals are the CSRF check's: with the page's token the same POST is processed."""
    user = CustomerFactory()
    strict.get(reverse("accounts:login"))
    token = strict.cookies[settings.CSRF_COOKIE_NAME].value

    without = strict.post(reverse("accounts:login"), {"username": user.phone.as_e164, "password": PASSWORD})
    with_token = strict.post(
        reverse("accounts:login"),
        {"username": user.phone.as_e164, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )

    assert is_csrf_refusal(without)
    assert with_token.status_code == 302
    assert int(strict.session["_auth_user_id"]) == user.pk


def test_logout_is_post_only_and_needs_the_token(strict):
    strict.force_login(CustomerFactory())
    assert strict.get(reverse("accounts:logout")).status_code == 405
    assert is_csrf_refusal(strict.post(reverse("accounts:logout")))
    assert "_auth_user_id" in strict.session


def test_the_refusal_page_is_ours_translated_and_keeps_to_the_policy():
    response = Client(enforce_csrf_checks=True).post(reverse("accounts:login"), {"username": "x"})
    page = response.content.decode()
    assert is_csrf_refusal(response)
    assert "表单已失效" in page  # Chinese by default, like every page
    assert "<style" not in page and "style=" not in page  # Django's own page styles itself inline
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


def test_the_webhook_without_a_valid_signature_is_refused(strict):
    response = strict.post(
        "/billing/webhooks/sandbox/", data=b'{"out_trade_no": "X", "status": "paid"}', content_type="application/json"
    )
    assert response.status_code == 400


def test_every_post_form_in_the_templates_carries_the_token():
    missing = []
    for path in project_templates():
        for match in FORM.finditer(path.read_text(encoding="utf-8")):
            attributes, body = match.groups()
            if POST_METHOD.search(attributes) and "{% csrf_token %}" not in body:
                missing.append(f"{Path(path).name}: <form{attributes[:60]}>")
    assert missing == []


def test_the_form_checker_sees_a_form_without_the_token():
    sample = '<form method="post" action="/x/"><button>Go</button></form>'
    match = FORM.search(sample)
    assert POST_METHOD.search(match.group(1)) and "{% csrf_token %}" not in match.group(2)
