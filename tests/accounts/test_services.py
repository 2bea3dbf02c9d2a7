from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import services
from accounts.hashing import keyed_hash
from accounts.models import AuditEvent, Line, Notification, OneTimeCode, OutboundMessage, User
from accounts.services import codes, lines, users
from tests.accounts.conftest import STRONG_PASSWORD
from tests.factories import PASSWORD, CustomerFactory, ServicePointFactory, make_line, make_staff

pytestmark = pytest.mark.django_db

PHONE = "+8613800138000"


def issue(user, sent, purpose=OneTimeCode.Purpose.LOGIN, channel=OneTimeCode.Channel.SMS, ip="198.51.100.7"):
    with sent():
        return services.one_time_code_issue(user=user, purpose=purpose, channel=channel, ip=ip)


# One-time codes ---------------------------------------------------------------------------


def test_code_is_texted_to_the_number_and_stored_only_as_a_keyed_hash(sent, code_for):
    user = CustomerFactory(phone=PHONE)

    record = issue(user, sent)

    code = code_for(PHONE)
    assert len(code) == 6
    row = OneTimeCode.objects.filter(pk=record.pk).values().get()
    stored_text = [str(value) for value in row.values() if not isinstance(value, datetime)]
    assert all(code not in value for value in stored_text), row
    assert row["code_hash"] == keyed_hash(f"otp:{user.pk}:login", code)
    assert row["destination"] == PHONE
    assert row["requested_from_ip"] == "198.51.100.7"
    assert row["expires_at"] - row["created_at"] == timedelta(minutes=10)


def test_right_code_is_accepted_once(sent, code_for):
    user = CustomerFactory(phone=PHONE)
    issue(user, sent)

    record = services.one_time_code_verify(user=user, purpose=OneTimeCode.Purpose.LOGIN, code=code_for(PHONE))

    assert record.used_at is not None


def test_reused_code_is_refused(sent, code_for):
    user = CustomerFactory(phone=PHONE)
    issue(user, sent)
    code = code_for(PHONE)
    services.one_time_code_verify(user=user, purpose=OneTimeCode.Purpose.LOGIN, code=code)

    with pytest.raises(services.CodeError) as refused:
        services.one_time_code_verify(user=user, purpose=OneTimeCode.Purpose.LOGIN, code=code)

    assert str(refused.value) == str(codes.ERR_CODE_WRONG)


def test_wrong_code_is_refused_and_counted(sent, code_for):
    user = CustomerFactory(phone=PHONE)
    record = issue(user, sent)
    wrong = "000000" if code_for(PHONE) != "000000" else "111111"

    with pytest.raises(services.CodeError) as refused:
        services.one_time_code_verify(user=user, purpose=OneTimeCode.Purpose.LOGIN, code=wrong)

    assert str(refused.value) == str(codes.ERR_CODE_WRONG)
    record.refresh_from_db()
    assert record.failed_attempts == 1
    assert record.used_at is None


def test_expired_code_is_refused(sent, code_for):
    user = CustomerFactory(phone=PHONE)
    record = issue(user, sent)
    OneTimeCode.objects.filter(pk=record.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(services.CodeError) as refused:
        services.one_time_code_verify(user=user, purpose=OneTimeCode.Purpose.LOGIN, code=code_for(PHONE))

    assert str(refused.value) == str(codes.ERR_CODE_WRONG)


def test_code_is_refused_after_ten_minutes(sent, code_for, travel):
    user = CustomerFactory(phone=PHONE)
    issue(user, sent)
    code = code_for(PHONE)

    travel(timedelta(minutes=10, seconds=1))

    with pytest.raises(services.CodeError):
        services.one_time_code_verify(user=user, purpose=OneTimeCode.Purpose.LOGIN, code=code)


def test_code_is_still_accepted_just_before_it_expires(sent, code_for, travel):
    user = CustomerFactory(phone=PHONE)
    issue(user, sent)

    travel(timedelta(minutes=9, seconds=50))

    assert services.one_time_code_verify(user=user, purpose=OneTimeCode.Purpose.LOGIN, code=code_for(PHONE))


def test_too_many_wrong_codes_make_even_the_right_code_refused(sent, code_for, settings):
    settings.OTP_MAX_VERIFY_ATTEMPTS = 3
    user = CustomerFactory(phone=PHONE)
    issue(user, sent)
    code = code_for(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(3):
        with pytest.raises(services.CodeError):
            services.one_time_code_verify(user=user, purpose=OneTimeCode.Purpose.LOGIN, code=wrong)

    with pytest.raises(services.CodeError) as refused:
        services.one_time_code_verify(user=user, purpose=OneTimeCode.Purpose.LOGIN, code=code)

    assert str(refused.value) == str(codes.ERR_CODE_TOO_MANY_ATTEMPTS)
    assert not OneTimeCode.objects.filter(user=user, used_at__isnull=False).exists()


def test_code_for_one_purpose_does_not_work_for_another(sent, code_for):
    user = CustomerFactory(phone=PHONE)
    issue(user, sent, purpose=OneTimeCode.Purpose.LOGIN)

    with pytest.raises(services.CodeError):
        services.one_time_code_verify(user=user, purpose=OneTimeCode.Purpose.PASSWORD_RESET, code=code_for(PHONE))


def test_new_code_makes_the_previous_one_invalid(sent, code_for, settings):
    settings.OTP_RESEND_INTERVAL_SECONDS = 0
    user = CustomerFactory(phone=PHONE)
    issue(user, sent)
    first = code_for(PHONE)
    issue(user, sent)
    second = code_for(PHONE)

    if first != second:
        with pytest.raises(services.CodeError):
            services.one_time_code_verify(user=user, purpose=OneTimeCode.Purpose.LOGIN, code=first)
    assert services.one_time_code_verify(user=user, purpose=OneTimeCode.Purpose.LOGIN, code=second)


def test_resend_too_soon_is_refused(sent, sms_outbox):
    user = CustomerFactory(phone=PHONE)
    issue(user, sent)

    with pytest.raises(services.CodeError) as refused:
        issue(user, sent)

    assert str(refused.value) == str(codes.ERR_RESEND_TOO_SOON)
    assert OneTimeCode.objects.filter(user=user).count() == 1
    assert len(sms_outbox) == 1


def test_resend_is_allowed_after_the_interval(sent, travel, sms_outbox):
    user = CustomerFactory(phone=PHONE)
    issue(user, sent)

    travel(timedelta(seconds=61))
    issue(user, sent)

    assert OneTimeCode.objects.filter(user=user).count() == 2
    assert len(sms_outbox) == 2


def test_more_codes_per_number_per_hour_than_allowed_are_refused(sent, settings, travel, sms_outbox):
    settings.OTP_RESEND_INTERVAL_SECONDS = 0
    settings.OTP_MAX_PER_DESTINATION_PER_HOUR = 3
    user = CustomerFactory(phone=PHONE)
    for _ in range(3):
        issue(user, sent)

    with pytest.raises(services.CodeError) as refused:
        issue(user, sent)

    assert str(refused.value) == str(codes.ERR_TOO_MANY_FOR_DESTINATION)
    assert len(sms_outbox) == 3
    # The window slides: an hour later the number may ask again.
    travel(timedelta(hours=1, seconds=1))
    issue(user, sent)
    assert len(sms_outbox) == 4


def test_per_number_limit_also_counts_codes_for_other_purposes(sent, settings):
    settings.OTP_RESEND_INTERVAL_SECONDS = 0
    settings.OTP_MAX_PER_DESTINATION_PER_HOUR = 2
    user = CustomerFactory(phone=PHONE)
    issue(user, sent, purpose=OneTimeCode.Purpose.LOGIN)
    issue(user, sent, purpose=OneTimeCode.Purpose.PASSWORD_RESET)

    with pytest.raises(services.CodeError):
        issue(user, sent, purpose=OneTimeCode.Purpose.LOGIN)


def test_more_codes_per_ip_per_hour_than_allowed_are_refused(sent, settings, sms_outbox):
    settings.OTP_MAX_PER_IP_PER_HOUR = 2
    customers = [CustomerFactory() for _ in range(3)]
    issue(customers[0], sent, ip="203.0.113.9")
    issue(customers[1], sent, ip="203.0.113.9")

    with pytest.raises(services.CodeError) as refused:
        issue(customers[2], sent, ip="203.0.113.9")

    assert str(refused.value) == str(codes.ERR_TOO_MANY_FROM_IP)
    issue(customers[2], sent, ip="203.0.113.10")
    assert [m["to"] for m in sms_outbox] == [
        customers[0].phone.as_e164,
        customers[1].phone.as_e164,
        customers[2].phone.as_e164,
    ]


def test_code_by_email_goes_to_the_mailbox(sent):
    user = CustomerFactory(phone=PHONE, email="li.lei@example.com")

    record = issue(user, sent, purpose=OneTimeCode.Purpose.PASSWORD_RESET, channel=OneTimeCode.Channel.EMAIL)

    assert record.destination == "li.lei@example.com"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["li.lei@example.com"]
    assert record.code_hash not in mail.outbox[0].body


# Registration ----------------------------------------------------------------------------


def register(sent, phone=PHONE, email=None, password=STRONG_PASSWORD, ip="198.51.100.7"):
    """Start a registration; return its code's record (``.user`` is the account)."""
    with sent():
        return services.customer_register(phone=phone, email=email, password=password, ip=ip)


def confirm(sent, registration, code):
    with sent():
        return services.customer_confirm_registration(registration_id=registration.pk, code=code)


def test_register_creates_an_inactive_customer_and_texts_a_code(sent, code_for):
    registration = register(sent, email="Wang.Fang@Example.COM")
    user = registration.user

    assert user.is_active is False
    assert user.phone_verified_at is None
    # The password and email wait on the code; the account has neither until it is confirmed.
    assert user.email is None
    assert not user.has_usable_password()
    assert registration.registration_email == "Wang.Fang@example.com"
    assert len(code_for(PHONE)) == 6


def test_confirm_registration_with_the_right_code_activates_the_customer(sent, code_for):
    registration = register(sent, email="Wang.Fang@Example.COM")

    user = confirm(sent, registration, code_for(PHONE))

    user.refresh_from_db()
    assert user.is_active
    assert user.phone_verified_at is not None
    assert user.check_password(STRONG_PASSWORD)
    # The email waits for the code mailed to it (tests/accounts/test_email_proof.py).
    assert (user.email, user.pending_email) == (None, "Wang.Fang@example.com")
    assert AuditEvent.objects.filter(verb="user.registered", subject_user=user).count() == 1
    assert Notification.objects.filter(user=user).count() == 1
    assert not OneTimeCode.objects.exclude(registration_password="").exists()


def test_confirm_registration_with_a_wrong_code_leaves_the_customer_inactive(sent, code_for):
    registration = register(sent)
    wrong = "000000" if code_for(PHONE) != "000000" else "111111"

    with pytest.raises(services.CodeError):
        confirm(sent, registration, wrong)

    user = User.objects.get(phone=PHONE)
    assert not user.is_active
    assert user.phone_verified_at is None
    assert not AuditEvent.objects.filter(verb="user.registered").exists()


def test_wrong_registration_codes_are_counted_until_even_the_right_one_is_refused(sent, code_for, settings):
    settings.OTP_MAX_VERIFY_ATTEMPTS = 2
    registration = register(sent)
    code = code_for(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(2):
        with pytest.raises(services.CodeError):
            confirm(sent, registration, wrong)

    with pytest.raises(services.CodeError) as refused:
        confirm(sent, registration, code)

    assert str(refused.value) == str(codes.ERR_CODE_TOO_MANY_ATTEMPTS)
    assert not User.objects.get(phone=PHONE).is_active


def test_registering_again_with_an_unconfirmed_number_leaves_the_account_untouched(sent, travel):
    first = register(sent, email="first@example.com", password="first-secret-42")
    travel(timedelta(minutes=2))

    second = register(sent, email="second@example.com", password="second-secret-42")

    assert second.user_id == first.user_id
    user = User.objects.get(phone=PHONE)
    assert (user.email, user.has_usable_password(), user.is_active) == (None, False, False)
    assert User.objects.filter(phone=PHONE).count() == 1


def test_resending_a_registration_code_keeps_its_password_and_ends_only_its_own_code(sent, code_for, travel):
    first = register(sent, email="first@example.com", password="first-secret-42")
    first_code = code_for(PHONE)
    travel(timedelta(minutes=2))
    other = register(sent, email="other@example.com", password="other-secret-42")
    travel(timedelta(minutes=2))

    with sent():
        resent = services.registration_code_resend(registration_id=first.pk, ip=None)

    with pytest.raises(services.CodeError):
        confirm(sent, first, first_code)
    user = confirm(sent, resent, code_for(PHONE))
    assert user.check_password("first-secret-42") and user.pending_email == "first@example.com"
    other.refresh_from_db()
    assert other.expires_at <= timezone.now() and other.registration_password == ""


def test_registering_a_confirmed_number_is_answered_as_a_new_one_and_changes_nothing(sent, sms_outbox):
    existing = CustomerFactory(phone=PHONE, email="li.lei@example.com")
    before = User.objects.filter(pk=existing.pk).values().get()

    registration = register(sent, email="intruder@example.com", password="intruder-secret-42")

    assert registration.purpose == OneTimeCode.Purpose.REGISTER and registration.user is None
    assert User.objects.filter(pk=existing.pk).values().get() == before
    assert [message["to"] for message in sms_outbox] == [PHONE]
    with pytest.raises(services.CodeError) as refused:
        confirm(sent, registration, "123456")
    assert str(refused.value) == str(codes.ERR_CODE_WRONG)
    assert User.objects.filter(pk=existing.pk).values().get() == before


def test_registering_with_the_email_of_a_confirmed_account_says_nothing_and_the_email_waits(sent, code_for):
    CustomerFactory(email="li.lei@example.com")

    user = confirm(sent, register(sent, email="LI.LEI@example.com"), code_for(PHONE))

    user.refresh_from_db()
    assert (user.email, user.pending_email) == (None, "LI.LEI@example.com")


def test_an_unconfirmed_attempt_does_not_hold_an_email_hostage(sent, code_for, travel):
    squatter = register(sent, phone="+8613900139000", email="li.lei@example.com")
    squatter_code = code_for("+8613900139000")

    user = confirm(sent, register(sent, phone=PHONE, email="li.lei@example.com"), code_for(PHONE))
    travel(timedelta(minutes=2))
    squatter_account = confirm(sent, squatter, squatter_code)

    # Both only wait for the address; whoever types the code mailed to it gets it.
    assert user.email is None and squatter_account.email is None
    assert user.pending_email == squatter_account.pending_email == "li.lei@example.com"


def test_a_landline_number_cannot_register(sent, sms_outbox):
    with pytest.raises(services.RegistrationError) as refused:
        register(sent, phone="+861012345678")

    assert str(refused.value) == str(codes.ERR_NOT_A_MOBILE_NUMBER)
    assert not User.objects.exists() and sms_outbox == []


def test_registration_refused_by_a_rate_limit_creates_nothing(sent, settings):
    settings.OTP_MAX_PER_IP_PER_HOUR = 1
    register(sent, phone="+8613900139000", ip="203.0.113.9")

    with pytest.raises(services.CodeError):
        register(sent, phone=PHONE, ip="203.0.113.9")

    assert not User.objects.filter(phone=PHONE).exists()


# Password reset --------------------------------------------------------------------------


def test_password_reset_by_phone_changes_the_password_once(sent, code_for):
    user = CustomerFactory(phone=PHONE)
    with sent():
        assert services.password_reset_request(identifier="138 0013 8000", ip="198.51.100.7") == user
    code = code_for(PHONE)

    with sent():
        services.password_reset_confirm(user=user, code=code, new_password="brand-new-secret-7")

    user.refresh_from_db()
    assert user.check_password("brand-new-secret-7")
    assert not user.check_password(PASSWORD)
    with pytest.raises(services.CodeError):
        services.password_reset_confirm(user=user, code=code, new_password="another-secret-8")
    user.refresh_from_db()
    assert user.check_password("brand-new-secret-7")


def test_password_reset_with_a_wrong_code_keeps_the_old_password(sent, code_for):
    user = CustomerFactory(phone=PHONE)
    with sent():
        services.password_reset_request(identifier=PHONE, ip=None)
    wrong = "000000" if code_for(PHONE) != "000000" else "111111"

    with pytest.raises(services.CodeError):
        services.password_reset_confirm(user=user, code=wrong, new_password="brand-new-secret-7")

    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert OneTimeCode.objects.get(user=user).failed_attempts == 1


def test_password_reset_by_email_sends_the_code_by_email(sent, sms_outbox):
    user = CustomerFactory(phone=PHONE, email="li.lei@example.com")

    with sent():
        services.password_reset_request(identifier="Li.Lei@example.com", ip=None)

    assert sms_outbox == []
    assert OneTimeCode.objects.get(user=user).channel == OneTimeCode.Channel.EMAIL
    assert mail.outbox[0].to == ["li.lei@example.com"]


def test_password_reset_for_an_unknown_account_sends_nothing(sent, sms_outbox):
    with sent():
        assert services.password_reset_request(identifier="138 0013 8000", ip=None) is None

    assert sms_outbox == [] and mail.outbox == []
    # Counted against the number's limits as a real request would be, with no code anyone could enter.
    assert OneTimeCode.objects.get().user is None


def test_password_reset_for_staff_without_phone_or_email_sends_nothing(sent, sms_outbox):
    services.staff_user_create(login="wang.reviewer", role="reviewer", password=PASSWORD)

    with sent():
        assert services.password_reset_request(identifier="wang.reviewer", ip=None) is None

    assert sms_outbox == [] and mail.outbox == []
    assert OneTimeCode.objects.get().user is None


def test_codes_never_reach_staff_even_with_a_phone_and_an_email(sent, sms_outbox, settings):
    """A code would replace a staff password, or sign staff in, on one factor whoever takes the number holds."""
    settings.OTP_RESEND_INTERVAL_SECONDS = 0
    staff = make_staff("reviewer", login="wang.reviewer")
    User.objects.filter(pk=staff.pk).update(phone=PHONE, email="wang@example.com")
    password_hash = User.objects.get(pk=staff.pk).password

    with sent():
        for identifier in (PHONE, "wang@example.com", "wang.reviewer"):
            assert services.password_reset_request(identifier=identifier, ip=None) is None
        assert services.login_code_request(phone=PHONE, ip=None) is None

    assert sms_outbox == [] and mail.outbox == []
    assert not OneTimeCode.objects.filter(user=staff).exists()
    # Answered and counted as for a number without an account: a guess at a code fails like any wrong one.
    with pytest.raises(services.CodeError):
        services.login_code_sign_in(phone=PHONE, code="123456")
    with pytest.raises(services.CodeError):
        services.password_reset_with_code(identifier=PHONE, code="123456", new_password=STRONG_PASSWORD)
    assert User.objects.get(pk=staff.pk).password == password_hash


# Sign-in by code -------------------------------------------------------------------------


def test_login_code_is_texted_only_to_active_accounts(sent, sms_outbox):
    CustomerFactory(phone=PHONE, is_active=False, phone_verified_at=None)

    with sent():
        assert services.login_code_request(phone=PHONE, ip=None) is None

    assert sms_outbox == []
    assert not OutboundMessage.objects.exists()
    assert OneTimeCode.objects.get(destination=PHONE, purpose="login").user is None


# Staff -----------------------------------------------------------------------------------


def test_staff_user_create_gives_exactly_one_role():
    point = ServicePointFactory()
    services.staff_user_create(login="zhang", role="reviewer", password=PASSWORD)

    user = services.staff_user_create(login="zhang", role="clerk", password=PASSWORD, service_point=point)

    assert user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == ["clerk"]
    assert user.service_point == point
    assert User.objects.filter(username="zhang").count() == 1


def test_staff_user_create_refuses_an_unknown_role():
    with pytest.raises(ValueError, match="Unknown role"):
        services.staff_user_create(login="zhang", role="boss", password=PASSWORD)

    assert not User.objects.filter(username="zhang").exists()


def test_admin_role_is_superuser():
    user = services.staff_user_create(login="root", role="admin", password=PASSWORD)

    assert user.is_superuser
    assert user.groups.get() == Group.objects.get(name="admin")


# Lines -----------------------------------------------------------------------------------


def test_line_create_stores_the_activation_code_only_hashed():
    line, code = services.line_create(msisdn="+8617000000001", iccid="89860000000000000001")

    assert len(code) == 19 and code.count("-") == 3
    raw = code.replace("-", "")
    row = Line.objects.filter(pk=line.pk).values().get()
    assert all(raw not in str(value) and code not in str(value) for value in row.values()), row
    assert row["activation_code_hash"] == keyed_hash("activation-code", raw)
    assert row["activation_code_hint"] == raw[-4:]
    assert row["status"] == Line.Status.INACTIVE and row["owner_id"] is None


def test_attaching_a_line_before_real_name_verification_leaves_it_inactive(sent):
    customer = CustomerFactory()
    line, code = make_line()

    with sent():
        attached = services.line_attach(actor=customer, activation_code=code)

    line.refresh_from_db()
    assert attached.pk == line.pk
    assert line.owner == customer
    assert line.status == Line.Status.INACTIVE
    assert line.is_waiting_for_verification
    assert line.activation_code_used_at is not None
    assert line.validity_end is None
    assert AuditEvent.objects.filter(verb="line.attached", target_id=str(line.pk)).count() == 1
    notification = Notification.objects.get(user=customer)
    assert notification.link == "/verification/"
    assert not OutboundMessage.objects.filter(channel=OutboundMessage.Channel.SMS).exists()


def test_attaching_a_line_after_real_name_verification_activates_it_for_a_year():
    customer = CustomerFactory(real_name_verified_at=timezone.now())
    line, code = make_line()

    services.line_attach(actor=customer, activation_code=code)

    line.refresh_from_db()
    assert line.status == Line.Status.ACTIVE
    assert line.activated_at is not None
    assert abs(line.validity_end - (timezone.now() + timedelta(days=365))) < timedelta(minutes=1)


@pytest.mark.parametrize("spelling", [str.lower, lambda code: code.replace("-", ""), lambda code: f"  {code} "])
def test_activation_code_is_case_and_dash_insensitive(spelling):
    customer = CustomerFactory()
    line, code = make_line()

    services.line_attach(actor=customer, activation_code=spelling(code))

    line.refresh_from_db()
    assert line.owner == customer


def test_unknown_activation_code_is_refused():
    customer = CustomerFactory()
    make_line()

    with pytest.raises(services.LineError) as refused:
        services.line_attach(actor=customer, activation_code="ABCD-EFGH-JKMN-PQRS")

    assert str(refused.value) == str(lines.ERR_CODE_UNKNOWN)
    assert not Line.objects.filter(owner=customer).exists()


def test_activation_code_already_used_is_refused():
    first, second = CustomerFactory(), CustomerFactory()
    line, code = make_line(owner=first)

    with pytest.raises(services.LineError) as refused:
        services.line_attach(actor=second, activation_code=code)

    assert str(refused.value) == str(lines.ERR_CODE_USED)
    line.refresh_from_db()
    assert line.owner == first


def test_a_line_is_not_added_to_an_erased_account():
    # The purge erased the customer while a request of theirs was in flight (races in
    # tests/customers/test_purge_line_races.py): the account is anonymous and closed.
    customer = CustomerFactory()
    services.user_mark_real_name_verified(user=customer, actor=None, channel="online")
    User.objects.filter(pk=customer.pk).update(personal_data_erased_at=timezone.now())
    line, code = make_line()

    with pytest.raises(services.LineError) as refused:
        services.line_attach(actor=customer, activation_code=code)

    assert str(refused.value) == str(lines.ERR_ACCOUNT_ERASED)
    line.refresh_from_db()
    assert (line.owner_id, line.activation_code_used_at, line.status) == (None, None, Line.Status.INACTIVE)
    assert not AuditEvent.objects.filter(verb="line.attached").exists()


def test_marking_real_name_verified_activates_the_waiting_lines(sent):
    customer = CustomerFactory()
    first, _ = make_line(owner=customer)
    second, _ = make_line(owner=customer)
    other, _ = make_line(owner=CustomerFactory())
    reviewer = services.staff_user_create(login="reviewer-1", role="reviewer", password=PASSWORD)

    with sent():
        services.user_mark_real_name_verified(user=customer, actor=reviewer, channel="online")

    customer.refresh_from_db()
    assert customer.is_real_name_verified
    for line in (first, second):
        line.refresh_from_db()
        assert line.status == Line.Status.ACTIVE
        assert abs(line.validity_end - (timezone.now() + timedelta(days=365))) < timedelta(minutes=1)
    other.refresh_from_db()
    assert other.status == Line.Status.INACTIVE
    assert AuditEvent.objects.filter(verb="line.activated", actor=reviewer).count() == 2
    assert AuditEvent.objects.get(verb="user.real_name_verified").data == {"channel": "online"}


def test_marking_real_name_verified_twice_records_it_once():
    customer = CustomerFactory()
    make_line(owner=customer)
    services.user_mark_real_name_verified(user=customer, actor=None, channel="online")
    first_time = User.objects.get(pk=customer.pk).real_name_verified_at

    services.user_mark_real_name_verified(user=customer, actor=None, channel="desk")

    assert User.objects.get(pk=customer.pk).real_name_verified_at == first_time
    assert AuditEvent.objects.filter(verb="user.real_name_verified").count() == 1
    assert AuditEvent.objects.filter(verb="line.activated").count() == 1


def test_erasing_a_customer_removes_code_requests_for_their_number_and_any_code_waiting_to_leave(settings):
    settings.OTP_RESEND_INTERVAL_SECONDS = 0
    user = CustomerFactory(phone=PHONE)
    services.one_time_code_issue_without_account(destination=PHONE, purpose="login", channel="sms", ip=None)
    services.one_time_code_issue(user=user, purpose="password_reset", channel="sms", ip=None)
    assert OutboundMessage.objects.get(recipient=PHONE).pending_code

    report = users.customer_erase_personal_data(user=user, now=timezone.now(), report={})

    assert report["codes"] == 2
    assert not OneTimeCode.objects.exists()
    assert OutboundMessage.objects.get().pending_code == ""


def test_the_database_refuses_a_second_account_with_the_same_email_in_another_case():
    CustomerFactory(email="li.lei@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory(email="Li.Lei@example.com")
    assert User.objects.filter(email__iexact="li.lei@example.com").count() == 1


def test_registering_a_staff_members_number_is_answered_alike_and_leaves_the_staff_account_alone(sent, sms_outbox):
    staff = make_staff("support")
    staff.phone = PHONE
    staff.save(update_fields=["phone"])
    before = User.objects.get(pk=staff.pk).password

    registration = register(sent, password="a-new-Secret-42")
    with pytest.raises(codes.CodeError) as refused:
        confirm(sent, registration, "123456")

    assert str(refused.value) == str(codes.ERR_CODE_WRONG)
    assert not OneTimeCode.objects.filter(user=staff).exists()
    assert User.objects.get(pk=staff.pk).password == before
    assert sms_outbox == []


def test_a_registration_started_before_the_number_became_a_staff_members_cannot_be_confirmed(sent, code_for):
    registration = register(sent)
    account = registration.user
    account.is_staff = True  # made staff in admin meanwhile
    account.save(update_fields=["is_staff"])

    with pytest.raises(codes.CodeError) as refused:
        services.customer_confirm_registration(registration_id=registration.pk, code=code_for(PHONE))

    assert str(refused.value) == str(codes.ERR_CODE_WRONG)
    account.refresh_from_db()
    assert account.phone_verified_at is None
    assert not account.has_usable_password()
