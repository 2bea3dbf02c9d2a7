"""An email becomes the account's only once its owner proves it with the code mailed to it.

Until then it waits (``User.pending_email``): no sign-in, no reset code, no mail other than
its code. Whether another account has the address is said only to someone who proved it.
"""

import re
from datetime import timedelta

import pytest
from django.core import mail

from accounts import services
from accounts.models import AuditEvent, OneTimeCode, OutboundMessage, User
from accounts.services import codes, emails
from tests.accounts.conftest import STRONG_PASSWORD, page_shows
from tests.api.conftest import API, AppClient
from tests.factories import CustomerFactory, make_staff

pytestmark = pytest.mark.django_db

PHONE = "+8613800138000"
ADDRESS = "wang.fang@example.com"


def mailed_code(address: str) -> str:
    for message in reversed(mail.outbox):
        if message.to == [address]:
            return re.search(r"\b(\d{6})\b", message.body).group(1)
    raise AssertionError(f"No code was mailed to {address}")


def registered(sent, code_for, phone=PHONE, email=ADDRESS) -> User:
    with sent():
        registration = services.customer_register(phone=phone, email=email, password=STRONG_PASSWORD, ip=None)
    with sent():
        return services.customer_confirm_registration(registration_id=registration.pk, code=code_for(phone))


def prove(sent, user, code):
    with sent():
        return services.email_confirm(user=user, code=code)


def other_than(code):
    return "000000" if code != "000000" else "111111"


# Registration --------------------------------------------------------------------------------


def test_the_registration_email_waits_for_its_proof_and_is_mailed_a_code(sent, code_for):
    user = registered(sent, code_for, email="Wang.Fang@Example.COM")

    user.refresh_from_db()
    assert user.email is None and user.email_verified_at is None
    assert user.pending_email == "Wang.Fang@example.com"
    assert [message.to for message in mail.outbox] == [["Wang.Fang@example.com"]]
    code = mailed_code("Wang.Fang@example.com")
    record = OneTimeCode.objects.get(purpose=OneTimeCode.Purpose.EMAIL_CONFIRM)
    assert record.user == user and record.destination == "Wang.Fang@example.com"
    assert code not in record.code_hash


def test_a_pending_email_signs_nobody_in_gets_no_reset_code_and_no_mail(client, sent, code_for, travel):
    user = registered(sent, code_for)
    mail.outbox = []
    travel(timedelta(minutes=2))  # past the address's one code a minute

    signed_in = client.post("/accounts/login/", {"username": ADDRESS, "password": STRONG_PASSWORD})
    with sent():
        reset_for = services.password_reset_request(identifier=ADDRESS, ip=None)
        services.notify(user=user, kind="account.password_changed")

    assert signed_in.status_code == 200 and "_auth_user_id" not in client.session
    assert reset_for is None
    assert mail.outbox == []


def test_the_mailed_code_makes_the_address_the_accounts_email(client, sent, code_for, travel):
    user = registered(sent, code_for)

    prove(sent, user, mailed_code(ADDRESS))
    travel(timedelta(minutes=2))

    user.refresh_from_db()
    assert user.email == ADDRESS and user.email_verified_at is not None and user.pending_email == ""
    assert AuditEvent.objects.filter(verb="user.email_confirmed", subject_user=user).count() == 1
    response = client.post("/accounts/login/", {"username": ADDRESS, "password": STRONG_PASSWORD})
    assert response.status_code == 302
    with sent():
        assert services.password_reset_request(identifier=ADDRESS, ip=None) == user


def test_a_wrong_expired_or_reused_email_code_is_refused_and_proves_nothing(sent, code_for, travel):
    user = registered(sent, code_for)
    code = mailed_code(ADDRESS)

    with pytest.raises(codes.CodeError) as wrong:
        prove(sent, user, other_than(code))
    travel(timedelta(minutes=11))
    with pytest.raises(codes.CodeError) as expired:
        prove(sent, user, code)

    assert str(wrong.value) == str(expired.value) == str(codes.ERR_CODE_WRONG)
    assert User.objects.get(pk=user.pk).email is None
    with sent():
        services.email_change_request(user=user, email=ADDRESS, ip=None)
    fresh = mailed_code(ADDRESS)
    prove(sent, user, fresh)
    with pytest.raises(codes.CodeError) as reused:
        prove(sent, user, fresh)
    assert str(reused.value) == str(codes.ERR_CODE_WRONG)


def test_an_address_proved_by_one_account_cannot_be_proved_by_another_and_only_the_prover_hears_it(
    sent, code_for, travel
):
    owner = registered(sent, code_for)
    prove(sent, owner, mailed_code(ADDRESS))
    travel(timedelta(minutes=2))

    # Registering with it says nothing: the second account is made, its email waiting.
    other = registered(sent, code_for, phone="+8613900139000")
    assert User.objects.get(pk=other.pk).pending_email == ADDRESS
    with pytest.raises(emails.EmailError) as refused:
        prove(sent, other, mailed_code(ADDRESS))

    assert str(refused.value) == str(emails.ERR_EMAIL_CONFIRMED_ELSEWHERE)
    assert User.objects.get(pk=owner.pk).email == ADDRESS
    assert User.objects.get(pk=other.pk).email is None


def test_an_address_held_unproved_by_an_older_account_goes_to_the_account_that_proves_it(sent, code_for, sms_outbox):
    older = CustomerFactory(email=ADDRESS, email_verified_at=None, phone="+8613700137000")
    user = registered(sent, code_for)

    prove(sent, user, mailed_code(ADDRESS))

    assert User.objects.get(pk=user.pk).email == ADDRESS
    assert User.objects.get(pk=older.pk).email is None
    assert AuditEvent.objects.filter(verb="user.email_removed", subject_user=older).count() == 1
    told = OutboundMessage.objects.get(recipient="+8613700137000")
    assert told.kind == "account.email_removed" and ADDRESS in told.body


# Changing the email ----------------------------------------------------------------------------


def test_a_new_email_replaces_the_old_one_only_once_proved_and_the_old_address_is_told(sent):
    user = CustomerFactory(phone=PHONE, email="old@example.com")

    with sent():
        services.email_change_request(user=user, email="new@example.com", ip="198.51.100.7")
    assert User.objects.get(pk=user.pk).email == "old@example.com"
    prove(sent, user, mailed_code("new@example.com"))

    user.refresh_from_db()
    assert (user.email, user.pending_email) == ("new@example.com", "")
    told = [message for message in mail.outbox if message.to == ["old@example.com"]]
    assert len(told) == 1 and "new@example.com" in told[0].body


def test_the_code_proves_the_address_it_was_mailed_to_and_a_later_request_ends_it(sent):
    user = CustomerFactory(phone=PHONE, email=None)
    with sent():
        services.email_change_request(user=user, email="first@example.com", ip=None)
    first = mailed_code("first@example.com")
    OneTimeCode.objects.update(created_at=OneTimeCode.objects.get().created_at - timedelta(minutes=2))
    with sent():
        services.email_change_request(user=user, email="second@example.com", ip=None)

    with pytest.raises(codes.CodeError):
        prove(sent, user, first)
    prove(sent, user, mailed_code("second@example.com"))

    assert User.objects.get(pk=user.pk).email == "second@example.com"


def test_email_codes_are_rate_limited_and_a_refused_request_changes_nothing(sent, settings):
    settings.OTP_MAX_PER_DESTINATION_PER_HOUR = 1
    settings.OTP_RESEND_INTERVAL_SECONDS = 0
    first, second = CustomerFactory(email=None), CustomerFactory(email=None)
    with sent():
        services.email_change_request(user=first, email=ADDRESS, ip=None)

    with pytest.raises(codes.CodeError) as refused:
        services.email_change_request(user=second, email=ADDRESS, ip=None)

    assert str(refused.value) == str(codes.ERR_TOO_MANY_FOR_DESTINATION)
    assert User.objects.get(pk=second.pk).pending_email == ""
    assert len(mail.outbox) == 1


def test_an_address_spelt_in_other_cases_is_limited_as_the_same_address(sent, settings):
    # One address, whatever the case it is typed in (one account's, ignoring case): accounts
    # typing it as Wang.Fang@, WANG.FANG@… each got their own count and flooded the mailbox.
    settings.OTP_MAX_PER_DESTINATION_PER_HOUR = 2
    settings.OTP_RESEND_INTERVAL_SECONDS = 0
    spellings = [ADDRESS, ADDRESS.upper(), "Wang.Fang@example.com"]
    typers = [CustomerFactory(email=None) for _ in spellings]
    with sent():
        for typer, spelling in zip(typers[:2], spellings[:2], strict=True):
            services.email_change_request(user=typer, email=spelling, ip=None)

    with pytest.raises(codes.CodeError) as refused:
        services.email_change_request(user=typers[2], email=spellings[2], ip=None)

    assert str(refused.value) == str(codes.ERR_TOO_MANY_FOR_DESTINATION)
    assert User.objects.get(pk=typers[2].pk).pending_email == ""
    assert len(mail.outbox) == 2


def test_asking_for_the_email_the_account_already_has_is_refused(sent):
    user = CustomerFactory(email=ADDRESS)

    with pytest.raises(emails.EmailError) as refused:
        services.email_change_request(user=user, email=ADDRESS.upper(), ip=None)

    assert str(refused.value) == str(emails.ERR_EMAIL_ALREADY_YOURS)
    assert mail.outbox == []


def test_codes_never_reach_staff_for_an_email_either(sent):
    staff = make_staff("support")

    with pytest.raises(emails.EmailError) as refused:
        services.email_change_request(user=staff, email=ADDRESS, ip=None)

    assert str(refused.value) == str(emails.ERR_STAFF_EMAIL)
    assert mail.outbox == []


def waiting(sent, user, address="new@example.com") -> str:
    """Put ``address`` waiting for its code on the account; return the code mailed to it."""
    with sent():
        services.email_change_request(user=user, email=address, ip=None)
    return mailed_code(address)


def test_cancelling_the_email_waiting_ends_its_code_and_keeps_the_accounts_email(sent):
    user = CustomerFactory(phone=PHONE, email="old@example.com")
    code = waiting(sent, user)

    cancelled = services.email_change_cancel(user=user)

    assert (cancelled.email, cancelled.pending_email) == ("old@example.com", "")
    with pytest.raises(codes.CodeError) as refused:
        prove(sent, user, code)
    assert str(refused.value) == str(codes.ERR_CODE_WRONG)
    user.refresh_from_db()
    assert (user.email, user.pending_email) == ("old@example.com", "")
    event = AuditEvent.objects.get(verb="user.email_change_cancelled")
    assert (event.actor, event.subject_user) == (user, user)


def test_there_is_nothing_to_cancel_without_an_email_waiting(sent):
    user = CustomerFactory(phone=PHONE, email="old@example.com")

    with pytest.raises(emails.EmailError) as refused:
        services.email_change_cancel(user=user)

    assert str(refused.value) == str(emails.ERR_NO_EMAIL_WAITING)
    assert not AuditEvent.objects.filter(verb="user.email_change_cancelled").exists()


def test_a_code_checked_while_its_address_is_cancelled_proves_nothing(sent):
    # The code is checked in its own transaction before the account is locked: a cancel that
    # commits in between must still win.
    user = CustomerFactory(phone=PHONE, email="old@example.com")
    code = waiting(sent, user)
    User.objects.filter(pk=user.pk).update(pending_email="")

    with pytest.raises(codes.CodeError):
        prove(sent, user, code)

    assert User.objects.get(pk=user.pk).email == "old@example.com"


# The pages -------------------------------------------------------------------------------------


def test_the_email_page_sends_a_code_and_the_code_form_proves_it(client, sent, english):
    user = CustomerFactory(phone=PHONE, email=None)
    client.force_login(user)

    with sent():
        asked = client.post("/account/email/", {"email": ADDRESS})
    page = client.get("/account/email/")
    proved = client.post("/account/email/confirm/", {"code": mailed_code(ADDRESS)})

    assert asked.status_code == 302 and asked["Location"] == "/account/email/"
    assert ADDRESS in page.content.decode()
    assert proved.status_code == 302
    assert User.objects.get(pk=user.pk).email == ADDRESS


@pytest.mark.parametrize(
    ("path", "data", "field", "message"),
    [
        ("/account/email/", {"email": "not-an-email"}, "email", "Enter a valid email address."),
        ("/account/email/", {"email": ""}, "email", "This field is required."),
        ("/account/email/confirm/", {"code": "12ab"}, "code", "Enter the 6 digits from the message."),
        ("/account/email/confirm/", {"code": "123456"}, "code", codes.ERR_CODE_WRONG),
    ],
    ids=["bad-email", "no-email", "bad-code-format", "wrong-code"],
)
def test_bad_input_on_the_email_page_says_why_and_changes_nothing(client, sent, english, path, data, field, message):
    user = CustomerFactory(phone=PHONE, email="old@example.com")
    client.force_login(user)

    with sent():
        response = client.post(path, data)

    assert response.status_code == 200
    assert str(message) in response.context[f"{path.rstrip('/').rsplit('/', 1)[-1]}_form"].errors[field]
    user.refresh_from_db()
    assert (user.email, user.pending_email) == ("old@example.com", "")


def test_the_email_page_is_for_signed_in_customers(client):
    assert client.get("/account/email/")["Location"].startswith("/accounts/login/")
    assert client.post("/account/email/confirm/", {"code": "123456"})["Location"].startswith("/accounts/login/")


def test_the_email_page_cancels_the_email_waiting_and_its_code_no_longer_proves_it(client, sent, english):
    user = CustomerFactory(phone=PHONE, email="old@example.com")
    code = waiting(sent, user)
    client.force_login(user)

    page = client.get("/account/email/").content.decode()
    cancelled = client.post("/account/email/cancel/")
    after = client.get("/account/email/")
    proved = client.post("/account/email/confirm/", {"code": code})

    assert 'action="/account/email/cancel/"' in page
    assert cancelled.status_code == 302 and cancelled["Location"] == "/account/email/"
    assert "new@example.com is no longer waiting" in after.content.decode()
    assert 'action="/account/email/cancel/"' not in after.content.decode()
    assert str(codes.ERR_CODE_WRONG) in proved.context["confirm_form"].errors["code"]
    user.refresh_from_db()
    assert (user.email, user.pending_email) == ("old@example.com", "")


def test_cancelling_on_the_email_page_with_nothing_waiting_says_why_and_changes_nothing(client, english):
    user = CustomerFactory(phone=PHONE, email="old@example.com")
    client.force_login(user)

    response = client.post("/account/email/cancel/", follow=True)

    assert page_shows(response, emails.ERR_NO_EMAIL_WAITING)
    assert not AuditEvent.objects.filter(verb="user.email_change_cancelled").exists()
    assert User.objects.get(pk=user.pk).email == "old@example.com"


def test_cancelling_an_email_is_a_post_by_a_signed_in_customer(client):
    assert client.post("/account/email/cancel/")["Location"].startswith("/accounts/login/")
    client.force_login(CustomerFactory())
    assert client.get("/account/email/cancel/").status_code == 405


def test_registering_on_the_web_with_an_address_another_account_proved_says_nothing(client, sent, english):
    CustomerFactory(email=ADDRESS)
    data = {"phone": "138 0013 8000", "email": ADDRESS, "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD}

    with sent():
        response = client.post("/accounts/register/", data)

    assert response.status_code == 302 and response["Location"] == "/accounts/verify/"


# The app -----------------------------------------------------------------------------------


def test_the_app_changes_the_email_through_the_same_proof(sent):
    user = CustomerFactory(phone=PHONE, email=None)
    app = AppClient()
    app.sign_in_as(user)

    with sent():
        asked = app.post(f"{API}account/email/", {"email": ADDRESS})
    summary = app.get(f"{API}account/").json()
    wrong = app.post(f"{API}account/email/confirm/", {"code": other_than(mailed_code(ADDRESS))})
    proved = app.post(f"{API}account/email/confirm/", {"code": mailed_code(ADDRESS)})

    assert asked.status_code == 202
    assert (summary["email"], summary["pending_email"]) == (None, ADDRESS)
    assert wrong.status_code == 422 and wrong.json()["code"] == "code.code_wrong"
    assert proved.status_code == 200 and proved.json()["email"] == ADDRESS
    assert app.get(f"{API}account/").json()["email"] == ADDRESS


def test_the_app_cancels_the_email_waiting(sent):
    user = CustomerFactory(phone=PHONE, email="old@example.com")
    code = waiting(sent, user)
    app = AppClient()
    app.sign_in_as(user)

    cancelled = app.delete(f"{API}account/email/")
    proved = app.post(f"{API}account/email/confirm/", {"code": code})
    again = app.delete(f"{API}account/email/")

    assert cancelled.status_code == 200
    assert cancelled.json() == {"email": "old@example.com", "email_confirmed": True, "pending_email": None}
    assert proved.status_code == 422 and proved.json()["code"] == "code.code_wrong"
    assert again.status_code == 422 and again.json()["code"] == "email.no_email_waiting"
    assert app.get(f"{API}account/").json()["pending_email"] is None
    assert AppClient().delete(f"{API}account/email/").status_code == 401


def test_the_apps_registration_email_waits_for_its_proof_too(sent, code_for):
    app = AppClient()
    with sent():
        started = app.post(
            f"{API}auth/register/", {"phone": "138 0013 8000", "email": ADDRESS, "password": STRONG_PASSWORD}
        )
    confirmed = app.post(
        f"{API}auth/register/confirm/", {"registration": started.json()["registration"], "code": code_for(PHONE)}
    )

    assert confirmed.status_code == 201
    user = User.objects.get(phone=PHONE)
    assert (user.email, user.pending_email) == (None, ADDRESS)


# Admin -----------------------------------------------------------------------------------------


def test_admin_cannot_type_a_customers_email_but_sets_a_staff_members(client):
    customer, staff = CustomerFactory(), make_staff("reviewer")
    client.force_login(make_staff("admin"))

    customer_page = client.get(f"/admin/accounts/user/{customer.pk}/change/").content.decode()
    staff_page = client.get(f"/admin/accounts/user/{staff.pk}/change/").content.decode()

    assert 'name="email"' not in customer_page and customer.email in customer_page
    assert 'name="email"' in staff_page
