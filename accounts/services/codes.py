"""One-time 6-digit codes: issued by SMS or email, hashed, single-use, expiring, rate limited."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.hashing import hashes_match, keyed_hash
from accounts.models import OneTimeCode, User

from .messages import outbox_queue

ERR_RESEND_TOO_SOON = gettext_lazy("A code was sent a moment ago. Please wait a minute before asking for another.")
ERR_TOO_MANY_FOR_DESTINATION = gettext_lazy(
    "Too many codes were sent to this number or email. Please try again in an hour."
)
ERR_TOO_MANY_FROM_IP = gettext_lazy("Too many codes were requested from your network. Please try again later.")
ERR_CODE_WRONG = gettext_lazy("The code is wrong or has expired. Check it, or ask for a new one.")
ERR_CODE_TOO_MANY_ATTEMPTS = gettext_lazy("Too many wrong codes were entered. Please ask for a new code.")


class CodeError(Exception):
    """A code could not be issued or accepted; the message is for the person."""


def _hash(user_id, purpose, code):
    return keyed_hash(f"otp:{user_id}:{purpose}", code)


def one_time_code_issue(*, user: User, purpose: str, channel: str, ip: str | None) -> OneTimeCode:
    """Send a fresh code to the user's phone (or email), replacing any unused one.

    Raises CodeError when the number, email or IP asked too often.
    """
    destination = user.phone.as_e164 if channel == OneTimeCode.Channel.SMS else user.email
    now = timezone.now()
    hour_ago = now - timedelta(hours=1)
    with transaction.atomic():
        # Lock the user so that two simultaneous requests cannot both pass the limits.
        User.objects.select_for_update().filter(pk=user.pk).first()
        recent = OneTimeCode.objects.filter(destination=destination, created_at__gte=hour_ago)
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

        # Only the newest code of a purpose is valid.
        OneTimeCode.objects.filter(user=user, purpose=purpose, used_at__isnull=True, expires_at__gt=now).update(
            expires_at=now
        )
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
        )
        text = _(
            "Your Heyon code is %(code)s (%(purpose)s). It expires in %(minutes)s minutes. Never share it with anyone."
        ) % {
            "code": code,
            "purpose": record.get_purpose_display(),
            "minutes": settings.OTP_TTL_MINUTES,
        }
        outbox_queue(
            channel=channel,
            recipient=destination,
            subject=_("Your Heyon code"),
            body=f"【Heyon】{text}" if channel == OneTimeCode.Channel.SMS else text,
            redact_after_send=True,
        )
    return record


def one_time_code_verify(*, user: User, purpose: str, code: str) -> OneTimeCode:
    """Accept the user's newest unexpired code of this purpose once, or raise CodeError.

    A wrong guess counts against the code even though an error is raised, so the
    count is saved before raising.
    """
    error = None
    with transaction.atomic():
        record = (
            OneTimeCode.objects.select_for_update()
            .filter(user=user, purpose=purpose, used_at__isnull=True, expires_at__gt=timezone.now())
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
