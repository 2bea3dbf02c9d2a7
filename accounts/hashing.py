"""Keyed hashes for looking rows up by a secret without storing the secret."""

import hashlib
import hmac

from django.conf import settings


def keyed_hash(purpose: str, value: str) -> str:
    """Return the hex HMAC-SHA256 of ``value`` under BLIND_INDEX_KEY, namespaced by purpose.

    The purpose keeps hashes of different kinds (activation codes, one-time codes, ID
    numbers) from ever matching each other even when the inputs are equal.
    """
    key = settings.BLIND_INDEX_KEY.encode()
    message = f"{purpose}\x00{value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def hashes_match(expected_hex: str, purpose: str, value: str) -> bool:
    return hmac.compare_digest(expected_hex, keyed_hash(purpose, value))
