"""Signing in: rate limits on passwords and codes, session rotation, single-use codes.

Everything through HTTP, as an attacker would try it.
"""

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.utils import translation
from django.utils.html import escape
from rest_framework.test import APIClient

from accounts import views
from accounts.backends import find_user_by_identifier
from accounts.models import OneTimeCode, User
from accounts.services import codes
from tests.factories import PASSWORD, CustomerFactory

pytestmark = pytest.mark.django_db

PHONE = "+8613812340000"
NEW_PASSWORD = "brand-new-secret-7"


@pytest.fixture(autouse=True)
def _english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def shows(response, message) -> bool:
    with translation.override("en"):
        return escape(str(message)) in response.content.decode()


def signed_in_as(client) -> str | None:
    return client.session.get(SESSION_KEY)


def anonymous_session(client) -> str:
    """Give the visitor a session before signing in (what a session-fixation attacker plants)."""
    session = client.session
    session["planted"] = True
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    return session.session_key


def other_than(code: str) -> str:
    return "000000" if code != "000000" else "111111"


# Rate limits ----------------------------------------------------------------------------


def test_wrong_passwords_lock_the_account_and_then_even_the_right_one_is_refused(client):
    CustomerFactory(phone=PHONE)
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post("/accounts/login/", {"username": PHONE, "password": f"guess-{n}"})
        assert response.status_code == 200  # the login form again, with an error
    last = client.post("/accounts/login/", {"username": PHONE, "password": "last-guess"})
    assert last.status_code == 429

    response = client.post("/accounts/login/", {"username": PHONE, "password": PASSWORD})

    assert response.status_code == 429
    assert signed_in_as(client) is None


def test_wrong_passwords_for_many_accounts_from_one_address_lock_the_address(client, settings):
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = settings.AXES_FAILURE_LIMIT + 2
    victims = [CustomerFactory().phone.as_e164 for _ in range(settings.SIGN_IN_ADDRESS_FAILURE_LIMIT + 1)]
    for victim in victims[:-1]:
        client.post("/accounts/login/", {"username": victim, "password": "Spring2024!"}, REMOTE_ADDR="203.0.113.7")

    response = client.post(
        "/accounts/login/", {"username": victims[-1], "password": PASSWORD}, REMOTE_ADDR="203.0.113.7"
    )

    assert response.status_code == 429
    assert signed_in_as(client) is None


def test_signing_in_to_ones_own_account_does_not_clear_the_addresss_count_of_failures(client, settings):
    """A sprayer with an account of their own signed into it between guesses, and the address's
    count of failures started again from zero each time: guesses went on without end."""
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = settings.AXES_FAILURE_LIMIT + 2
    attacker = CustomerFactory()
    victims = [CustomerFactory().phone.as_e164 for _ in range(settings.SIGN_IN_ADDRESS_FAILURE_LIMIT)]
    address = {"REMOTE_ADDR": "203.0.113.7"}
    for victim in victims[:-1]:
        client.post("/accounts/login/", {"username": victim, "password": "Spring2024!"}, **address)
    own = Client().post("/accounts/login/", {"username": attacker.phone.as_e164, "password": PASSWORD}, **address)
    assert own.status_code == 302

    client.post("/accounts/login/", {"username": victims[-1], "password": "Spring2024!"}, **address)
    response = client.post("/accounts/login/", {"username": victims[0], "password": PASSWORD}, **address)

    assert response.status_code == 429
    assert signed_in_as(client) is None


def test_a_new_sign_in_code_cannot_be_asked_for_again_within_a_minute(client, sent):
    CustomerFactory(phone=PHONE)
    with sent():
        first = client.post("/accounts/login/code/", {"phone": PHONE})
        second = client.post("/accounts/login/code/", {"phone": PHONE})

    assert first.status_code == 302
    assert second.status_code == 200
    assert shows(second, codes.ERR_RESEND_TOO_SOON)
    assert OneTimeCode.objects.filter(destination=PHONE).count() == 1


def test_codes_per_number_per_hour_are_limited(client, sent, settings):
    settings.OTP_RESEND_INTERVAL_SECONDS = 0
    CustomerFactory(phone=PHONE)
    with sent():
        for _n in range(settings.OTP_MAX_PER_DESTINATION_PER_HOUR):
            assert client.post("/accounts/password-reset/", {"identifier": PHONE}).status_code == 302
        refused = client.post("/accounts/password-reset/", {"identifier": PHONE})

    assert shows(refused, codes.ERR_TOO_MANY_FOR_DESTINATION)
    assert OneTimeCode.objects.filter(destination=PHONE).count() == settings.OTP_MAX_PER_DESTINATION_PER_HOUR


def test_codes_per_network_per_hour_are_limited(client, sent, settings):
    settings.OTP_MAX_PER_IP_PER_HOUR = 3
    numbers = [CustomerFactory().phone.as_e164 for _n in range(4)]
    with sent():
        responses = [
            client.post("/accounts/login/code/", {"phone": number}, REMOTE_ADDR="203.0.113.9") for number in numbers
        ]

    assert [response.status_code for response in responses] == [302, 302, 302, 200]
    assert shows(responses[-1], codes.ERR_TOO_MANY_FROM_IP)


def test_guessing_a_sign_in_code_stops_after_the_attempt_limit(client, sent, code_for):
    user = CustomerFactory(phone=PHONE)
    with sent():
        client.post("/accounts/login/code/", {"phone": PHONE})
    code = code_for(PHONE)
    for _n in range(settings.OTP_MAX_VERIFY_ATTEMPTS):
        wrong = client.post("/accounts/login/code/verify/", {"code": other_than(code)})
        assert shows(wrong, codes.ERR_CODE_WRONG)

    response = client.post("/accounts/login/code/verify/", {"code": code})

    assert shows(response, codes.ERR_CODE_TOO_MANY_ATTEMPTS)
    assert signed_in_as(client) is None
    assert not User.objects.get(pk=user.pk).last_login


def test_guessing_a_password_reset_code_stops_after_the_attempt_limit(client, sent, code_for):
    user = CustomerFactory(phone=PHONE)
    with sent():
        client.post("/accounts/password-reset/", {"identifier": PHONE})
    code = code_for(PHONE)
    form = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    for _n in range(settings.OTP_MAX_VERIFY_ATTEMPTS):
        client.post("/accounts/password-reset/confirm/", {"code": other_than(code), **form})

    response = client.post("/accounts/password-reset/confirm/", {"code": code, **form})

    assert shows(response, codes.ERR_CODE_TOO_MANY_ATTEMPTS)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


# Sessions -------------------------------------------------------------------------------


def test_password_sign_in_rotates_the_session_key_and_the_old_one_is_dead(client):
    user = CustomerFactory(phone=PHONE)
    planted = anonymous_session(client)

    response = client.post("/accounts/login/", {"username": PHONE, "password": PASSWORD})

    assert response.status_code == 302
    assert signed_in_as(client) == str(user.pk)
    assert client.session.session_key != planted
    assert not SessionStore().exists(planted)
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = planted
    assert replay.get("/account/").status_code == 302  # the planted key signs nobody in


def test_code_sign_in_rotates_the_session_key(client, sent, code_for):
    user = CustomerFactory(phone=PHONE)
    with sent():
        client.post("/accounts/login/code/", {"phone": PHONE})
    before = client.session.session_key

    response = client.post("/accounts/login/code/verify/", {"code": code_for(PHONE)})

    assert response.status_code == 302
    assert signed_in_as(client) == str(user.pk)
    assert client.session.session_key != before
    assert not SessionStore().exists(before)


def test_confirming_a_registration_rotates_the_session_key(client, sent, code_for):
    with sent():
        client.post(
            "/accounts/register/",
            {"phone": PHONE, "email": "", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
    before = client.session.session_key

    response = client.post("/accounts/verify/", {"code": code_for(PHONE)})

    assert response.status_code == 302
    assert signed_in_as(client) == str(User.objects.get(phone=PHONE).pk)
    assert client.session.session_key != before


def test_signing_out_ends_the_session_on_the_server(client):
    CustomerFactory(phone=PHONE)
    client.post("/accounts/login/", {"username": PHONE, "password": PASSWORD})
    key = client.session.session_key

    client.post("/accounts/logout/")

    assert not SessionStore().exists(key)
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    assert replay.get("/account/").status_code == 302


def test_changing_the_password_by_reset_signs_out_other_sessions(client, sent, code_for):
    user = CustomerFactory(phone=PHONE)
    elsewhere = Client()
    elsewhere.force_login(user)
    assert elsewhere.get("/account/").status_code == 200
    with sent():
        client.post("/accounts/password-reset/", {"identifier": PHONE})

    client.post(
        "/accounts/password-reset/confirm/",
        {"code": code_for(PHONE), "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert elsewhere.get("/account/").status_code == 302


# Single use -------------------------------------------------------------------------------


def test_a_password_reset_code_works_once(client, sent, code_for):
    user = CustomerFactory(phone=PHONE)
    with sent():
        client.post("/accounts/password-reset/", {"identifier": PHONE})
    code = code_for(PHONE)
    first = client.post(
        "/accounts/password-reset/confirm/", {"code": code, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert first.status_code == 302
    # The attacker replays the same code in a fresh reset flow.
    session = client.session
    session[views.SESSION_RESET_IDENTIFIER] = PHONE
    session.save()

    again = client.post(
        "/accounts/password-reset/confirm/",
        {"code": code, "password1": "attacker-pass-9", "password2": "attacker-pass-9"},
    )

    assert again.status_code == 200
    assert shows(again, codes.ERR_CODE_WRONG)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_only_the_newest_reset_code_works(client, sent, code_for, settings):
    settings.OTP_RESEND_INTERVAL_SECONDS = 0
    user = CustomerFactory(phone=PHONE)
    with sent():
        client.post("/accounts/password-reset/", {"identifier": PHONE})
    old = code_for(PHONE)
    new = old
    while new == old:  # two random codes may (once in a million) be equal
        with sent():
            client.post("/accounts/password-reset/", {"identifier": PHONE})
        new = code_for(PHONE)

    response = client.post(
        "/accounts/password-reset/confirm/", {"code": old, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )

    assert shows(response, codes.ERR_CODE_WRONG)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_sign_in_code_works_once(client, sent, code_for):
    CustomerFactory(phone=PHONE)
    with sent():
        client.post("/accounts/login/code/", {"phone": PHONE})
    code = code_for(PHONE)
    assert client.post("/accounts/login/code/verify/", {"code": code}).status_code == 302

    attacker = Client()
    attacker.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    session = attacker.session
    session[views.SESSION_LOGIN_CODE_PHONE] = PHONE
    session.save()
    attacker.cookies[settings.SESSION_COOKIE_NAME] = session.session_key

    response = attacker.post("/accounts/login/code/verify/", {"code": code})

    assert shows(response, codes.ERR_CODE_WRONG)
    assert signed_in_as(attacker) is None


# Spellings of one identifier ------------------------------------------------------------

# PostgreSQL upper-cases the long s (ſ) to S and the dotless ı to I, so a case-insensitive
# lookup matches them to s and i, while the lockout's lower-casing keeps them apart.
LOOKALIKE = "ſıſ@example.com"


def test_a_lookalike_spelling_of_the_email_does_not_escape_the_lockout(client):
    CustomerFactory(phone=PHONE, email="sis@example.com")
    # Guesses from many addresses lock the account, not any address.
    for n in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            "/accounts/login/", {"username": "SIS@example.com", "password": f"guess-{n}"}, REMOTE_ADDR=f"203.0.113.{n}"
        )

    response = client.post(
        "/accounts/login/", {"username": LOOKALIKE, "password": PASSWORD}, REMOTE_ADDR="203.0.113.99"
    )

    assert signed_in_as(client) is None
    assert response.status_code in (200, 429)


def test_a_lookalike_spelling_of_the_email_reaches_no_account_in_the_app(client):
    customer = CustomerFactory(phone=PHONE, email="sis@example.com")
    app = APIClient()

    refused = app.post("/api/v1/auth/token/", {"username": LOOKALIKE, "password": PASSWORD}, format="json")
    accepted = app.post("/api/v1/auth/token/", {"username": "Sis@Example.com", "password": PASSWORD}, format="json")

    assert refused.status_code == 401
    assert accepted.status_code == 200
    assert find_user_by_identifier(LOOKALIKE) is None
    assert find_user_by_identifier(" SIS@EXAMPLE.COM ") == customer
