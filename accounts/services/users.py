"""Registration, sign-in by code, password reset and staff accounts."""

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy
from phonenumber_field.phonenumber import to_python

from accounts import message_kinds
from accounts.backends import find_user_by_identifier, normalize_identifier
from accounts.models import AuditEvent, Notification, OneTimeCode, OutboundMessage, User
from accounts.outbox import REDACTED
from accounts.phones import can_receive_sms

from .audit import audit_record
from .codes import (
    ERR_CODE_WRONG,
    ERR_NOT_A_MOBILE_NUMBER,
    CodeError,
    number_given_up,
    one_time_code_issue,
    one_time_code_issue_without_account,
    one_time_code_verify,
    one_time_code_verify_without_account,
    registration_code_issue,
)
from .messages import notify

ERR_PHONE_TAKEN = gettext_lazy("An account with this mobile number already exists. Sign in or reset your password.")
ERR_EMAIL_TAKEN = gettext_lazy("This email is already used by another account.")

STAFF_ROLES = ("reviewer", "senior_reviewer", "clerk", "support", "admin")


class RegistrationError(Exception):
    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


def customer_register(*, phone, email: str | None, password: str, ip: str | None, language: str = "") -> OneTimeCode:
    """Start a registration: text the number a code that carries this password and email.

    Returns the code's record, which stands for this registration: only its own code
    confirms it (``customer_confirm_registration``), and only then do the password and
    email reach the account, which stays inactive with no usable password until then.
    Someone registering a number that is not theirs therefore never gets in, and does not
    end the registration of the person who holds the number either. ``language``, the one
    the person chose on the site (blank if they did not), is the unconfirmed account's: the
    code and the later messages are written in it.
    """
    email = User.objects.normalize_email(email) or None
    if not can_receive_sms(phone):
        raise RegistrationError(ERR_NOT_A_MOBILE_NUMBER, field="phone")
    with transaction.atomic():
        # A staff member's number is taken too, confirmed or not: a registration would
        # otherwise be started on the staff account and, confirmed, replace its password.
        if User.objects.filter(phone=phone).filter(Q(phone_verified_at__isnull=False) | Q(is_staff=True)).exists():
            raise RegistrationError(ERR_PHONE_TAKEN, field="phone")
        if email and _email_taken(email, phone=phone):
            raise RegistrationError(ERR_EMAIL_TAKEN, field="email")
        user = User.objects.select_for_update().filter(phone=phone).first() or _unconfirmed_account_create(
            phone=phone, language=language
        )
        if language and user.language != _supported_language(language):
            user.language = _supported_language(language)
            user.save(update_fields=["language"])
        return registration_code_issue(user=user, password_hash=make_password(password), email=email, ip=ip)


def _unconfirmed_account_create(*, phone, language: str) -> User:
    """The number's inactive account, locked: made now, or by a registration of the number this moment.

    Two first registrations of a number at once both find no account; the phone's unique
    constraint lets one insert it, and the other then waits for that one and uses its row.
    """
    user = User(phone=phone, is_active=False, language=_supported_language(language))
    user.set_unusable_password()
    user.full_clean(exclude=["password"], validate_unique=False)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        return User.objects.select_for_update().get(phone=phone)
    return user


def _supported_language(language: str) -> str:
    return language if language in {code for code, _name in settings.LANGUAGES} else ""


def user_language_set(*, user: User, language: str) -> User:
    """Remember the language the person chose: their messages and pages are in it from now on.

    An unsupported code changes nothing. Messages already in the inbox are rendered in it
    when read; an SMS or email already queued keeps the language it was written in.
    """
    language = _supported_language(language)
    if not language:
        return user
    with transaction.atomic():
        changed = User.objects.filter(pk=user.pk).exclude(language=language).update(language=language)
        if changed:
            audit_record(
                actor=user, verb="user.language_set", target=user, subject_user=user, data={"language": language}
            )
    user.language = language
    return user


def _email_taken(email: str, *, phone=None, user: User | None = None) -> bool:
    """Whether a confirmed customer or a staff member other than this number's account has the email."""
    others = User.objects.filter(email__iexact=email).filter(Q(phone_verified_at__isnull=False) | Q(is_staff=True))
    if phone is not None:
        others = others.exclude(phone=phone)
    if user is not None:
        others = others.exclude(pk=user.pk)
    return others.exists()


def _registration(registration_id) -> OneTimeCode:
    record = (
        OneTimeCode.objects.select_related("user")
        .filter(pk=registration_id, purpose=OneTimeCode.Purpose.REGISTER, user__isnull=False)
        .first()
    )
    if record is None:
        raise CodeError(ERR_CODE_WRONG)
    if record.user.phone_verified_at is not None or record.user.is_staff:
        raise CodeError(ERR_PHONE_TAKEN)
    return record


def registration_code_resend(*, registration_id: int, ip: str | None) -> OneTimeCode:
    """Text a registration a fresh code in place of its last one; return the new record."""
    record = _registration(registration_id)
    return registration_code_issue(
        user=record.user,
        password_hash=record.registration_password,
        email=record.registration_email,
        ip=ip,
        replaces=record,
    )


def customer_confirm_registration(*, registration_id: int, code: str) -> User:
    """Confirm a registration with its own code: the account becomes active with its password and email.

    Any other registration of the number still waiting ends here, its password never usable.
    """
    record = _registration(registration_id)
    if record.registration_email and _email_taken(record.registration_email, user=record.user):
        raise RegistrationError(ERR_EMAIL_TAKEN, field="email")
    # Verified in its own transaction: a wrong guess must stay counted although it raises.
    one_time_code_verify(user=record.user, purpose=OneTimeCode.Purpose.REGISTER, code=code, record_id=record.pk)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=record.user_id)
        if user.phone_verified_at is not None or user.is_staff:
            raise CodeError(ERR_PHONE_TAKEN)
        email = record.registration_email or None
        if email:
            # An unconfirmed account must not hold the email hostage; a confirmed one that took
            # it meanwhile keeps it, and this account goes without.
            User.objects.filter(email__iexact=email, phone_verified_at__isnull=True, is_staff=False).exclude(
                pk=user.pk
            ).update(email=None)
            if _email_taken(email, user=user):
                email = None
        if record.registration_password:
            user.password = record.registration_password
            user.email = email
        user.is_active = True
        user.phone_verified_at = timezone.now()
        try:
            with transaction.atomic():
                user.save(update_fields=["password", "email", "is_active", "phone_verified_at"])
        except IntegrityError:
            # Another registration confirmed with this email at the same moment (the unique
            # constraint on the lower-cased email waited for it): it keeps the email.
            user.email = None
            user.save(update_fields=["password", "email", "is_active", "phone_verified_at"])
        # The other registrations of this number end: their codes stop working, their passwords go.
        OneTimeCode.objects.filter(user=user, purpose=OneTimeCode.Purpose.REGISTER).exclude(pk=record.pk).filter(
            used_at__isnull=True, expires_at__gt=user.phone_verified_at
        ).update(expires_at=user.phone_verified_at)
        OneTimeCode.objects.filter(user=user, purpose=OneTimeCode.Purpose.REGISTER).update(
            registration_password="", registration_email=""
        )
        audit_record(actor=user, verb="user.registered", target=user, subject_user=user)
        notify(user=user, kind=message_kinds.WELCOME, link="/account/", sms_too=False)
    return user


def _find_active_customer(identifier: str):
    """The active customer ``identifier`` names. Never a member of staff: a code texted or
    mailed to them would replace their password or sign them in with one factor anyone
    who takes over their number holds (docs/DECISIONS.md, "Codes never reach staff")."""
    user = find_user_by_identifier(identifier)
    return user if user is not None and user.is_active and not user.is_staff else None


def login_code_request(*, phone, ip: str | None) -> User | None:
    """Text a sign-in code to an active account's number. Returns None for unknown numbers.

    An unknown number is answered exactly as a known one, rate limits included
    (``one_time_code_issue_without_account``), so that the form cannot be used to find
    out which numbers have accounts.
    """
    phone = to_python(phone)
    user = User.objects.filter(phone=phone, is_active=True, is_staff=False).first()  # staff: answered as unknown
    if user is not None and number_given_up(user):
        user = None  # the number may be someone else's now: answered as a number without an account
    if user is None:
        one_time_code_issue_without_account(
            destination=phone.as_e164, purpose=OneTimeCode.Purpose.LOGIN, channel=OneTimeCode.Channel.SMS, ip=ip
        )
        return None
    one_time_code_issue(user=user, purpose=OneTimeCode.Purpose.LOGIN, channel=OneTimeCode.Channel.SMS, ip=ip)
    return user


def login_code_verify(*, user: User, code: str) -> User:
    one_time_code_verify(user=user, purpose=OneTimeCode.Purpose.LOGIN, code=code)
    return user


def login_code_sign_in(*, phone: str, code: str) -> User:
    """The active account of ``phone`` (E.164) if ``code`` is its sign-in code; else CodeError.

    A number without an account is refused exactly as a wrong code is, guesses counted alike.
    """
    user = User.objects.filter(phone=phone, is_active=True, is_staff=False).first()
    if user is None:
        one_time_code_verify_without_account(destination=phone, purpose=OneTimeCode.Purpose.LOGIN)
    return login_code_verify(user=user, code=code)


def password_reset_with_code(*, identifier: str, code: str, new_password: str) -> User:
    """Reset the password of the active account ``identifier`` names; an unknown one fails like a wrong code."""
    user = _find_active_customer(identifier)
    if user is None:
        one_time_code_verify_without_account(
            destination=normalize_identifier(identifier), purpose=OneTimeCode.Purpose.PASSWORD_RESET
        )
    return password_reset_confirm(user=user, code=code, new_password=new_password)


def password_reset_request(*, identifier: str, ip: str | None) -> User | None:
    """Send a reset code to the account's phone (or email when the identifier is an email).

    Where there is no account, or nowhere to send its code, the request is answered and
    counted as if a code had gone.
    """
    user = _find_active_customer(identifier)
    by_email = "@" in identifier
    channel = OneTimeCode.Channel.EMAIL if by_email else OneTimeCode.Channel.SMS
    if user is not None and not (by_email and user.email):
        # A number given up is no way to the account: its email, if it has one, still is.
        by_sms = user.phone and not number_given_up(user)
        channel = OneTimeCode.Channel.SMS if by_sms else OneTimeCode.Channel.EMAIL
    if user is None or (channel == OneTimeCode.Channel.EMAIL and not user.email):
        one_time_code_issue_without_account(
            destination=normalize_identifier(identifier),
            purpose=OneTimeCode.Purpose.PASSWORD_RESET,
            channel=channel,
            ip=ip,
        )
        return None
    one_time_code_issue(user=user, purpose=OneTimeCode.Purpose.PASSWORD_RESET, channel=channel, ip=ip)
    return user


def password_reset_confirm(*, user: User, code: str, new_password: str) -> User:
    # Verified in its own transaction: a wrong guess must stay counted although it raises.
    one_time_code_verify(user=user, purpose=OneTimeCode.Purpose.PASSWORD_RESET, code=code)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.set_password(new_password)
        user.save(update_fields=["password"])
        audit_record(actor=user, verb="user.password_reset", target=user, subject_user=user)
        notify(user=user, kind=message_kinds.PASSWORD_CHANGED)
    return user


def staff_user_create(*, login: str, role: str, password: str, service_point=None, actor=None) -> User:
    """Create (or update) a staff member with exactly one role."""
    if role not in STAFF_ROLES:
        raise ValueError(f"Unknown role {role!r}; choose one of {', '.join(STAFF_ROLES)}")
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=login).first() or User(username=login)
        user.is_staff = True
        user.is_superuser = role == "admin"
        user.is_active = True
        user.service_point = service_point
        user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        audit_record(actor=actor, verb="staff.saved", target=user, data={"role": role})
    return user


def customer_mark_service_ended(*, user: User, at) -> None:
    """Record that the customer's last line ended: the personal-data retention period starts."""
    user.service_ended_at = at
    user.save(update_fields=["service_ended_at"])


def customer_erase_personal_data(*, user: User, now, report: dict) -> dict:
    """Erase what accounts holds about a customer locked by the caller, and record it.

    Inbox messages and one-time codes go; sent messages keep their dates without their
    text or recipient; the account row stays, anonymous and unusable; staff notes kept in
    the customer's audit events (they may repeat a name or a number) and the admin's text
    of their records are blanked, the only change the append-only trail ever takes.
    ``report`` (what the other apps erased) is completed and written into the audit event.
    """
    contacts = [value for value in (str(user.phone) if user.phone else None, user.email) if value]
    report["notifications"] = Notification.objects.filter(user=user).delete()[0]
    # Requests counted for the number or email without an account carry it as their destination.
    report["codes"] = OneTimeCode.objects.filter(Q(user=user) | Q(destination__in=contacts)).delete()[0]
    report["outbound_messages"] = OutboundMessage.objects.filter(recipient__in=contacts).update(
        recipient="erased", body=REDACTED, subject="", pending_code="", params={}
    )
    # The admin's text of a record ("record") is the customer's phone number for their account.
    typed = ("note", "record")
    noted = [
        event
        for event in AuditEvent.objects.filter(subject_user=user).filter(
            Q(data__has_key="note") | Q(data__has_key="record")
        )
        if any(event.data.get(key) for key in typed)
    ]
    for event in noted:
        event.data.update({key: "" for key in typed if key in event.data})
    AuditEvent.objects.bulk_update(noted, ["data"])
    report["audit_notes"] = len(noted)
    user.username = f"erased-{user.pk}"
    user.phone = None
    user.email = None
    user.display_name = ""
    user.identity_index = ""  # the ID number's blind index links the account to the person
    user.is_active = False
    user.set_unusable_password()
    user.personal_data_erased_at = now
    user.save()
    # Django's admin history names the account as the admin showed it: by its phone number.
    LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(User), object_id=str(user.pk)).update(
        object_repr=str(user)
    )
    audit_record(actor=None, verb="user.personal_data_erased", target=user, subject_user=user, data=report)
    return report
