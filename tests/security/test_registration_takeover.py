"""Someone who registers a number they do not hold never gets into that number's account.

The victim starts registering their number; before they confirm, an attacker registers the same
number with their own email and password. The attacker never receives the SMS. Whatever the
order of what follows, the attacker's password and email never open the account, and the
victim's own code still confirms it with the victim's password (or a new code restarts it).
"""

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client

from accounts import services, sms
from accounts.models import User

pytestmark = pytest.mark.django_db

NUMBER = "138 0013 8000"
E164 = "+8613800138000"
VICTIM_PASSWORD = "victims-own-secret-42"
ATTACKER_PASSWORD = "attackers-secret-42"


@pytest.fixture(autouse=True)
def _no_resend_wait_nor_lockout(settings):
    settings.OTP_RESEND_INTERVAL_SECONDS = 0
    # The attacker's failed sign-ins would lock the account: a refusal must come from the password.
    settings.AXES_ENABLED = False


def register(client, sent, email, password, ip):
    data = {"phone": NUMBER, "email": email, "password1": password, "password2": password}
    with sent():
        response = client.post("/accounts/register/", data, REMOTE_ADDR=ip)
    assert response.status_code == 302 and response["Location"] == "/accounts/verify/"
    return response


def newest_code() -> str:
    """The code in the newest SMS with a code to the number: only the victim, who holds the phone, reads it."""
    codes = [re.search(r"\b(\d{6})\b", message["text"]) for message in sms.outbox if message["to"] == E164]
    return [found for found in codes if found][-1].group(1)


def signs_in(username, password) -> bool:
    client = Client()
    client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR="203.0.113.50")
    return SESSION_KEY in client.session


def confirm(client, code):
    return client.post("/accounts/verify/", {"code": code})


@pytest.fixture
def victim_and_attacker(sent):
    victim, attacker = Client(), Client()
    register(victim, sent, "victim@example.com", VICTIM_PASSWORD, "198.51.100.7")
    victims_code = newest_code()
    register(attacker, sent, "attacker@example.com", ATTACKER_PASSWORD, "203.0.113.9")
    return victim, attacker, victims_code


def assert_attacker_stays_out():
    for username in (E164, NUMBER, "attacker@example.com"):
        assert not signs_in(username, ATTACKER_PASSWORD), username


def test_the_victims_own_code_still_confirms_with_the_victims_password(victim_and_attacker, sent):
    victim, attacker, victims_code = victim_and_attacker
    assert_attacker_stays_out()

    with sent():
        response = confirm(victim, victims_code)

    assert response.status_code == 302 and response["Location"] == "/account/"
    user = User.objects.get(phone=E164)
    assert user.is_active and user.check_password(VICTIM_PASSWORD)
    # The victim's email waits for the code mailed to it, then signs in too.
    assert (user.email, user.pending_email) == (None, "victim@example.com")
    (mailed,) = [message for message in mail.outbox if message.to == ["victim@example.com"]]
    with sent():
        services.email_confirm(user=user, code=re.search(r"\b(\d{6})\b", mailed.body).group(1))
    assert_attacker_stays_out()
    assert signs_in(E164, VICTIM_PASSWORD) and signs_in("victim@example.com", VICTIM_PASSWORD)
    # The attacker's registration is over: no code confirms it any more.
    with sent():
        assert confirm(attacker, newest_code()).status_code in (200, 302)
    assert SESSION_KEY not in attacker.session
    assert_attacker_stays_out()


def test_the_victim_typing_the_attackers_code_does_not_hand_over_the_account(victim_and_attacker, sent):
    victim, _attacker, victims_code = victim_and_attacker
    # The newest SMS on the victim's phone is the attacker's code; the victim enters it.
    attackers_code = newest_code()

    response = confirm(victim, attackers_code)

    assert response.status_code == 200 and "code" in response.context["form"].errors
    assert not User.objects.get(phone=E164).is_active
    with sent():
        assert confirm(victim, victims_code)["Location"] == "/account/"
    assert User.objects.get(phone=E164).check_password(VICTIM_PASSWORD)
    assert_attacker_stays_out()


def test_a_new_code_for_the_victim_restarts_the_victims_registration_not_the_attackers(victim_and_attacker, sent):
    victim, attacker, _victims_code = victim_and_attacker
    with sent():
        attacker.post("/accounts/verify/", {"resend": "1"}, REMOTE_ADDR="203.0.113.9")
        victim.post("/accounts/verify/", {"resend": "1"}, REMOTE_ADDR="198.51.100.7")

    with sent():
        assert confirm(victim, newest_code())["Location"] == "/account/"

    user = User.objects.get(phone=E164)
    assert user.check_password(VICTIM_PASSWORD) and user.pending_email == "victim@example.com"
    assert_attacker_stays_out()


def test_the_attacker_guessing_codes_gets_nowhere(victim_and_attacker, settings):
    _victim, attacker, victims_code = victim_and_attacker
    guesses = [f"{n:06d}" for n in range(settings.OTP_MAX_VERIFY_ATTEMPTS + 1) if f"{n:06d}" != victims_code]

    for guess in guesses:
        assert confirm(attacker, guess).status_code == 200

    assert not User.objects.get(phone=E164).is_active
    assert_attacker_stays_out()
