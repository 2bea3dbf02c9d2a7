"""Sign-in by phone number, email or (staff) username with one password."""

import phonenumbers
from django.contrib.auth.backends import ModelBackend

from accounts.models import User


def parse_phone(raw: str, region: str = "CN"):
    """Return the E.164 form of a valid mobile number, or None."""
    try:
        number = phonenumbers.parse((raw or "").strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_identifier(identifier: str) -> str:
    """One spelling per account, so lockouts count '138 0013 8000' and '+8613800138000' together."""
    identifier = (identifier or "").strip()
    if "@" in identifier:
        return identifier.lower()
    return parse_phone(identifier) or identifier


def find_user_by_identifier(identifier: str) -> User | None:
    identifier = normalize_identifier(identifier)
    if not identifier:
        return None
    if "@" in identifier:
        return User.objects.filter(email__iexact=identifier).first()
    if identifier.startswith("+"):
        return User.objects.filter(phone=identifier).first()
    return User.objects.filter(username=identifier, is_staff=True).first()


def axes_identifier(request, credentials):
    return normalize_identifier((credentials or {}).get("username", ""))


class IdentifierBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if not username or password is None:
            return None
        user = find_user_by_identifier(username)
        if user is None:
            # Spend the same time as a real check so response times reveal nothing.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
