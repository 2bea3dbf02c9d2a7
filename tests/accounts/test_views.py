"""Registration, sign-in, lockout, sign-in by code, password reset and sign-out through the pages."""

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.core.cache import cache

from accounts import views
from accounts.forms import ERR_CODE_FORMAT, ERR_PASSWORDS_DIFFER, ERR_PHONE_INVALID, LoginForm
from accounts.lockout import address_check_places
from accounts.models import OneTimeCode, User
from accounts.services import codes
from tests.accounts.conftest import STRONG_PASSWORD, page_shows
from tests.factories import PASSWORD, CustomerFactory, make_staff

pytestmark = pytest.mark.django_db

PHONE = "+8613800138000"
INVALID_LOGIN = LoginForm.error_messages["invalid_login"]


@pytest.fixture(autouse=True)
def _english(english):
    """Every page here is read in English; the default language is tested in test_site."""


def other_than(code):
    return "000000" if code != "000000" else "111111"


def logged_in_user_id(client):
    return client.session.get(SESSION_KEY)


def register(client, sent, phone="138 0013 8000", email="", password=STRONG_PASSWORD, password2=None, ip=None):
    data = {"phone": phone, "email": email, "password1": password, "password2": password2 or password}
    with sent():
        return client.post("/accounts/register/", data, REMOTE_ADDR=ip or "198.51.100.7")


def login(client, username, password, ip="198.51.100.7"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


# Registration ----------------------------------------------------------------------------


def test_registration_with_the_right_code_activates_signs_in_and_opens_the_account_centre(client, sent, code_for):
    response = register(client, sent, email="wang.fang@example.com")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/verify/"
    user = User.objects.get(phone=PHONE)
    assert not user.is_active
    assert logged_in_user_id(client) is None

    with sent():
        response = client.post("/accounts/verify/", {"code": code_for(PHONE)})

    assert response.status_code == 302
    assert response["Location"] == "/account/"
    user.refresh_from_db()
    assert user.is_active
    assert user.phone_verified_at is not None
    assert (user.email, user.pending_email) == (None, "wang.fang@example.com")
    assert logged_in_user_id(client) == str(user.pk)
    assert client.get("/account/").status_code == 200


def test_registration_with_a_wrong_code_shows_an_error_and_stays_inactive(client, sent, code_for):
    register(client, sent)

    response = client.post("/accounts/verify/", {"code": other_than(code_for(PHONE))})

    assert response.status_code == 200
    assert response.context["form"].errors["code"] == [str(codes.ERR_CODE_WRONG)]
    assert page_shows(response, codes.ERR_CODE_WRONG)
    user = User.objects.get(phone=PHONE)
    assert not user.is_active and user.phone_verified_at is None
    assert logged_in_user_id(client) is None


def test_registration_code_that_expired_is_refused(client, sent, code_for, travel):
    register(client, sent)
    travel(timedelta(minutes=11))

    response = client.post("/accounts/verify/", {"code": code_for(PHONE)})

    assert response.context["form"].errors["code"] == [str(codes.ERR_CODE_WRONG)]
    assert not User.objects.get(phone=PHONE).is_active


def test_too_many_wrong_registration_codes_make_even_the_right_one_refused(client, sent, code_for, settings):
    settings.OTP_MAX_VERIFY_ATTEMPTS = 3
    register(client, sent)
    code = code_for(PHONE)
    for _ in range(3):
        client.post("/accounts/verify/", {"code": other_than(code)})

    response = client.post("/accounts/verify/", {"code": code})

    assert response.context["form"].errors["code"] == [str(codes.ERR_CODE_TOO_MANY_ATTEMPTS)]
    assert not User.objects.get(phone=PHONE).is_active
    assert logged_in_user_id(client) is None


def test_a_code_in_the_wrong_format_is_refused_without_counting_an_attempt(client, sent, code_for):
    register(client, sent)

    response = client.post("/accounts/verify/", {"code": "12ab"})

    assert response.context["form"].errors["code"] == [str(ERR_CODE_FORMAT)]
    assert page_shows(response, ERR_CODE_FORMAT)
    assert OneTimeCode.objects.get().failed_attempts == 0
    assert not User.objects.get(phone=PHONE).is_active


def test_verify_page_without_a_pending_registration_sends_to_register(client):
    response = client.get("/accounts/verify/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/register/"


def test_asking_for_a_new_registration_code_too_soon_is_refused(client, sent, sms_outbox):
    register(client, sent)

    with sent():
        response = client.post("/accounts/verify/", {"resend": "1"}, follow=True)

    assert page_shows(response, codes.ERR_RESEND_TOO_SOON)
    assert len(sms_outbox) == 1


def test_more_registration_codes_per_number_than_allowed_are_refused(client, sent, settings, sms_outbox):
    settings.OTP_RESEND_INTERVAL_SECONDS = 0
    settings.OTP_MAX_PER_DESTINATION_PER_HOUR = 2
    register(client, sent)
    with sent():
        client.post("/accounts/verify/", {"resend": "1"})

    with sent():
        response = client.post("/accounts/verify/", {"resend": "1"}, follow=True)

    assert page_shows(response, codes.ERR_TOO_MANY_FOR_DESTINATION)
    assert len(sms_outbox) == 2


def test_more_registrations_per_ip_than_allowed_are_refused(client, sent, settings, sms_outbox):
    settings.OTP_MAX_PER_IP_PER_HOUR = 2
    register(client, sent, phone="138 0013 8000", ip="203.0.113.9")
    register(client, sent, phone="139 0013 9000", ip="203.0.113.9")

    response = register(client, sent, phone="137 0013 7000", ip="203.0.113.9")

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [str(codes.ERR_TOO_MANY_FROM_IP)]
    assert not User.objects.filter(phone="+8613700137000").exists()
    assert len(sms_outbox) == 2
    # Another network is not affected.
    assert register(client, sent, phone="137 0013 7000", ip="203.0.113.10").status_code == 302


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"phone": "12345"}, "phone", ERR_PHONE_INVALID),
        ({"phone": "+86 138 0013"}, "phone", ERR_PHONE_INVALID),
        ({"phone": ""}, "phone", "This field is required."),
        (
            {"password1": "x7-k", "password2": "x7-k"},
            "password1",
            "This password is too short. It must contain at least 8 characters.",
        ),
        ({"password1": "password1", "password2": "password1"}, "password1", "This password is too common."),
        ({"password1": "83920174615", "password2": "83920174615"}, "password1", "This password is entirely numeric."),
        ({"password2": "another-secret-42"}, "password2", ERR_PASSWORDS_DIFFER),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
    ],
    ids=["short-number", "incomplete-number", "no-number", "short", "common", "numeric", "mismatch", "bad-email"],
)
def test_bad_registration_input_creates_nothing_and_says_why(client, sent, sms_outbox, data, field, message):
    form = {"phone": "138 0013 8000", "email": "", "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD}
    form.update(data)

    with sent():
        response = client.post("/accounts/register/", form)

    assert response.status_code == 200
    assert str(message) in response.context["form"].errors[field]
    assert page_shows(response, message)
    assert not User.objects.exists()
    assert not OneTimeCode.objects.exists()
    assert sms_outbox == []


def test_registering_an_already_confirmed_number_is_answered_as_a_new_one(client, sent, sms_outbox):
    existing = CustomerFactory(phone=PHONE)

    response = register(client, sent, phone="+86 138 0013 8000")

    assert response.status_code == 302 and response["Location"] == "/accounts/verify/"
    existing.refresh_from_db()
    assert existing.check_password(PASSWORD)
    assert User.objects.count() == 1
    assert [message["to"] for message in sms_outbox] == [PHONE]
    assert not re.search(r"\d{6}", sms_outbox[0]["text"])


def test_registering_with_an_email_already_used_goes_ahead_and_the_email_waits(client, sent, sms_outbox, code_for):
    CustomerFactory(email="li.lei@example.com")

    response = register(client, sent, email="li.lei@example.com")
    with sent():
        client.post("/accounts/verify/", {"code": code_for(PHONE)})

    assert response.status_code == 302
    user = User.objects.get(phone=PHONE)
    assert (user.email, user.pending_email) == (None, "li.lei@example.com")


# Password sign-in ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "identifier",
    ["138 0013 8000", "13800138000", "+86 138 0013 8000", "+8613800138000", "Li.Lei@Example.com"],
)
def test_customer_signs_in_with_phone_in_any_format_or_email(client, identifier):
    user = CustomerFactory(phone=PHONE, email="li.lei@example.com")

    response = login(client, identifier, PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert logged_in_user_id(client) == str(user.pk)


def test_staff_signs_in_with_username(client):
    staff = make_staff("reviewer", login="wang.reviewer")

    response = login(client, "wang.reviewer", PASSWORD)

    assert response.status_code == 302
    assert logged_in_user_id(client) == str(staff.pk)


def test_customer_cannot_sign_in_with_a_username(client):
    CustomerFactory(phone=PHONE, username="lilei")

    response = login(client, "lilei", PASSWORD)

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [str(INVALID_LOGIN)]
    assert logged_in_user_id(client) is None


def test_wrong_password_is_refused(client):
    CustomerFactory(phone=PHONE)

    response = login(client, PHONE, "not-the-password")

    assert response.status_code == 200
    assert page_shows(response, INVALID_LOGIN)
    assert logged_in_user_id(client) is None


def test_unconfirmed_account_cannot_sign_in(client):
    CustomerFactory(phone=PHONE, is_active=False, phone_verified_at=None)

    response = login(client, PHONE, PASSWORD)

    assert response.status_code == 200
    assert logged_in_user_id(client) is None


def test_session_key_changes_at_sign_in(client):
    user = CustomerFactory(phone=PHONE)
    session = client.session
    session["seen_home"] = True
    session.save()
    anonymous_key = session.session_key

    login(client, PHONE, PASSWORD)

    assert client.session.session_key != anonymous_key
    assert logged_in_user_id(client) == str(user.pk)


def test_sign_out_is_post_only(client):
    user = CustomerFactory(phone=PHONE)
    client.force_login(user)

    assert client.get("/accounts/logout/").status_code == 405
    assert logged_in_user_id(client) == str(user.pk)

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert logged_in_user_id(client) is None
    assert client.get("/account/").status_code == 302


# Lockout ---------------------------------------------------------------------------------


def assert_locked_out(response):
    assert response.status_code == 429
    assert 'data-testid="locked-out"' in response.content.decode()


def test_failed_logins_for_one_account_lock_it_even_from_other_networks(client, settings):
    CustomerFactory(phone=PHONE)
    for n in range(settings.AXES_FAILURE_LIMIT):
        login(client, PHONE, f"wrong-{n}", ip=f"10.0.0.{n + 1}")

    response = login(client, PHONE, PASSWORD, ip="10.0.1.1")

    assert_locked_out(response)
    assert logged_in_user_id(client) is None
    # Other accounts on those networks are not locked.
    other = CustomerFactory()
    assert login(client, other.phone.as_e164, PASSWORD, ip="10.0.1.1").status_code == 302


def test_phone_typed_in_different_formats_counts_as_the_same_account(client, settings):
    CustomerFactory(phone=PHONE)
    spellings = ["138 0013 8000", "13800138000", "+86 138-0013-8000", "+8613800138000", "138-0013-8000"]
    for n in range(settings.AXES_FAILURE_LIMIT):
        login(client, spellings[n % len(spellings)], "wrong", ip=f"10.0.0.{n + 1}")

    assert_locked_out(login(client, "+86 138 0013 8000", PASSWORD, ip="10.0.1.1"))


def test_failed_logins_from_one_network_lock_it_across_accounts(client, settings):
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = settings.AXES_FAILURE_LIMIT + 2
    victims = [CustomerFactory() for _ in range(settings.SIGN_IN_ADDRESS_FAILURE_LIMIT)]
    for victim in victims:
        login(client, victim.phone.as_e164, "wrong", ip="203.0.113.66")
    customer = CustomerFactory(phone=PHONE)

    assert_locked_out(login(client, PHONE, PASSWORD, ip="203.0.113.66"))
    assert login(client, PHONE, PASSWORD, ip="203.0.113.67").status_code == 302
    assert logged_in_user_id(client) == str(customer.pk)


def test_customers_behind_one_network_are_not_locked_by_as_many_typos_as_lock_one_account(client, settings):
    """A carrier NAT address carries many customers: their typos together must not pause all of
    them as soon as one account's limit is reached; the address has a higher limit of its own."""
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = settings.AXES_FAILURE_LIMIT * 4
    for neighbour in [CustomerFactory() for _ in range(settings.AXES_FAILURE_LIMIT + 1)]:
        assert login(client, neighbour.phone.as_e164, "typo", ip="203.0.113.66").status_code == 200
    customer = CustomerFactory(phone=PHONE)

    assert login(client, PHONE, PASSWORD, ip="203.0.113.66").status_code == 302
    assert logged_in_user_id(client) == str(customer.pk)


def test_signing_in_forgets_the_accounts_own_failures(client, settings):
    """A customer signs in by phone or email (their account has no username): a success used to
    forget nothing, so typos on two visits a few minutes apart added up to a lockout."""
    customer = CustomerFactory(phone=PHONE)
    for visit in range(2):
        for n in range(settings.AXES_FAILURE_LIMIT - 1):
            assert login(client, "138 0013 8000", f"typo-{n}", ip="10.0.0.1").status_code == 200
        assert login(client, customer.email if visit else PHONE, PASSWORD, ip="10.0.0.1").status_code == 302
        client.post("/accounts/logout/")

    assert not AccessAttempt.objects.filter(username=PHONE).exists()


def test_more_sign_ins_at_once_from_one_network_than_its_limit_are_asked_to_try_again_in_a_moment(client, settings):
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = 3
    customer = CustomerFactory(phone=PHONE)
    # Three password checks from the address are in progress (each holds one of its places).
    for key in address_check_places("203.0.113.66", 3):
        cache.add(key, 1)

    busy = login(client, PHONE, PASSWORD, ip="203.0.113.66")

    assert busy.status_code == 429
    assert 'data-testid="sign-in-busy"' in busy.content.decode()
    assert "Too many failed sign-in attempts" not in busy.content.decode()
    assert not AccessAttempt.objects.exists()  # no password was checked, no failure counted
    cache.delete_many(address_check_places("203.0.113.66", 3))
    assert login(client, PHONE, PASSWORD, ip="203.0.113.66").status_code == 302
    assert logged_in_user_id(client) == str(customer.pk)


def test_fewer_failures_than_the_limit_do_not_lock(client, settings):
    user = CustomerFactory(phone=PHONE)
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, PHONE, f"wrong-{n}", ip=f"10.0.0.{n + 1}").status_code == 200

    assert login(client, PHONE, PASSWORD, ip="10.0.1.1").status_code == 302
    assert logged_in_user_id(client) == str(user.pk)


def test_behind_a_trusted_proxy_lockout_counts_the_client_address_not_the_proxy(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.9.9.9"

    def login_via_proxy(username, password, client_ip):
        data = {"username": username, "password": password}
        return client.post("/accounts/login/", data, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=client_ip)

    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = settings.AXES_FAILURE_LIMIT + 2
    for victim in [CustomerFactory() for _ in range(settings.SIGN_IN_ADDRESS_FAILURE_LIMIT)]:
        login_via_proxy(victim.phone.as_e164, "wrong", "203.0.113.66")
    CustomerFactory(phone=PHONE)

    assert login_via_proxy(PHONE, PASSWORD, "198.51.100.20").status_code == 302
    client.post("/accounts/logout/")
    assert_locked_out(login_via_proxy(PHONE, PASSWORD, "203.0.113.66"))


# Sign-in by SMS code ---------------------------------------------------------------------


def request_login_code(client, sent, phone):
    with sent():
        return client.post("/accounts/login/code/", {"phone": phone}, REMOTE_ADDR="198.51.100.7")


def test_sign_in_with_a_code_by_sms(client, sent, code_for):
    user = CustomerFactory(phone=PHONE)

    response = request_login_code(client, sent, "138 0013 8000")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/code/verify/"

    response = client.post("/accounts/login/code/verify/", {"code": code_for(PHONE)})

    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert logged_in_user_id(client) == str(user.pk)


def test_sign_in_with_a_wrong_code_is_refused(client, sent, code_for):
    CustomerFactory(phone=PHONE)
    request_login_code(client, sent, PHONE)

    response = client.post("/accounts/login/code/verify/", {"code": other_than(code_for(PHONE))})

    assert response.context["form"].errors["code"] == [str(codes.ERR_CODE_WRONG)]
    assert logged_in_user_id(client) is None


def test_sign_in_code_for_an_unknown_number_looks_the_same_and_sends_nothing(client, sent, sms_outbox):
    CustomerFactory(phone="+8613900139000")
    known = request_login_code(client, sent, "139 0013 9000")
    known_page = client.get(known["Location"])
    sms_outbox.clear()
    client.cookies.pop("sessionid", None)

    unknown = request_login_code(client, sent, "138 0013 8000")
    unknown_page = client.get(unknown["Location"])

    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    assert page_shows(unknown_page, "If 138 0013 8000 has an account, a sign-in code is on its way.")
    assert page_shows(known_page, "If 139 0013 9000 has an account, a sign-in code is on its way.")
    assert sms_outbox == []
    assert not OneTimeCode.objects.filter(destination=PHONE, user__isnull=False).exists()
    response = client.post("/accounts/login/code/verify/", {"code": "123456"})
    assert response.context["form"].errors["code"] == [str(codes.ERR_CODE_WRONG)]
    assert logged_in_user_id(client) is None


def test_sign_in_code_page_without_a_number_sends_back_to_the_request(client):
    response = client.get("/accounts/login/code/verify/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/code/"


# Password reset --------------------------------------------------------------------------


NEW_PASSWORD = "brand-new-secret-7"


def reset_with_code(client, code, password=NEW_PASSWORD):
    return client.post(
        "/accounts/password-reset/confirm/", {"code": code, "password1": password, "password2": password}
    )


def test_password_reset_by_phone_code(client, sent, code_for):
    user = CustomerFactory(phone=PHONE)
    with sent():
        response = client.post("/accounts/password-reset/", {"identifier": "138 0013 8000"})
    assert response["Location"] == "/accounts/password-reset/confirm/"

    with sent():
        response = reset_with_code(client, code_for(PHONE))

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    user.refresh_from_db()
    assert user.check_password("brand-new-secret-7")
    assert login(client, PHONE, PASSWORD).status_code == 200
    assert login(client, PHONE, "brand-new-secret-7").status_code == 302


def test_password_reset_by_email_code(client, sent, sms_outbox):
    user = CustomerFactory(phone=PHONE, email="li.lei@example.com")
    with sent():
        client.post("/accounts/password-reset/", {"identifier": "li.lei@example.com"})
    assert sms_outbox == []
    assert mail.outbox[0].to == ["li.lei@example.com"]
    code = re.search(r"\b\d{6}\b", mail.outbox[0].body).group()

    response = reset_with_code(client, code)

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("brand-new-secret-7")
    assert not user.check_password(PASSWORD)


def test_password_reset_code_works_only_once(client, sent, code_for):
    user = CustomerFactory(phone=PHONE)
    with sent():
        client.post("/accounts/password-reset/", {"identifier": PHONE})
    code = code_for(PHONE)
    reset_with_code(client, code)
    session = client.session
    session[views.SESSION_RESET_IDENTIFIER] = PHONE
    session.save()

    response = reset_with_code(client, code, password="third-secret-9")

    assert response.context["form"].errors["code"] == [str(codes.ERR_CODE_WRONG)]
    user.refresh_from_db()
    assert user.check_password("brand-new-secret-7")


def test_password_reset_refuses_a_weak_new_password(client, sent, code_for):
    user = CustomerFactory(phone=PHONE)
    with sent():
        client.post("/accounts/password-reset/", {"identifier": PHONE})

    response = reset_with_code(client, code_for(PHONE), password="12345678")

    assert "This password is entirely numeric." in response.context["form"].errors["password1"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert OneTimeCode.objects.get().used_at is None


def test_password_reset_for_an_unknown_account_looks_the_same_and_sends_nothing(client, sent, sms_outbox):
    with sent():
        response = client.post("/accounts/password-reset/", {"identifier": "138 0013 8000"}, follow=True)

    assert response.redirect_chain == [("/accounts/password-reset/confirm/", 302)]
    assert page_shows(response, "If an account matches, we sent it a code.")
    assert sms_outbox == [] and mail.outbox == []
    response = reset_with_code(client, "123456")
    assert response.context["form"].errors["code"] == [str(codes.ERR_CODE_WRONG)]


def test_password_reset_for_a_staff_username_without_contact_sends_nothing(client, sent, sms_outbox):
    make_staff("reviewer", login="wang.reviewer")

    with sent():
        response = client.post("/accounts/password-reset/", {"identifier": "wang.reviewer"})

    assert response.status_code == 302
    assert sms_outbox == [] and mail.outbox == []
