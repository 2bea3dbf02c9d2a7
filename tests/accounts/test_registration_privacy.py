"""Registration tells nobody whether a number has an account: a taken number is answered as a new one.

The number's holder is told by SMS, without a code, that someone tried; staff get nothing.
"""

import re
from datetime import timedelta

import pytest

from accounts import message_kinds
from accounts.models import NumberQuarantine, OneTimeCode, OutboundMessage, User
from accounts.services import codes
from tests.accounts.conftest import STRONG_PASSWORD
from tests.api.conftest import API, AppClient
from tests.factories import PASSWORD, CustomerFactory, make_staff

pytestmark = pytest.mark.django_db

NEW = "+8613800138000"
TAKEN = "+8613900139000"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def register(client, sent, phone, *, email="someone@example.com", password=STRONG_PASSWORD, ip="198.51.100.7"):
    data = {"phone": phone, "email": email, "password1": password, "password2": password}
    with sent():
        return client.post("/accounts/register/", data, REMOTE_ADDR=ip)


def comparable(response, *numbers) -> str:
    """The page with its CSRF token and the typed number (in every spelling) left out."""
    page = CSRF.sub("csrf", response.content.decode())
    for number in numbers:
        for spelling in (number, number[3:6] + " " + number[6:10] + " " + number[10:]):
            page = page.replace(spelling, "NUMBER")
    return page


@pytest.fixture
def holder():
    """A confirmed customer of the taken number, with an English account and an email."""
    return CustomerFactory(phone=TAKEN, email="holder@example.com", language="en")


def unchanged(user: User) -> tuple:
    user = User.objects.get(pk=user.pk)
    return (user.password, user.email, user.language, user.is_active, user.phone_verified_at)


# The web pages -------------------------------------------------------------------------------


def test_the_register_and_verify_pages_answer_a_taken_number_exactly_as_a_new_one(client, sent, holder, english):
    new = register(client, sent, "138 0013 8000")
    new_verify = client.get("/accounts/verify/")
    client.cookies.pop("sessionid")
    taken = register(client, sent, "139 0013 9000")
    taken_verify = client.get("/accounts/verify/")

    assert (taken.status_code, taken["Location"]) == (new.status_code, new["Location"]) == (302, "/accounts/verify/")
    assert taken.content == new.content
    assert taken_verify.status_code == new_verify.status_code == 200
    assert comparable(taken_verify, TAKEN) == comparable(new_verify, NEW)
    assert "139 0013 9000" in taken_verify.content.decode()


def test_a_code_typed_for_a_taken_number_is_refused_as_a_wrong_code_and_changes_nothing(
    client, sent, holder, english, settings
):
    settings.OTP_MAX_VERIFY_ATTEMPTS = 2
    before = unchanged(holder)
    register(client, sent, "139 0013 9000", email="intruder@example.com", password="intruder-secret-42")
    answers = [client.post("/accounts/verify/", {"code": code}) for code in ("123456", "654321", "000000")]
    client.cookies.pop("sessionid")
    register(client, sent, "138 0013 8000")
    new_answers = [client.post("/accounts/verify/", {"code": code}) for code in ("123456", "654321", "000000")]

    wrong, too_many = str(codes.ERR_CODE_WRONG), str(codes.ERR_CODE_TOO_MANY_ATTEMPTS)
    assert [answer.context["form"].errors["code"] for answer in answers] == [[wrong], [wrong], [too_many]]
    assert [comparable(answer, TAKEN) for answer in answers] == [comparable(answer, NEW) for answer in new_answers]
    assert unchanged(holder) == before
    assert User.objects.filter(phone=TAKEN).count() == 1
    assert "_auth_user_id" not in client.session


def test_sending_again_for_a_taken_number_answers_as_for_a_new_one(client, sent, holder, english, travel):
    answers = {}
    for number, typed in ((NEW, "138 0013 8000"), (TAKEN, "139 0013 9000")):
        client.cookies.pop("sessionid", None)
        register(client, sent, typed)
        with sent():
            too_soon = client.post("/accounts/verify/", {"resend": "1"}, follow=True)
        travel(timedelta(minutes=2))
        with sent():
            again = client.post("/accounts/verify/", {"resend": "1"}, follow=True)
        answers[number] = (comparable(too_soon, number), comparable(again, number))

    assert answers[TAKEN] == answers[NEW]
    assert str(codes.ERR_RESEND_TOO_SOON) in answers[TAKEN][0]


# What the holder of the number gets ---------------------------------------------------------


def test_the_holder_of_a_taken_number_is_texted_a_notice_without_any_code(client, sent, holder, sms_outbox):
    before = unchanged(holder)

    register(client, sent, "139 0013 9000", email="intruder@example.com", password="intruder-secret-42")

    assert [message["to"] for message in sms_outbox] == [TAKEN]
    text = sms_outbox[0]["text"]
    assert not re.search(r"\d{4,}", text), text
    assert "tried to register" in text and "reset your password" in text  # the holder's language: English
    assert OutboundMessage.objects.get().kind == message_kinds.REGISTRATION_ATTEMPTED.key
    assert unchanged(holder) == before
    assert User.objects.get(pk=holder.pk).check_password(PASSWORD)


def test_the_notice_is_written_in_the_holders_language_whatever_the_page_was_in(client, sent, sms_outbox):
    CustomerFactory(phone=TAKEN, language="zh-hans")
    client.cookies["django_language"] = "en"

    register(client, sent, "139 0013 9000")

    assert "注册" in sms_outbox[0]["text"]


def test_a_staff_members_number_is_answered_alike_and_texted_nothing(client, sent, sms_outbox, english):
    staff = make_staff("support")
    staff.phone = TAKEN
    staff.save(update_fields=["phone"])
    before = unchanged(staff)

    response = register(client, sent, "139 0013 9000", password="a-new-Secret-42")
    answer = client.post("/accounts/verify/", {"code": "123456"})

    assert response["Location"] == "/accounts/verify/"
    assert answer.context["form"].errors["code"] == [str(codes.ERR_CODE_WRONG)]
    assert sms_outbox == []
    assert unchanged(staff) == before
    assert not OneTimeCode.objects.filter(user=staff).exists()


def test_a_number_given_up_by_its_account_is_texted_nothing(client, sent, sms_outbox, travel):
    holder = CustomerFactory(phone=TAKEN)
    travel(timedelta(minutes=1))
    NumberQuarantine.objects.create(msisdn=TAKEN, until=holder.phone_verified_at + timedelta(days=90))

    response = register(client, sent, "139 0013 9000")

    assert response["Location"] == "/accounts/verify/"
    assert sms_outbox == []


# The rate limits count alike ------------------------------------------------------------------


@pytest.mark.parametrize("taken", [False, True], ids=["new-number", "taken-number"])
def test_registrations_of_a_number_are_limited_alike_whether_or_not_it_has_an_account(
    client, sent, english, settings, travel, taken
):
    settings.OTP_MAX_PER_DESTINATION_PER_HOUR = 2
    if taken:
        CustomerFactory(phone=TAKEN)
    answers = []
    for _ in range(3):
        answers.append(register(client, sent, "139 0013 9000"))
        travel(timedelta(minutes=2))

    assert [answer.status_code for answer in answers] == [302, 302, 200]
    assert answers[2].context["form"].non_field_errors() == [str(codes.ERR_TOO_MANY_FOR_DESTINATION)]
    assert OneTimeCode.objects.filter(destination=TAKEN).count() == 2


def test_registrations_of_taken_numbers_count_against_the_addresss_limit(client, sent, settings, english):
    settings.OTP_MAX_PER_IP_PER_HOUR = 2
    CustomerFactory(phone=TAKEN)
    register(client, sent, "139 0013 9000", ip="203.0.113.9")
    register(client, sent, "138 0013 8000", ip="203.0.113.9")

    refused = register(client, sent, "137 0013 7000", ip="203.0.113.9")

    assert refused.context["form"].non_field_errors() == [str(codes.ERR_TOO_MANY_FROM_IP)]


# A number whose registration was never confirmed ---------------------------------------------


def test_an_unconfirmed_number_is_still_registered_by_whoever_confirms_with_its_code(client, sent, code_for, travel):
    register(client, sent, "138 0013 8000", password="first-secret-42")
    travel(timedelta(minutes=2))
    client.cookies.pop("sessionid")
    register(client, sent, "138 0013 8000", password="second-secret-42")

    response = client.post("/accounts/verify/", {"code": code_for(NEW)})

    assert response["Location"] == "/account/"
    assert User.objects.get(phone=NEW).check_password("second-secret-42")


def test_a_desk_customer_without_a_password_registers_online_to_set_one(client, sent, code_for):
    """A desk makes an active account with no password; its number is not confirmed online yet."""
    desk_made = User.objects.create(phone=NEW, is_active=True)

    register(client, sent, "138 0013 8000")
    response = client.post("/accounts/verify/", {"code": code_for(NEW)})

    assert response["Location"] == "/account/"
    desk_made.refresh_from_db()
    assert desk_made.check_password(STRONG_PASSWORD) and desk_made.phone_verified_at is not None


# The app ----------------------------------------------------------------------------------------


def test_the_apps_registration_answers_a_taken_number_exactly_as_a_new_one(sent, holder, sms_outbox):
    app = AppClient()
    answers = {}
    for number, typed in ((NEW, "138 0013 8000"), (TAKEN, "139 0013 9000")):
        with sent():
            started = app.post(f"{API}auth/register/", {"phone": typed, "password": STRONG_PASSWORD})
        body = started.json()
        confirm = app.post(f"{API}auth/register/confirm/", {"registration": body["registration"], "code": "123456"})
        answers[number] = (
            started.status_code,
            sorted(body),
            body["detail"].replace(typed, "NUMBER"),
            confirm.status_code,
            confirm.json()["code"],
        )

    assert answers[TAKEN] == answers[NEW]
    assert answers[TAKEN][0] == 202 and answers[TAKEN][3] == 422
    assert answers[TAKEN][4] == "code.code_wrong"
    assert [message["to"] for message in sms_outbox] == [NEW, TAKEN]
    assert not re.search(r"\d{6}", sms_outbox[1]["text"])
