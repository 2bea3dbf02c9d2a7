"""Registration, sign-in by code, password reset and staff accounts."""

import logging

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from phonenumber_field.phonenumber import to_python

from accounts import message_kinds
from accounts.backends import find_user_by_identifier
from accounts.models import AuditEvent, Notification, OneTimeCode, OutboundMessage, User
from accounts.outbox import REDACTED
from accounts.phones import can_receive_sms, normalize_identifier

from .audit import audit_record
from .codes import (
    ERR_CODE_WRONG,
    ERR_NOT_A_MOBILE_NUMBER,
    CodeError,
    email_code_issue,
    number_given_up,
    one_time_code_issue,
    one_time_code_issue_without_account,
    one_time_code_verify,
    one_time_code_verify_without_account,
    registration_code_issue,
    registration_of_a_taken_number_issue,
)
from .messages import notify

logger = logging.getLogger(__name__)

STAFF_ROLES = ("reviewer", "senior_reviewer", "clerk", "support", "admin")


class RegistrationError(Exception):
    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


def customer_register(*, phone, email: str | None, password: str, ip: str | None, language: str = "") -> OneTimeCode:
    """Start a registration: text the number a code that carries this password and email.

    Returns the code's record, which stands for this registration: only its own code
    confirms it (``customer_confirm_registration``), and only then does the password reach
    the account (the email then waits for its own proof), which stays inactive with no usable
    password until then. Someone registering a number that is not theirs therefore never gets
    in, and does not end the registration of the person who holds the number either.
    ``language``, the one the person chose on the site (blank if they did not), is the
    unconfirmed account's: the code and the later messages are written in it.

    A number that already has an account (confirmed, or a member of staff's) is answered
    exactly as a new one, limits included, so that nobody can find out which numbers have
    accounts: the record returned stands for nothing that can be confirmed, and the number's
    holder is texted a notice instead of a code (``registration_of_a_taken_number_issue``).
    The account itself is not touched.
    """
    email = User.objects.normalize_email(email) or None
    if not can_receive_sms(phone):
        raise RegistrationError(ERR_NOT_A_MOBILE_NUMBER, field="phone")
    # Hashed whichever way the registration goes: the time of the answer tells nothing either.
    password_hash = make_password(password)
    with transaction.atomic():
        holder = User.objects.select_for_update().filter(phone=phone).first()
        # A staff member's number is taken too, confirmed or not: a registration would
        # otherwise be started on the staff account and, confirmed, replace its password.
        if holder is not None and (holder.phone_verified_at is not None or holder.is_staff):
            return _registration_of_a_taken_number(holder=holder, destination=holder.phone.as_e164, ip=ip)
        user = holder or _unconfirmed_account_create(phone=phone, language=language)
        if language and user.language != _supported_language(language):
            user.language = _supported_language(language)
            user.save(update_fields=["language"])
        return registration_code_issue(user=user, password_hash=password_hash, email=email, ip=ip)


def _registration_of_a_taken_number(
    *, holder: User | None, destination: str, ip: str | None, replaces: OneTimeCode | None = None
) -> OneTimeCode:
    """Answer as for a new number; text the holder a notice when they are a customer the number reaches.

    Never to staff (codes and notices about sign-in never reach them, docs/DECISIONS.md), nor
    to an account closed or whose number was given up (it may be someone else's now).
    """
    told = holder is not None and holder.is_active and not holder.is_staff and not number_given_up(holder)
    return registration_of_a_taken_number_issue(
        destination=destination, ip=ip, notice_language=holder.message_language if told else None, replaces=replaces
    )


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


def _registration(registration_id) -> OneTimeCode:
    """A registration's record: one that can be confirmed, or one that stands for a taken number's."""
    record = (
        OneTimeCode.objects.select_related("user")
        .filter(pk=registration_id, purpose=OneTimeCode.Purpose.REGISTER)
        .first()
    )
    if record is None:
        raise CodeError(ERR_CODE_WRONG)
    return record


def _stands_for_a_taken_number(record: OneTimeCode) -> bool:
    user = record.user
    return user is None or user.phone_verified_at is not None or user.is_staff


def registration_code_resend(*, registration_id: int, ip: str | None) -> OneTimeCode:
    """Text a registration a fresh code in place of its last one; return the new record.

    A taken number's registration (or one whose number another registration confirmed
    meanwhile) is answered alike: counted, and its holder texted the notice again.
    """
    record = _registration(registration_id)
    if _stands_for_a_taken_number(record):
        return _registration_of_a_taken_number(
            holder=User.objects.filter(phone=record.destination).first(),
            destination=record.destination,
            ip=ip,
            replaces=record,
        )
    return registration_code_issue(
        user=record.user,
        password_hash=record.registration_password,
        email=record.registration_email,
        ip=ip,
        replaces=record,
    )


def customer_confirm_registration(*, registration_id: int, code: str, ip: str | None = None) -> User:
    """Confirm a registration with its own code: the account becomes active with its password.

    The email typed with it waits for its own proof: a code is mailed to it now, and until it
    is typed the address is not the account's (``accounts.services.emails``). Any other
    registration of the number still waiting ends here, its password never usable. A taken
    number's registration is refused whatever is typed, exactly as a wrong code is.
    """
    record = _registration(registration_id)
    if record.user_id is None:
        one_time_code_verify_without_account(
            destination=record.destination, purpose=OneTimeCode.Purpose.REGISTER, record_id=record.pk
        )
    # Verified in its own transaction: a wrong guess must stay counted although it raises.
    one_time_code_verify(user=record.user, purpose=OneTimeCode.Purpose.REGISTER, code=code, record_id=record.pk)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=record.user_id)
        if user.phone_verified_at is not None or user.is_staff:
            # Confirmed meanwhile, or made staff in admin: this registration is over.
            raise CodeError(ERR_CODE_WRONG)
        if record.registration_password:
            user.password = record.registration_password
            user.pending_email = record.registration_email
        user.is_active = True
        user.phone_verified_at = timezone.now()
        user.save(update_fields=["password", "pending_email", "is_active", "phone_verified_at"])
        # The other registrations of this number end: their codes stop working, their passwords go.
        OneTimeCode.objects.filter(user=user, purpose=OneTimeCode.Purpose.REGISTER).exclude(pk=record.pk).filter(
            used_at__isnull=True, expires_at__gt=user.phone_verified_at
        ).update(expires_at=user.phone_verified_at)
        OneTimeCode.objects.filter(user=user, purpose=OneTimeCode.Purpose.REGISTER).update(
            registration_password="", registration_email=""
        )
        audit_record(actor=user, verb="user.registered", target=user, subject_user=user)
        notify(user=user, kind=message_kinds.WELCOME, link="/account/", sms_too=False)
    if user.pending_email:
        try:
            email_code_issue(user=user, ip=ip)
        except CodeError as error:
            # The address was sent too many codes lately: it keeps waiting, and the customer
            # asks for its code from the account's email page.
            logger.info("Registration %s: no code mailed to its email yet: %s", record.pk, error)
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
    contacts = [value for value in (str(user.phone) if user.phone else None, user.email, user.pending_email) if value]
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
    user.email_verified_at = None
    user.pending_email = ""
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
