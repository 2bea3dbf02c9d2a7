"""One-time 6-digit codes: issued by SMS or email, hashed, single-use, expiring, rate limited."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy, gettext_noop

from accounts import message_kinds
from accounts.hashing import hashes_match, keyed_hash
from accounts.models import OneTimeCode, User
from accounts.phones import can_receive_sms

from .messages import outbox_queue, user_ids_with_numbers_given_up

ERR_RESEND_TOO_SOON = gettext_lazy("A code was sent a moment ago. Please wait a minute before asking for another.")
ERR_TOO_MANY_FOR_DESTINATION = gettext_lazy(
    "Too many codes were sent to this number or email. Please try again in an hour."
)
ERR_TOO_MANY_FROM_IP = gettext_lazy("Too many codes were requested from your network. Please try again later.")
ERR_CODE_WRONG = gettext_lazy("The code is wrong or has expired. Check it, or ask for a new one.")
ERR_CODE_TOO_MANY_ATTEMPTS = gettext_lazy("Too many wrong codes were entered. Please ask for a new code.")
ERR_NOT_A_MOBILE_NUMBER = gettext_lazy(
    "This number cannot receive text messages. Enter a mobile number, e.g. 138 0013 8000 or +852 6123 4567."
)

ERR_NUMBER_GIVEN_UP = gettext_lazy(
    "Codes are no longer sent to this number: its line was cancelled. Sign in with your email or ask support."
)

# What a code is for, in its message (the purposes' labels, translated when the message is written).
PURPOSE_MSGIDS = {
    OneTimeCode.Purpose.REGISTER: gettext_noop("Confirm registration"),
    OneTimeCode.Purpose.LOGIN: gettext_noop("Sign in"),
    OneTimeCode.Purpose.PASSWORD_RESET: gettext_noop("Reset password"),
    OneTimeCode.Purpose.EMAIL_CONFIRM: gettext_noop("Confirm email"),
}


class CodeError(Exception):
    """A code could not be issued or accepted; the message is for the person."""


def _hash(user_id, purpose, code):
    return keyed_hash(f"otp:{user_id}:{purpose}", code)


def _take_turns(*names: str) -> None:
    """Wait, until the transaction ends, for any other code request naming one of ``names``.

    The limits are counts of committed rows, so two requests counting at once would both pass
    the last slot; eight numbers asked for at once from one address all got their SMS with a
    limit of three. A PostgreSQL transaction-level advisory lock per address and destination
    makes them count in turn (always the address first, so two requests cannot wait for each
    other). SQLite runs one writer at a time and has no such locks.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name in names:
            digest = hashlib.sha256(f"one-time-code-limit:{name}".encode()).digest()
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)])


def number_given_up(user: User) -> bool:
    """Whether the line of the user's number was cancelled after they confirmed the number.

    The rule is ``messages.user_ids_with_numbers_given_up``: a code texted to such a number
    would reach whoever holds it now.
    """
    return user.pk in user_ids_with_numbers_given_up([user])


def _check_limits(*, destination: str, ip: str | None, now) -> None:
    # An email is one address whatever the case it is typed in (as an account's email is): each
    # spelling counted apart let accounts typing one address mail it codes without limit.
    by_email = "@" in destination
    _take_turns(*([f"ip:{ip}"] if ip else []), f"destination:{destination.lower() if by_email else destination}")
    hour_ago = now - timedelta(hours=1)
    same_destination = Q(destination__iexact=destination) if by_email else Q(destination=destination)
    recent = OneTimeCode.objects.filter(same_destination, created_at__gte=hour_ago)
    latest = recent.order_by("-created_at").values_list("created_at", flat=True).first()
    if latest and now - latest < timedelta(seconds=settings.OTP_RESEND_INTERVAL_SECONDS):
        raise CodeError(ERR_RESEND_TOO_SOON)
    if recent.count() >= settings.OTP_MAX_PER_DESTINATION_PER_HOUR:
        raise CodeError(ERR_TOO_MANY_FOR_DESTINATION)
    if (
        ip
        and OneTimeCode.objects.filter(requested_from_ip=ip, created_at__gte=hour_ago).count()
        >= settings.OTP_MAX_PER_IP_PER_HOUR
    ):
        raise CodeError(ERR_TOO_MANY_FROM_IP)


def _issue(
    *, user: User, purpose: str, channel: str, ip: str | None, superseded, destination: str = "", **registration
) -> OneTimeCode:
    destination = destination or (user.phone.as_e164 if channel == OneTimeCode.Channel.SMS else user.email)
    if channel == OneTimeCode.Channel.SMS and not can_receive_sms(user.phone):
        raise CodeError(ERR_NOT_A_MOBILE_NUMBER)
    if channel == OneTimeCode.Channel.SMS and number_given_up(user):
        raise CodeError(ERR_NUMBER_GIVEN_UP)
    now = timezone.now()
    with transaction.atomic():
        # Lock the user so that two simultaneous requests cannot both pass the limits.
        User.objects.select_for_update().filter(pk=user.pk).first()
        _check_limits(destination=destination, ip=ip, now=now)
        superseded.filter(used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        code = f"{secrets.randbelow(1_000_000):06d}"
        record = OneTimeCode.objects.create(
            purpose=purpose,
            channel=channel,
            destination=destination,
            user=user,
            code_hash=_hash(user.pk, purpose, code),
            requested_from_ip=ip or None,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.OTP_TTL_MINUTES),
            **registration,
        )
        # The outbox row holds the text with the code masked, which is all staff can ever read;
        # the code rides beside it, out of every staff view, until the message has left.
        outbox_queue(
            channel=channel,
            recipient=destination,
            kind=message_kinds.ONE_TIME_CODE,
            params={"purpose": message_kinds.msgid_param(PURPOSE_MSGIDS[purpose]), "minutes": settings.OTP_TTL_MINUTES},
            language=user.message_language,
            pending_code=code,
        )
    return record


def one_time_code_issue(*, user: User, purpose: str, channel: str, ip: str | None) -> OneTimeCode:
    """Send a fresh code to the user's phone (or email), replacing any unused one of the purpose.

    Raises CodeError when the number, email or IP asked too often, or the number cannot take an SMS.
    """
    superseded = OneTimeCode.objects.filter(user=user, purpose=purpose)
    return _issue(user=user, purpose=purpose, channel=channel, ip=ip, superseded=superseded)


def one_time_code_issue_without_account(*, destination: str, purpose: str, channel: str, ip: str | None) -> None:
    """Count a code request for a destination that has no account, as if a code had been sent.

    Nothing is sent and no code can ever match, but the request counts against the same
    limits as a real one, so the page answers a known and an unknown destination alike.
    """
    with transaction.atomic():
        _stand_in_create(destination=destination, purpose=purpose, channel=channel, ip=ip)


def _stand_in_create(*, destination: str, purpose: str, channel: str, ip: str | None, superseded=None) -> OneTimeCode:
    """A code request's record whose code nobody knows, counted by the limits like a real one."""
    now = timezone.now()
    _check_limits(destination=destination, ip=ip, now=now)
    if superseded is not None:
        superseded.filter(used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
    return OneTimeCode.objects.create(
        purpose=purpose,
        channel=channel,
        destination=destination,
        user=None,
        code_hash=_hash(None, purpose, secrets.token_hex(16)),
        requested_from_ip=ip or None,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.OTP_TTL_MINUTES),
    )


def registration_of_a_taken_number_issue(
    *, destination: str, ip: str | None, notice_language: str | None, replaces: OneTimeCode | None = None
) -> OneTimeCode:
    """Answer a registration of a number that already has an account as a new number's is answered.

    The record is counted by the same limits and stands for the registration (the web's session
    and the app's token name it), but carries no account, no password and a code nobody knows, so
    that whatever is typed for it is refused as a wrong code. With ``notice_language`` the number
    is texted, in that language, that someone tried to register with it, with no code; without it
    (a member of staff, an account closed or a number given up) nothing is sent.
    """
    with transaction.atomic():
        record = _stand_in_create(
            destination=destination,
            purpose=OneTimeCode.Purpose.REGISTER,
            channel=OneTimeCode.Channel.SMS,
            ip=ip,
            superseded=OneTimeCode.objects.filter(pk=replaces.pk) if replaces else None,
        )
        if notice_language:
            outbox_queue(
                channel=OneTimeCode.Channel.SMS,
                recipient=destination,
                kind=message_kinds.REGISTRATION_ATTEMPTED,
                language=notice_language,
            )
    return record


def email_code_issue(*, user: User, ip: str | None) -> OneTimeCode:
    """Mail a code to the user's email waiting for proof, ending any earlier one of it.

    Limited per address, per IP and in time like every code (CodeError): the address's owner is
    not flooded by accounts that typed it.
    """
    superseded = OneTimeCode.objects.filter(user=user, purpose=OneTimeCode.Purpose.EMAIL_CONFIRM)
    return _issue(
        user=user,
        purpose=OneTimeCode.Purpose.EMAIL_CONFIRM,
        channel=OneTimeCode.Channel.EMAIL,
        ip=ip,
        superseded=superseded,
        destination=user.pending_email,
    )


def email_codes_end(*, user: User) -> None:
    """End the user's email codes still usable (their address was cancelled): none proves it any more."""
    now = timezone.now()
    OneTimeCode.objects.filter(
        user=user, purpose=OneTimeCode.Purpose.EMAIL_CONFIRM, used_at__isnull=True, expires_at__gt=now
    ).update(expires_at=now)


def registration_code_issue(
    *, user: User, password_hash: str, email: str, ip: str | None, replaces: OneTimeCode | None = None
) -> OneTimeCode:
    """Text a registration code that carries this registration's password (hashed) and email.

    Only ``replaces`` (this registration's earlier code, on "send again") stops working: another
    person's registration of the same number neither ends nor takes over this one.
    """
    superseded = OneTimeCode.objects.filter(pk=replaces.pk) if replaces else OneTimeCode.objects.none()
    return _issue(
        user=user,
        purpose=OneTimeCode.Purpose.REGISTER,
        channel=OneTimeCode.Channel.SMS,
        ip=ip,
        superseded=superseded,
        registration_password=password_hash,
        registration_email=email or "",
    )


def one_time_code_verify(*, user: User, purpose: str, code: str, record_id: int | None = None) -> OneTimeCode:
    """Accept the user's newest unexpired code of this purpose once, or raise CodeError.

    With ``record_id`` only that code is accepted (a registration confirms with its own code).

    A wrong guess counts against the code even though an error is raised, so the
    count is saved before raising.
    """
    error = None
    with transaction.atomic():
        candidates = OneTimeCode.objects.filter(user=user, purpose=purpose)
        if record_id is not None:
            candidates = candidates.filter(pk=record_id)
        record = (
            candidates.select_for_update()
            .filter(used_at__isnull=True, expires_at__gt=timezone.now())
            .order_by("-created_at")
            .first()
        )
        if record is None:
            error = ERR_CODE_WRONG
        elif record.failed_attempts >= settings.OTP_MAX_VERIFY_ATTEMPTS:
            error = ERR_CODE_TOO_MANY_ATTEMPTS
        elif not hashes_match(record.code_hash, f"otp:{user.pk}:{purpose}", (code or "").strip()):
            record.failed_attempts += 1
            record.save(update_fields=["failed_attempts"])
            error = ERR_CODE_WRONG
        else:
            record.used_at = timezone.now()
            record.save(update_fields=["used_at"])
    if error:
        raise CodeError(error)
    return record


def one_time_code_verify_without_account(*, destination: str, purpose: str, record_id: int | None = None) -> None:
    """Refuse a code entered for a destination without an account, exactly as a wrong code is refused.

    The request's stand-in record counts the guesses, so that after too many the answer
    changes as it would for an account. With ``record_id`` only that record counts them (a
    registration of a taken number is refused through its own record, as a registration
    is confirmed with its own code).
    """
    with transaction.atomic():
        candidates = OneTimeCode.objects.filter(user__isnull=True, destination=destination, purpose=purpose)
        if record_id is not None:
            candidates = candidates.filter(pk=record_id)
        record = (
            candidates.select_for_update()
            .filter(used_at__isnull=True, expires_at__gt=timezone.now())
            .order_by("-created_at")
            .first()
        )
        if record is not None and record.failed_attempts >= settings.OTP_MAX_VERIFY_ATTEMPTS:
            error = ERR_CODE_TOO_MANY_ATTEMPTS
        else:
            error = ERR_CODE_WRONG
            if record is not None:
                record.failed_attempts += 1
                record.save(update_fields=["failed_attempts"])
    raise CodeError(error)
