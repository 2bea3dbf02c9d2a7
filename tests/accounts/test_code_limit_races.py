"""The one-time code limits under requests counting at the same moment (real threads, PostgreSQL)."""

from accounts import services
from accounts.models import OneTimeCode, User
from tests.factories import CustomerFactory
from tests.races import RACE_MARKS, errors, run_together, values

pytestmark = RACE_MARKS

IP = "198.51.100.20"
PHONE = "+8613800138077"


def test_codes_per_address_hold_when_many_numbers_ask_at_once(settings, sent):
    settings.OTP_MAX_PER_IP_PER_HOUR = 3
    customers = [CustomerFactory() for _ in range(8)]

    with sent():
        results = run_together(
            *[(lambda c=customer: services.login_code_request(phone=c.phone, ip=IP)) for customer in customers]
        )

    assert len(values(results)) == 3
    assert {str(error) for error in errors(results)} == {str(services.codes.ERR_TOO_MANY_FROM_IP)}
    assert OneTimeCode.objects.filter(requested_from_ip=IP).count() == 3


def test_registrations_of_many_new_numbers_at_once_from_one_address_hold_its_limit(settings, sent):
    settings.OTP_MAX_PER_IP_PER_HOUR = 3
    numbers = [f"+86138001380{index:02d}" for index in range(8)]

    with sent():
        results = run_together(
            *[
                (lambda n=number: services.customer_register(phone=n, email=None, password="x-Secret-42", ip=IP))
                for number in numbers
            ]
        )

    assert len(values(results)) == 3
    assert {str(error) for error in errors(results)} == {str(services.codes.ERR_TOO_MANY_FROM_IP)}
    assert OneTimeCode.objects.filter(requested_from_ip=IP).count() == 3


def test_requests_for_unknown_destinations_at_once_count_against_the_address_alike(settings, sent):
    settings.OTP_MAX_PER_IP_PER_HOUR = 3
    emails = [f"nobody{index}@example.com" for index in range(8)]

    results = run_together(
        *[(lambda e=email: services.password_reset_request(identifier=e, ip=IP)) for email in emails]
    )

    assert len(values(results)) == 3
    assert {str(error) for error in errors(results)} == {str(services.codes.ERR_TOO_MANY_FROM_IP)}


def test_one_new_number_registered_twice_at_once_makes_one_account_and_one_refusal(sent):
    with sent():
        results = run_together(
            *[
                (lambda a=ip: services.customer_register(phone=PHONE, email=None, password="x-Secret-42", ip=a))
                for ip in ("198.51.100.31", "198.51.100.32")
            ]
        )

    # The second found the first's account (no crash on the phone's unique constraint) and
    # the number's code of a moment ago.
    assert [str(error) for error in errors(results)] == [str(services.codes.ERR_RESEND_TOO_SOON)]
    assert [registration.user_id for registration in values(results)] == [User.objects.get(phone=PHONE).pk]


def test_two_accounts_proving_one_email_at_once_leave_it_to_one_and_tell_the_other(monkeypatch, settings):
    settings.OTP_RESEND_INTERVAL_SECONDS = 0
    monkeypatch.setattr(services.codes.secrets, "randbelow", lambda _limit: 123456)
    accounts = [CustomerFactory(email=None), CustomerFactory(email=None)]
    services.email_change_request(user=accounts[0], email="same@example.com", ip="198.51.100.41")
    services.email_change_request(user=accounts[1], email="Same@example.com", ip="198.51.100.42")

    results = run_together(*[(lambda a=account: services.email_confirm(user=a, code="123456")) for account in accounts])

    assert [str(error) for error in errors(results)] == [str(services.emails.ERR_EMAIL_CONFIRMED_ELSEWHERE)]
    holders = User.objects.filter(pk__in=[account.pk for account in accounts], email__iexact="same@example.com")
    assert [user.pk for user in holders] == [values(results)[0].pk]
