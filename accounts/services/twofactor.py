"""Staff two-factor sign-in: TOTP enrolment, verification, recovery codes (django-otp)."""

from django.conf import settings
from django.db import transaction
from django.utils.crypto import get_random_string
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .audit import audit_record

# No 0/O, 1/I/L: a code is read off paper and typed in; staff_second_factor_verify upper-cases it.
RECOVERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RECOVERY_CODE_LENGTH = 10


def staff_totp_device(*, user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def staff_totp_enrolment_start(*, user) -> TOTPDevice:
    """The unconfirmed device whose secret the staff member adds to their authenticator app."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


def staff_totp_enrolment_confirm(*, user, token: str) -> tuple[TOTPDevice, list[str]] | None:
    """Confirm enrolment with a first code; return the device and fresh recovery codes (shown once)."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
        if device is None or not device.verify_token(token):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = staff_recovery_codes_reset(user=user)
        audit_record(actor=user, verb="staff.2fa_enrolled", target=user)
    return device, codes


def staff_recovery_codes_reset(*, user) -> list[str]:
    """Replace the user's recovery codes with new single-use ones."""
    with transaction.atomic():
        static, _created = StaticDevice.objects.get_or_create(user=user, name="recovery", defaults={"confirmed": True})
        static.token_set.all().delete()
        codes = [
            get_random_string(RECOVERY_CODE_LENGTH, RECOVERY_ALPHABET)
            for _ in range(settings.STAFF_RECOVERY_CODE_COUNT)
        ]
        StaticToken.objects.bulk_create([StaticToken(device=static, token=code) for code in codes])
    return codes


def staff_second_factor_verify(*, user, token: str):
    """The device that accepts this TOTP code or recovery code, or None (throttled by django-otp).

    The device row is locked from django-otp's throttle check to its count of the failure (or
    its use of the code): codes sent at the same moment all passed the check before any
    failure was counted, and one recovery code signed in twice. Only this staff member's own
    attempts wait for each other.
    """
    token = (token or "").strip().replace(" ", "").upper()
    # A 6-digit code is for the app; anything else is a recovery code. Trying one kind
    # only keeps a typo in one from throttling the other.
    devices = TOTPDevice.objects if token.isdigit() and len(token) == 6 else StaticDevice.objects
    with transaction.atomic():
        device = devices.select_for_update().filter(user=user, confirmed=True).first()
        if device is None or not device.verify_token(token):
            return None
        if isinstance(device, StaticDevice):
            audit_record(actor=user, verb="staff.2fa_recovery_code_used", target=user)
    return device
