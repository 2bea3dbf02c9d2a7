"""The code-login and password-reset pages answer a number (or email) with an account exactly as
one without: same status, same page, same messages, same rate limits, on the first request and
on the ones after it, whichever is asked first."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import CustomerFactory, make_staff

pytestmark = pytest.mark.django_db

KNOWN = {"phone": "138 0013 8000", "email": "li.lei@example.com"}
UNKNOWN = {"phone": "139 0013 9000", "email": "han.meimei@example.com"}


@pytest.fixture(autouse=True)
def _account(sent):
    CustomerFactory(phone="+8613800138000", email=KNOWN["email"])


# (page, field, which identifier)
PAGES = [
    ("/accounts/login/code/", "phone", "phone"),
    ("/accounts/password-reset/", "identifier", "phone"),
    ("/accounts/password-reset/", "identifier", "email"),
]


def answer(client, sent, url, field, value, ip):
    """What the person sees: status, where they are sent, the messages and form errors, with the
    identifier itself taken out (each page names the number that was typed)."""
    with sent():
        response = client.post(url, {field: value}, REMOTE_ADDR=ip)
    messages = [str(message) for message in get_messages(response.wsgi_request)]
    errors = response.context["form"].errors.get_json_data() if response.status_code == 200 else {}
    seen = (response.status_code, response.get("Location"), messages, errors)
    return repr(seen).replace(value, "…")


def answers(sent, url, field, value, ip, times):
    client = Client()
    return [answer(client, sent, url, field, value, ip) for _ in range(times)]


@pytest.mark.parametrize(("url", "field", "kind"), PAGES, ids=["login-code", "reset-by-phone", "reset-by-email"])
@pytest.mark.parametrize("known_first", [True, False], ids=["known-first", "unknown-first"])
def test_a_second_request_within_a_minute_is_answered_the_same(sent, url, field, kind, known_first):
    order = [KNOWN, UNKNOWN] if known_first else [UNKNOWN, KNOWN]
    seen = {}
    for position, who in enumerate(order):
        seen[who[kind]] = answers(sent, url, field, who[kind], f"198.51.100.{position + 1}", times=2)

    known, unknown = seen[KNOWN[kind]], seen[UNKNOWN[kind]]
    assert known == unknown
    assert known[0] != known[1], "the second request within a minute is refused"


@pytest.mark.parametrize(("url", "field", "kind"), PAGES, ids=["login-code", "reset-by-phone", "reset-by-email"])
@pytest.mark.parametrize("known_first", [True, False], ids=["known-first", "unknown-first"])
def test_the_hourly_limit_is_reached_at_the_same_request(sent, settings, url, field, kind, known_first):
    settings.OTP_RESEND_INTERVAL_SECONDS = 0
    times = settings.OTP_MAX_PER_DESTINATION_PER_HOUR + 1
    order = [KNOWN, UNKNOWN] if known_first else [UNKNOWN, KNOWN]
    seen = {}
    for position, who in enumerate(order):
        seen[who[kind]] = answers(sent, url, field, who[kind], f"198.51.100.{position + 1}", times=times)

    assert seen[KNOWN[kind]] == seen[UNKNOWN[kind]]
    assert seen[KNOWN[kind]][-1] != seen[KNOWN[kind]][0], "the last request is over the hourly limit"


@pytest.mark.parametrize(
    ("request_url", "verify_url", "field", "data"),
    [
        ("/accounts/login/code/", "/accounts/login/code/verify/", "phone", {}),
        (
            "/accounts/password-reset/",
            "/accounts/password-reset/confirm/",
            "identifier",
            {"password1": "brand-new-secret-7", "password2": "brand-new-secret-7"},
        ),
    ],
    ids=["login-code", "password-reset"],
)
def test_wrong_codes_are_refused_alike_until_too_many(sent, settings, request_url, verify_url, field, data):
    def wrong_codes(value):
        client = Client()
        with sent():
            client.post(request_url, {field: value}, REMOTE_ADDR="198.51.100.9")
        seen = []
        for _ in range(settings.OTP_MAX_VERIFY_ATTEMPTS + 1):
            response = client.post(verify_url, {"code": "000000", **data})
            seen.append((response.status_code, response.context["form"].errors.get_json_data()))
        return seen

    known, unknown = wrong_codes(KNOWN["phone"]), wrong_codes(UNKNOWN["phone"])

    assert known == unknown
    assert known[-1] != known[0], "after too many wrong codes the answer changes, for both"


def reset_confirm_answer_on_the_web(sent, identifier, new_password):
    client = Client()
    with sent():
        client.post("/accounts/password-reset/", {"identifier": identifier}, REMOTE_ADDR="198.51.100.7")
    response = client.post(
        "/accounts/password-reset/confirm/", {"code": "000000", "password1": new_password, "password2": new_password}
    )
    return response.status_code, response.context["form"].errors.get_json_data()


def reset_confirm_answer_in_the_app(identifier, new_password):
    client = APIClient()
    body = {"identifier": identifier, "code": "000000", "new_password": new_password}
    response = client.post("/api/v1/auth/password-reset/confirm/", body, format="json", HTTP_ACCEPT_LANGUAGE="en")
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("known", "unknown"),
    [(KNOWN["email"], UNKNOWN["email"]), ("desk.lead", "desk.lea")],
    ids=["email", "staff-username"],
)
def test_a_new_password_like_the_identifier_is_refused_alike_whether_or_not_it_has_an_account(sent, known, unknown):
    make_staff("support", login="desk.lead")
    similar = {known: known.upper() + "1", unknown: unknown.upper() + "1"}

    web = {who: reset_confirm_answer_on_the_web(sent, who, similar[who]) for who in (known, unknown)}
    app = {who: reset_confirm_answer_in_the_app(who, similar[who]) for who in (known, unknown)}

    assert web[known] == web[unknown]
    assert app[known] == app[unknown]
    # Refused for being like what was typed, before any code is looked at, on both.
    assert list(web[known][1]) == ["password1"]
    assert web[known][1]["password1"][0]["code"] == "password_too_similar"
    assert app[known][0] == 400
    assert list(app[known][1]["errors"]) == ["password1"]  # the web form's field, as for registration
