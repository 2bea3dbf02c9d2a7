"""The one module that encrypts, masks, indexes and serves personal data of a verification.

ID numbers are encrypted with Fernet under FIELD_ENCRYPTION_KEYS (comma-separated,
newest first): the newest key encrypts, every listed key decrypts, so keys rotate by
prepending a new one and running ``reencrypt_id_numbers``. A keyed hash (blind index)
finds the same ID across accounts without decrypting anything.
"""

import base64
import hashlib
import re
import unicodedata
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import FileResponse, Http404

from accounts.hashing import keyed_hash


def _development_key() -> bytes:
    # Only for local and test settings, which may leave FIELD_ENCRYPTION_KEYS empty.
    return base64.urlsafe_b64encode(hashlib.sha256(f"heyon-dev-field-key:{settings.SECRET_KEY}".encode()).digest())


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.strip().encode()) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must hold Fernet keys (44 characters of URL-safe base64): "
            "make one with `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
        ) from error


def cipher() -> MultiFernet:
    keys = tuple(settings.FIELD_ENCRYPTION_KEYS) or (_development_key().decode(),)
    return _cipher(keys)


# A whole resident ID number, normalised: 17 digits and a check character.
ID_NUMBER_SHAPE = re.compile(r"\d{17}[\dX]")


def normalize_id_number(value: str) -> str:
    return "".join((value or "").split()).upper()


def encrypt(plaintext: str) -> str:
    return cipher().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise ImproperlyConfigured(
            "An ID number cannot be decrypted: is its key still in FIELD_ENCRYPTION_KEYS?"
        ) from error


def reencrypt(token: str) -> str:
    """Return the token encrypted under the newest key (unchanged plaintext)."""
    return cipher().rotate(token.encode()).decode()


def id_number_blind_index(id_number: str) -> str:
    return keyed_hash("id-number", normalize_id_number(id_number))


# Spaces and the middle dots of transliterated names (艾力·买买提, 艾力・买买提) are not part of
# what a name is when staff look it up: "王 小明" and "王小明" are one name.
NAME_SEPARATORS = frozenset(" \u00b7\u30fb\u2027\uff0e.-")


def normalize_name(name: str) -> str:
    """The name as the name index compares it: NFKC, no spaces or middle dots, case-folded."""
    folded = unicodedata.normalize("NFKC", name or "").casefold()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in NAME_SEPARATORS)


def name_blind_index(name: str) -> str:
    """A keyed hash of the normalised name: finds a name exactly, reveals nothing of it (empty for no name)."""
    normalized = normalize_name(name)
    return keyed_hash("full-name", normalized) if normalized else ""


def mask_id_number(id_number: str) -> str:
    """110105199001011234 → 110105********1234 (region kept, birth date and sequence hidden)."""
    value = normalize_id_number(id_number)
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_name(name: str) -> str:
    """张三丰 → 张**, Ma Li → M***: enough to recognise, not to identify."""
    name = (name or "").strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def serve_private_file(field_file, *, download_name: str) -> FileResponse:
    """Stream a file from private storage with headers that keep it out of every cache."""
    if not field_file:
        raise Http404
    try:
        handle = field_file.storage.open(field_file.name, "rb")
    except FileNotFoundError as error:
        raise Http404 from error
    response = FileResponse(handle, content_type="image/jpeg", filename=download_name)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


def mask_phone(phone) -> str:
    """+86 138 0013 8000 → 138****8000: the number's owner recognises it, nobody can dial it."""
    digits = "".join(ch for ch in str(phone or "") if ch.isdigit())
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
