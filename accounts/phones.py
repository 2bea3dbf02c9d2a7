"""Phone numbers as people type and read them, parsed and formatted by ``phonenumbers``; sign-in identifiers."""

import phonenumbers
from django.conf import settings

HOME_COUNTRY_CODE = 86  # China: our numbers are shown without +86, as customers dial them

# Where a number's kind cannot be told from the number alone (the US, Canada), it may be a mobile.
SMS_NUMBER_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def can_receive_sms(number) -> bool:
    """Whether ``number`` (a ``PhoneNumber``, or E.164 text) is a mobile number, one an SMS can reach.

    A landline (北京 010 …, a Hong Kong fixed line) or a toll-free number cannot take a code.
    """
    if not number:
        return False
    if not isinstance(number, phonenumbers.PhoneNumber):
        try:
            number = phonenumbers.parse(str(number), settings.PHONENUMBER_DEFAULT_REGION)
        except phonenumbers.NumberParseException:
            return False
    return phonenumbers.number_type(number) in SMS_NUMBER_TYPES


def phone_display(number) -> str:
    """Return ``135 1234 0001`` for a Chinese number, ``+852 5123 4567`` for any other.

    ``number`` is a ``PhoneNumber`` (a phone number field's value) or text as a person
    typed it (a national number is read in ``PHONENUMBER_DEFAULT_REGION``); text that is
    not a valid phone number is returned as it is, and an empty value as "".
    """
    if not number:
        return ""
    if not isinstance(number, phonenumbers.PhoneNumber):
        text = str(number)
        try:
            number = phonenumbers.parse(text, settings.PHONENUMBER_DEFAULT_REGION)
        except phonenumbers.NumberParseException:
            return text
        if not phonenumbers.is_valid_number(number):
            return text
    if number.country_code == HOME_COUNTRY_CODE:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


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
