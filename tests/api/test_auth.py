"""Sign-in for the app: register and confirm by code, password or code sign-in, refresh, revoke."""

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.utils import translation
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.lockout import address_check_places
from accounts.models import AuditEvent, User
from accounts.services.codes import ERR_CODE_WRONG
from api.tokens import ERR_STAFF_TOKENS
from tests.accounts.conftest import STRONG_PASSWORD
from tests.api.conftest import API, PASSWORD, problem
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_register_then_confirm_with_the_texted_code_signs_in(app, code_for, sent):
    with sent():
        response = app.post(f"{API}auth/register/", {"phone": "138 0013 9999", "password": STRONG_PASSWORD})
    assert response.status_code == 202, response.content
    registration = response.json()["registration"]
    user = User.objects.get(phone="+8613800139999")
    assert not user.is_active

    response = app.post(
        f"{API}auth/register/confirm/", {"registration": registration, "code": code_for("+8613800139999")}
    )
    assert response.status_code == 201, response.content
    app.use(response.json()["access"])
    summary = app.get(f"{API}account/")
    assert summary.status_code == 200
    assert summary.json()["phone"] == "+8613800139999"
    assert summary.json()["lines"] == []


def test_a_wrong_code_is_refused_with_a_stable_code_and_changes_nothing(app):
    registration = app.post(f"{API}auth/register/", {"phone": "13800139998", "password": STRONG_PASSWORD}).json()
    response = app.post(
        f"{API}auth/register/confirm/", {"registration": registration["registration"], "code": "000000"}
    )
    body = problem(response)
    assert response.status_code == 422
    assert body["code"] == "code.code_wrong"
    with translation.override("en"):
        assert body["detail"] == str(ERR_CODE_WRONG)
    assert not User.objects.get(phone="+8613800139998").is_active


def test_a_forged_registration_token_is_refused(app):
    response = app.post(f"{API}auth/register/confirm/", {"registration": "1", "code": "123456"})
    assert problem(response)["code"] == "code.code_wrong"


def test_register_with_a_weak_password_lists_the_field_errors(app):
    response = app.post(f"{API}auth/register/", {"phone": "13800139997", "password": "12345678"})
    body = problem(response)
    assert response.status_code == 400
    assert body["code"] == "validation_error"
    assert "password1" in body["errors"]
    assert not User.objects.filter(phone="+8613800139997").exists()


def test_password_sign_in_then_refresh_rotates_and_the_old_refresh_token_is_spent(app, customer):
    response = app.post(f"{API}auth/token/", {"username": customer.phone.as_national, "password": PASSWORD})
    assert response.status_code == 200, response.content
    first = response.json()
    rotated = app.post(f"{API}auth/token/refresh/", {"refresh": first["refresh"]})
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != first["refresh"]
    again = app.post(f"{API}auth/token/refresh/", {"refresh": first["refresh"]})
    assert again.status_code == 401
    assert problem(again)["code"] == "token_not_valid"
    assert AuditEvent.objects.filter(verb="api.signed_in", subject_user=customer).exists()


def test_wrong_passwords_lock_the_account_out_as_on_the_web(app, customer, settings):
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        response = app.post(f"{API}auth/token/", {"username": customer.email, "password": "wrong-password"})
        assert response.status_code in (401, 429)
    response = app.post(f"{API}auth/token/", {"username": customer.email, "password": PASSWORD})
    assert response.status_code == 429
    assert problem(response)["code"] == "locked_out"


def test_more_sign_ins_at_once_from_one_address_than_its_limit_are_asked_to_wait_a_moment(app, customer, settings):
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = 2
    places = address_check_places("127.0.0.1", 2)
    for key in places:  # two password checks from the address in progress
        cache.add(key, 1)
    try:
        response = app.post(f"{API}auth/token/", {"username": customer.email, "password": PASSWORD})
    finally:
        cache.delete_many(places)

    assert response.status_code == 429
    assert problem(response)["code"] == "sign_in_busy"
    assert not AccessAttempt.objects.exists()
    assert app.post(f"{API}auth/token/", {"username": customer.email, "password": PASSWORD}).status_code == 200


def test_sign_in_by_texted_code(app, customer, code_for, sent):
    with sent():
        response = app.post(f"{API}auth/code/", {"phone": customer.phone.as_e164})
    assert response.status_code == 202
    response = app.post(
        f"{API}auth/code/token/", {"phone": customer.phone.as_e164, "code": code_for(customer.phone.as_e164)}
    )
    assert response.status_code == 200, response.content
    app.use(response.json()["access"])
    assert app.get(f"{API}account/").status_code == 200


def test_code_sign_in_for_a_number_without_account_fails_like_a_wrong_code(app):
    assert app.post(f"{API}auth/code/", {"phone": "13800137777"}).status_code == 202
    response = app.post(f"{API}auth/code/token/", {"phone": "13800137777", "code": "123456"})
    assert problem(response)["code"] == "code.code_wrong"


def test_revoked_refresh_token_no_longer_refreshes(signed_in):
    assert signed_in.post(f"{API}auth/token/revoke/", {"refresh": signed_in.refresh}).status_code == 204
    assert signed_in.post(f"{API}auth/token/refresh/", {"refresh": signed_in.refresh}).status_code == 401


def test_sign_out_everywhere_ends_every_refresh_token(app, customer):
    phone_pair = app.sign_in_as(customer)
    tablet_pair = app.sign_in_as(customer)
    assert app.post(f"{API}auth/sign-out-everywhere/").status_code == 204
    for pair in (phone_pair, tablet_pair):
        assert app.post(f"{API}auth/token/refresh/", {"refresh": pair["refresh"]}).status_code == 401


def test_password_reset_ends_every_token_at_once(app, customer, code_for, sent):
    pair = app.sign_in_as(customer)
    with sent():
        assert app.post(f"{API}auth/password-reset/", {"identifier": customer.phone.as_e164}).status_code == 202
    response = app.post(
        f"{API}auth/password-reset/confirm/",
        {
            "identifier": customer.phone.as_e164,
            "code": code_for(customer.phone.as_e164),
            "new_password": STRONG_PASSWORD,
        },
    )
    assert response.status_code == 204, response.content
    assert app.get(f"{API}account/").status_code == 401  # the access token carried the old password's digest
    assert app.post(f"{API}auth/token/refresh/", {"refresh": pair["refresh"]}).status_code == 401
    assert app.post(f"{API}auth/token/", {"username": customer.email, "password": STRONG_PASSWORD}).status_code == 200


def test_a_password_changed_elsewhere_also_ends_the_refresh_tokens(app, customer):
    pair = app.sign_in_as(customer)
    customer.set_password("another-password-77")
    customer.save()
    assert app.post(f"{API}auth/token/refresh/", {"refresh": pair["refresh"]}).status_code == 401


def test_staff_cannot_sign_in_to_the_app(app, staff_member):
    response = app.post(f"{API}auth/token/", {"username": staff_member.username, "password": PASSWORD})
    body = problem(response)
    assert response.status_code == 403
    with translation.override("en"):
        assert body["detail"] == str(ERR_STAFF_TOKENS)


def test_a_staff_token_made_anyway_reaches_nothing(app, staff_member):
    app.use(str(RefreshToken.for_user(staff_member).access_token))
    for path in ("account/", "orders/", "verification/", "notifications/"):
        response = app.get(f"{API}{path}")
        assert response.status_code in (401, 403), path
    refresh = str(RefreshToken.for_user(staff_member))
    assert app.post(f"{API}auth/token/refresh/", {"refresh": refresh}).status_code == 401


def test_no_token_is_a_401_problem(app):
    response = app.get(f"{API}account/")
    assert response.status_code == 401
    assert problem(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_inactive_customer_token_stops_working(app):
    user = CustomerFactory()
    app.sign_in_as(user)
    user.is_active = False
    user.save()
    assert app.get(f"{API}account/").status_code == 401


@pytest.mark.parametrize(
    ("accept_language", "language", "code_text"),
    [
        ("en", "en", "[Heyon] Your Heyon code is "),
        ("en-GB,en;q=0.9", "en", "[Heyon] Your Heyon code is "),
        ("zh-CN", "zh-hans", "【Heyon】"),
    ],
)
def test_registering_from_the_app_keeps_its_language_for_the_code_and_later_messages(
    app, sent, sms_outbox, accept_language, language, code_text
):
    app.language = accept_language
    with sent():
        response = app.post(f"{API}auth/register/", {"phone": "138 0013 9990", "password": STRONG_PASSWORD})

    assert response.status_code == 202, response.content
    assert User.objects.get(phone="+8613800139990").language == language
    assert sms_outbox[-1]["text"].startswith(code_text)


@pytest.mark.parametrize("accept_language", ["", "fr", "*"])
def test_registering_from_an_app_that_names_no_language_we_speak_leaves_it_to_the_site(app, accept_language):
    app.language = accept_language

    response = app.post(f"{API}auth/register/", {"phone": "138 0013 9991", "password": STRONG_PASSWORD})

    assert response.status_code == 202, response.content
    assert User.objects.get(phone="+8613800139991").language == ""
