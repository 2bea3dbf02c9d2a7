"""A number whose line was cancelled rests, then is sold to someone else; the account that signed
in with it lives on. Nothing texted for that account may reach the number's new holder."""

import re

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from accounts import services
from accounts.models import AuditEvent, Notification, OneTimeCode, OutboundMessage, User
from accounts.services import codes
from tests.factories import CustomerFactory, make_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def former_holder():
    """A customer who signed in with their Heyon number, whose line was then cancelled and the number resold."""
    customer = CustomerFactory(email="old.holder@example.com")
    line, _code = make_line(owner=customer)
    customer.phone = line.msisdn
    customer.save(update_fields=["phone"])
    services.line_cancel(line_id=line.pk, actor=None, quarantine_days=0)
    services.line_create(msisdn=line.msisdn, iccid="89860000000000099991")  # sold again
    return customer


def texts_to(sms_outbox, number) -> list:
    return [message for message in sms_outbox if message["to"] == str(number)]


def test_no_sign_in_code_is_texted_to_a_number_given_up_and_the_answer_is_as_for_no_account(
    former_holder, sent, sms_outbox, settings
):
    settings.OTP_RESEND_INTERVAL_SECONDS = 0
    number = former_holder.phone.as_e164
    with sent():
        web = Client().post("/accounts/login/code/", {"phone": number}, REMOTE_ADDR="198.51.100.61")
        app = APIClient().post("/api/v1/auth/code/", {"phone": number}, format="json", REMOTE_ADDR="198.51.100.62")

    assert web.status_code == 302
    assert app.status_code == 202
    assert texts_to(sms_outbox, number) == []
    assert not OneTimeCode.objects.filter(user=former_holder).exists()


def test_a_password_reset_by_the_number_given_up_goes_to_the_accounts_email(former_holder, sent, sms_outbox):
    with sent():
        response = Client().post("/accounts/password-reset/", {"identifier": former_holder.phone.as_e164})

    assert response.status_code == 302
    assert texts_to(sms_outbox, former_holder.phone) == []
    assert [message.to for message in mail.outbox] == [["old.holder@example.com"]]


def test_no_service_texts_a_code_to_a_number_given_up(former_holder):
    with pytest.raises(codes.CodeError) as refused:
        services.one_time_code_issue(
            user=former_holder, purpose=OneTimeCode.Purpose.LOGIN, channel=OneTimeCode.Channel.SMS, ip=None
        )
    assert str(refused.value) == str(codes.ERR_NUMBER_GIVEN_UP)


def test_a_number_whose_line_is_still_in_service_gets_its_codes(sent, sms_outbox):
    line, _code = make_line()
    customer = CustomerFactory(phone=line.msisdn)
    with sent():
        Client().post("/accounts/login/code/", {"phone": customer.phone.as_e164})
    assert len(texts_to(sms_outbox, customer.phone)) == 1


def _mailed_code(address: str) -> str:
    message = next(message for message in reversed(mail.outbox) if message.to == [address])
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def test_an_email_taken_from_an_account_is_not_texted_to_its_number_given_up(former_holder, sent, sms_outbox):
    # The former holder's address was never proved; its owner proves it on another account.
    User.objects.filter(pk=former_holder.pk).update(email_verified_at=None)
    prover = CustomerFactory(email=None)
    with sent():
        services.email_change_request(user=prover, email="old.holder@example.com", ip=None)
    with sent():
        services.email_confirm(user=prover, code=_mailed_code("old.holder@example.com"))

    assert User.objects.get(pk=former_holder.pk).email is None
    assert AuditEvent.objects.filter(verb="user.email_removed", subject_user=former_holder).count() == 1
    assert Notification.objects.filter(user=former_holder, kind="account.email_removed").count() == 1
    # The number's new holder is not told someone's email address.
    assert texts_to(sms_outbox, former_holder.phone) == []


def test_a_new_email_is_not_texted_to_the_accounts_number_given_up(former_holder, sent, sms_outbox):
    with sent():
        services.email_change_request(user=former_holder, email="new.holder@example.com", ip=None)
    with sent():
        services.email_confirm(user=former_holder, code=_mailed_code("new.holder@example.com"))

    assert User.objects.get(pk=former_holder.pk).email == "new.holder@example.com"
    assert Notification.objects.filter(user=former_holder, kind="account.email_changed").count() == 1
    assert any(message.to == ["old.holder@example.com"] for message in mail.outbox)  # the old address is told
    assert texts_to(sms_outbox, former_holder.phone) == []


def test_notices_to_an_account_are_not_texted_to_its_number_given_up_and_stay_in_its_inbox(former_holder):
    """A receipt or a "password changed" notice for the account texted its old number: its new
    holder read the former customer's business. The inbox and the email keep them."""
    stays_with_number = CustomerFactory(email="still.here@example.com")
    number = former_holder.phone.as_e164
    emails_before = OutboundMessage.objects.filter(channel="email", recipient="old.holder@example.com").count()

    services.notify(user=former_holder, kind="support.answered", params={"text": "one"})
    services.notify_many(
        [
            (former_holder, "support.answered", {"text": "two"}, ""),
            (stays_with_number, "support.answered", {"text": "three"}, ""),
        ]
    )

    assert not OutboundMessage.objects.filter(channel="sms", recipient=number).exists()
    emails = OutboundMessage.objects.filter(channel="email", recipient="old.holder@example.com").count()
    assert emails == emails_before + 2
    assert Notification.objects.filter(user=former_holder).count() >= 2
    assert OutboundMessage.objects.filter(channel="sms", recipient=stays_with_number.phone.as_e164).count() == 1
