"""NUL byte sweep: a NUL anywhere in a request is a 400, never a 500, at every URL of the project.

PostgreSQL text cannot hold a NUL (psycopg refuses the parameter), so a view that looks a
NUL-carrying value up fails with a 500 there while SQLite quietly finds nothing. The URL
patterns come from the resolver, so a new URL is swept without being listed here; each
converter is filled with a value carrying a NUL, and the query string and form fields of
every URL carry one too, for an anonymous visitor, a customer and an administrator.
"""

import re
from urllib.parse import urlencode

import pytest
from django.test import Client

from tests.factories import CustomerFactory, make_staff
from tests.security.urls import project_routes

pytestmark = pytest.mark.django_db

NUL = "\x00"
PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
# Django's admin is mounted outside the project's routes; its converters take object ids.
ADMIN_PATHS = [
    "/admin/billing/order/<str:object_id>/change/",
    "/admin/billing/receipt/?q=<str:term>",
    "/admin/accounts/user/<str:object_id>/change/",
]


def fill(route: str, value: str) -> str:
    return "/" + PARAMETER.sub(value, route.lstrip("/"))


def nul_values(converter: str | None) -> list[str]:
    """Values for one converter that carry a NUL: raw, percent-encoded, inside a plausible value."""
    plausible = "1" if converter == "int" else "HY-20260101-0001"
    return [NUL, "%00", f"{plausible}%00", f"{plausible}{NUL}x"]


def nul_requests() -> list[tuple[str, str, dict | None]]:
    """(method, url, form data) for every route and admin path, each request carrying one NUL."""
    routes = [route.route for route in project_routes()] + [path.lstrip("/") for path in ADMIN_PATHS]
    built = []
    for route in routes:
        converters = {match["converter"] for match in PARAMETER.finditer(route)}
        for converter in converters:
            for value in nul_values(converter):
                url = fill(route, value)
                built += [("get", url, None), ("post", url, {})]
        plain = fill(route, "1")
        separator = "&" if "?" in plain else "?"
        built += [
            ("get", f"{plain}{separator}q=%00", None),
            ("get", f"{plain}{separator}q=a{NUL}b", None),
            ("get", f"{plain}{separator}%00=1", None),
            ("post", plain, {"field": f"a{NUL}b"}),
            ("post", plain, {f"a{NUL}b": "1"}),
        ]
    return built


@pytest.fixture
def visitors():
    customer = CustomerFactory()
    admin = make_staff("admin")
    return {"anonymous": None, "customer": customer, "admin": admin}


def test_the_sweep_covers_every_project_route():
    routes = project_routes()
    with_parameters = [route for route in routes if route.has_parameters]
    assert len(routes) >= 50 and len(with_parameters) >= 15
    assert len(nul_requests()) > len(routes) * 7


@pytest.mark.parametrize("who", ["anonymous", "customer", "admin"])
def test_every_url_answers_400_to_a_nul_byte(visitors, who):
    client = Client(raise_request_exception=False)
    if visitors[who] is not None:
        client.force_login(visitors[who])
    failures = {}
    for method, url, data in nul_requests():
        if method == "post":
            responses = [
                client.post(url, data or {}),
                client.post(url, urlencode(data or {}), content_type="application/x-www-form-urlencoded"),
            ]
        else:
            responses = [client.get(url)]
        for response in responses:
            if response.status_code != 400:
                failures[(method, repr(url), repr(data))] = response.status_code
    assert failures == {}


def test_a_nul_byte_in_a_header_or_a_cookie_is_a_400(client):
    assert (
        client.post("/accounts/login/", {"username": "x", "password": "y"}, HTTP_USER_AGENT=f"a{NUL}b").status_code
        == 400
    )
    client.cookies["sessionid"] = f"abc{NUL}def"
    assert client.get("/").status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "/service-points/?city=%00",
        "/billing/orders/%00/",
        "/billing/receipts/%00/pdf/",
        "/staff/desk/certificates/%00/",
    ],
)
def test_the_reported_urls_answer_400(client, visitors, url):
    client.force_login(visitors["admin"])
    assert client.get(url).status_code == 400


def test_a_request_without_a_nul_is_untouched(client, visitors):
    """The middleware refuses only the NUL: the same pages answer as before without one."""
    assert client.get("/service-points/?city=bj").status_code == 200
    assert client.post("/accounts/login/", {"username": "nobody", "password": "x"}).status_code == 200
    client.force_login(visitors["customer"])
    assert client.get("/billing/orders/HY-NOPE/").status_code == 404
    assert client.get("/account/").status_code == 200
