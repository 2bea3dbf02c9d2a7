"""Validation of what a person types on the verification forms."""

import datetime
import re

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

ERR_ID_LENGTH = _("A Resident ID number has 18 characters: 17 digits and a final digit or X.")
ERR_ID_CHECKSUM = _("This ID number is not valid (its last character does not match). Check each digit.")
ERR_ID_BIRTH_DATE = _("The birth date in this ID number is not a real date. Check the 7th to 14th digits.")
ERR_ID_FUTURE_BIRTH_DATE = _(
    "The birth date in this ID number is today or in the future. Check the 7th to 14th digits."
)
ERR_ID_EARLY_BIRTH_DATE = _(
    "The birth date in this ID number is before 1900, which cannot be right. Check the 7th to 14th digits."
)
ERR_UNDER_SELF_REGISTRATION_AGE = _(
    "Online verification is for people aged %(age)s and over. Bring the ID card to one of our "
    "service points, with a parent or guardian: a clerk verifies it there."
)
ERR_ID_REGION = _("The first six digits of this ID number are not a known region code.")
ERR_NAME = _(
    "Enter your name exactly as on the ID card: Chinese characters (a middle dot · is allowed), or Latin letters."
)

# Nobody living was born before this; 18-digit numbers were issued from 1999, to the living.
EARLIEST_BIRTH_DATE = datetime.date(1900, 1, 1)

# Chinese names (with the interpunct of minority names, 阿依古丽·买买提) or Latin names.
NAME_PATTERN = re.compile(
    r"^(?:[\u3400-\u9fff\uf900-\ufaff]+(?:[·•・.][\u3400-\u9fff\uf900-\ufaff]+)*|[A-Za-z]+(?:[ '\-.][A-Za-z]+)*)$"
)


def clean_resident_id(value: str) -> str:
    """Return the 18-character PRC Resident ID number in canonical form, or raise ValidationError."""
    number = ric.compact("".join((value or "").split()))  # people type it in groups: 110105 19900101 1234
    try:
        if len(number) != 18:
            raise InvalidLength()
        if not number[:17].isdigit():
            raise InvalidFormat()
        if number[-1] != ric.calc_check_digit(number):
            raise InvalidChecksum()
        birth_date = ric.get_birth_date(number)
    except (InvalidLength, InvalidFormat) as error:
        raise ValidationError(ERR_ID_LENGTH, code="length") from error
    except InvalidChecksum as error:
        raise ValidationError(ERR_ID_CHECKSUM, code="checksum") from error
    except InvalidComponent as error:
        raise ValidationError(ERR_ID_BIRTH_DATE, code="birth_date") from error
    if birth_date >= timezone.localdate():
        raise ValidationError(ERR_ID_FUTURE_BIRTH_DATE, code="future_birth_date")
    if birth_date < EARLIEST_BIRTH_DATE:
        raise ValidationError(ERR_ID_EARLY_BIRTH_DATE, code="early_birth_date")
    try:
        ric.get_birth_place(number)
    except (InvalidComponent, KeyError) as error:  # stdnum raises KeyError for a known province, unknown county
        raise ValidationError(ERR_ID_REGION, code="region") from error
    return number


def clean_full_name(value: str) -> str:
    name = " ".join((value or "").split()).replace("•", "·").replace("・", "·")
    if not name or len(name) > 60 or not NAME_PATTERN.match(name):
        raise ValidationError(ERR_NAME, code="name")
    return name


def check_self_registration_age(id_number: str, *, minimum: int) -> None:
    """Refuse a valid ID number whose holder is younger than ``minimum`` today."""
    if age_on(id_number, timezone.localdate()) < minimum:
        raise ValidationError(ERR_UNDER_SELF_REGISTRATION_AGE, code="underage", params={"age": minimum})


def age_on(id_number: str, day) -> int:
    born = ric.get_birth_date(id_number)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))
