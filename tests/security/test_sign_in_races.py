"""Guesses of one account's password sent at the same moment: the lockout still counts each one
(real threads, PostgreSQL), on the web form and in the app."""

import threading

import pytest
from axes.models import AccessAttempt
from django.test import Client

from accounts.models import User
from tests.api.conftest import API, AppClient
from tests.factories import PASSWORD, CustomerFactory, make_staff
from tests.races import RACE_MARKS, errors, run_together, values

pytestmark = RACE_MARKS

GUESSES = 11


def web_sign_in(phone, password):
    return Client().post("/accounts/login/", {"username": phone, "password": password}).status_code


def admin_sign_in(username, password):
    return Client().post("/admin/login/", {"username": username, "password": password}).status_code


def app_sign_in(phone, password):
    return AppClient().post(f"{API}auth/token/", {"username": phone, "password": password}, format="json").status_code


@pytest.fixture
def checked_passwords(monkeypatch):
    """How many passwords were really compared with the account's."""
    checked = []
    lock = threading.Lock()
    original = User.check_password

    def counting(user, raw_password):
        with lock:
            checked.append(raw_password)
        return original(user, raw_password)

    monkeypatch.setattr(User, "check_password", counting)
    return checked


@pytest.mark.parametrize("sign_in", [web_sign_in, app_sign_in, admin_sign_in], ids=["web", "app", "admin"])
def test_guesses_at_once_are_counted_one_by_one_and_a_right_one_among_them_is_refused(
    settings, checked_passwords, sign_in
):
    settings.AXES_FAILURE_LIMIT = 3
    # A real hash takes time, which is the window guesses at once slipped through.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    if sign_in is admin_sign_in:
        account = make_staff("admin")
        identifier = account.username
    else:
        account = CustomerFactory()
        identifier = account.phone.as_e164
    account.set_password(PASSWORD)
    account.save()

    results = run_together(*[(lambda n=n: sign_in(identifier, f"guess-{n}")) for n in range(GUESSES)])

    assert not errors(results)
    assert len(values(results)) == GUESSES
    assert len(checked_passwords) == settings.AXES_FAILURE_LIMIT
    assert sign_in(identifier, PASSWORD) == 429


def test_guesses_for_different_accounts_do_not_wait_for_each_other(settings, checked_passwords):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_LOCKOUT_PARAMETERS = ["username"]
    phones = [CustomerFactory().phone.as_e164 for _ in range(4)]

    results = run_together(*[(lambda p=phone: app_sign_in(p, "wrong-guess")) for phone in phones])

    assert values(results) == [401] * 4
    assert len(checked_passwords) == 4


SPRAYED_ACCOUNTS = 10


@pytest.mark.parametrize("sign_in", [web_sign_in, app_sign_in], ids=["web", "app"])
def test_a_spray_at_once_from_one_address_checks_no_more_passwords_than_the_address_limit(
    settings, checked_passwords, sign_in
):
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = 3
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    phones = [CustomerFactory().phone.as_e164 for _ in range(SPRAYED_ACCOUNTS)]

    results = run_together(*[(lambda p=phone: sign_in(p, "Spring2024!")) for phone in phones])

    assert not errors(results)
    assert 1 <= len(checked_passwords) <= settings.SIGN_IN_ADDRESS_FAILURE_LIMIT
    # The rest were refused as a lockout, and no failure was counted for a password not checked.
    assert values(results).count(429) >= SPRAYED_ACCOUNTS - len(checked_passwords)
    assert AccessAttempt.objects.filter(ip_address="127.0.0.1").count() == len(checked_passwords)


def test_customers_behind_one_address_signing_in_at_once_are_neither_refused_nor_held_up(settings):
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = 4
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    customers = [CustomerFactory() for _ in range(settings.SIGN_IN_ADDRESS_FAILURE_LIMIT - 1)]
    for customer in customers:
        customer.set_password(PASSWORD)
        customer.save()

    results = run_together(*[(lambda c=customer: web_sign_in(c.phone.as_e164, PASSWORD)) for customer in customers])

    assert values(results) == [302] * len(customers)
