"""Codes go only to numbers that can receive an SMS: a landline, Chinese or foreign, is refused
with a clear message on registration, sign-in by code and password reset."""

import pytest

from accounts import phones, services
from accounts.models import OneTimeCode, User
from accounts.services import codes
from tests.accounts.conftest import STRONG_PASSWORD, page_shows
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

LANDLINES = {
    "beijing": "+86 10 1234 5678",
    "beijing-national": "010 1234 5678",
    "hong-kong": "+852 2123 4567",
    "london": "+44 20 7183 8750",
}
MOBILES = {
    "china": "138 0013 8000",
    "hong-kong": "+852 6123 4567",
    "uk": "+44 7400 123456",
    # North American numbers do not say whether they are mobile: they are given the benefit of the doubt.
    "us": "+1 415 555 2671",
}


@pytest.mark.parametrize("number", LANDLINES.values(), ids=LANDLINES.keys())
def test_registration_with_a_landline_is_refused_and_says_why(english, sent, sms_outbox, number):
    form = {"phone": number, "email": "", "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD}
    with sent():
        response = english.post("/accounts/register/", form)

    assert response.status_code == 200
    assert response.context["form"].errors["phone"] == [str(codes.ERR_NOT_A_MOBILE_NUMBER)]
    assert page_shows(response, codes.ERR_NOT_A_MOBILE_NUMBER)
    assert not User.objects.exists() and not OneTimeCode.objects.exists() and sms_outbox == []


@pytest.mark.parametrize("number", MOBILES.values(), ids=MOBILES.keys())
def test_registration_with_a_mobile_number_texts_a_code(client, sent, sms_outbox, number):
    form = {"phone": number, "email": "", "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD}
    with sent():
        response = client.post("/accounts/register/", form)

    assert response.status_code == 302
    assert len(sms_outbox) == 1


@pytest.mark.parametrize("number", LANDLINES.values(), ids=LANDLINES.keys())
def test_sign_in_by_code_to_a_landline_is_refused_and_says_why(english, sent, sms_outbox, number):
    with sent():
        response = english.post("/accounts/login/code/", {"phone": number})

    assert response.status_code == 200
    assert response.context["form"].errors["phone"] == [str(codes.ERR_NOT_A_MOBILE_NUMBER)]
    assert not OneTimeCode.objects.exists() and sms_outbox == []


@pytest.mark.parametrize("number", LANDLINES.values(), ids=LANDLINES.keys())
def test_password_reset_to_a_landline_is_refused_and_says_why(english, sent, sms_outbox, number):
    with sent():
        response = english.post("/accounts/password-reset/", {"identifier": number})

    assert response.status_code == 200
    assert response.context["form"].errors["identifier"] == [str(codes.ERR_NOT_A_MOBILE_NUMBER)]
    assert not OneTimeCode.objects.exists() and sms_outbox == []


def test_an_account_whose_number_is_a_landline_gets_no_code_texted(sent, sms_outbox):
    # An account from before the check (or typed in by staff) whose number cannot take an SMS.
    user = CustomerFactory(phone="+861012345678")

    with pytest.raises(services.CodeError) as refused, sent():
        services.one_time_code_issue(user=user, purpose="login", channel="sms", ip=None)

    assert str(refused.value) == str(codes.ERR_NOT_A_MOBILE_NUMBER)
    assert not OneTimeCode.objects.exists() and sms_outbox == []


def test_a_landline_cannot_register_through_the_service_either(sent):
    with pytest.raises(services.RegistrationError) as refused, sent():
        services.customer_register(phone="+85221234567", email=None, password=STRONG_PASSWORD, ip=None)

    assert refused.value.field == "phone"
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("number", "expected"),
    [("+8613800138000", True), ("+14155552671", True), ("+861012345678", False), ("+442071838750", False), ("", False)],
)
def test_can_receive_sms(number, expected):
    assert phones.can_receive_sms(number) is expected
