"""Sign-in by phone number, email or (staff) username with one password; permissions kept in the cache."""

import hashlib
import logging
import secrets
from contextlib import contextmanager

from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction

from accounts.lockout import address_check_counted
from accounts.models import User
from accounts.phones import normalize_identifier


def find_user_by_identifier(identifier: str) -> User | None:
    identifier = normalize_identifier(identifier)
    if not identifier:
        return None
    if "@" in identifier:
        # Only the spelling the lockout counts reaches the account: PostgreSQL's case-insensitive
        # match upper-cases "ſ" to "S" and "ı" to "I", which Python's lower() keeps apart, so
        # "ſam@…" found sam@…'s account under a lockout count of its own.
        matches = User.objects.filter(email__iexact=identifier)
        return next((user for user in matches if normalize_identifier(user.email) == identifier), None)
    if identifier.startswith("+"):
        return User.objects.filter(phone=identifier).first()
    return User.objects.filter(username=identifier, is_staff=True).first()


logger = logging.getLogger(__name__)

# A staff member's permission set is read on every staff request (two queries: their own
# and their groups'). It changes only when someone edits users, groups or permissions, so
# it is kept in the cache under the current permissions generation, and any such edit
# starts a new generation (accounts.apps connects ``permissions_changed`` to the m2m and
# delete signals): a withdrawn permission stops working on the next request. The timeout
# bounds what no signal reports (a raw SQL edit). A cache outage costs the two queries.
PERMISSIONS_GENERATION_KEY = "accounts:permissions:generation"
PERMISSIONS_CACHE_SECONDS = 300


def _permissions_key(user) -> str:
    return f"accounts:permissions:{user.pk}:{int(user.is_superuser)}"


def permissions_changed(**_signal):
    """Start a new permissions generation now and again once the change commits: every cached set is read again.

    Again after the commit: a request between the two would have stored the old set under
    the first new generation.
    """
    _new_permissions_generation()
    transaction.on_commit(_new_permissions_generation)


def _new_permissions_generation():
    try:
        cache.set(PERMISSIONS_GENERATION_KEY, secrets.token_hex(8), timeout=None)
    except Exception:
        # The cached sets then outlive the change by up to PERMISSIONS_CACHE_SECONDS.
        logger.exception("Permissions changed but the cache could not be told")


def axes_identifier(request, credentials):
    return normalize_identifier((credentials or {}).get("username", ""))


@contextmanager
def password_checks_in_turn(identifier: str, *, request):
    """Check one password at a time for an identifier, from the lockout's check to its count of a failure.

    django-axes asks whether the identifier is locked out, then the password is hashed and
    compared, then a failure is counted: guesses sent at the same moment all passed the first
    step before any was counted, so twelve at once were all checked (and a right one among
    them signed in) with a limit of three. Every password sign-in (the web form, the app's
    token) runs inside this: a PostgreSQL advisory lock on the normalised identifier, held
    by the connection until the failure is written (axes writes it in autocommit, so no
    transaction of ours can roll it back). Different identifiers do not wait for each
    other; SQLite runs one writer at a time and has no such locks. The check is also
    counted among its client address's checks in progress (``address_check_counted``).
    """
    if connection.vendor != "postgresql":
        with address_check_counted(request):
            yield
        return
    digest = hashlib.sha256(f"password-sign-in:{normalize_identifier(identifier)}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        with address_check_counted(request):
            yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        except DatabaseError:
            # The connection is gone, and the lock with its session.
            logger.warning("Sign-in lock not released: the connection was lost", exc_info=True)


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

    def get_all_permissions(self, user_obj, obj=None):
        """ModelBackend's permission set, read from the cache while the permissions generation stands."""
        if obj is None and user_obj.is_active and not user_obj.is_anonymous and not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = self._cached_permissions(user_obj)
        return super().get_all_permissions(user_obj, obj)

    def _cached_permissions(self, user) -> set[str]:
        key = _permissions_key(user)
        try:
            found = cache.get_many([PERMISSIONS_GENERATION_KEY, key])
            generation = found.get(PERMISSIONS_GENERATION_KEY)
            if generation is None:
                cache.add(PERMISSIONS_GENERATION_KEY, secrets.token_hex(8), timeout=None)
                generation = cache.get(PERMISSIONS_GENERATION_KEY)
        except Exception:
            logger.warning("Permission cache unavailable; reading the database", exc_info=True)
            return super().get_all_permissions(user)
        cached = found.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]
        permissions = super().get_all_permissions(user)
        try:
            cache.set(key, (generation, permissions), PERMISSIONS_CACHE_SECONDS)
        except Exception:
            logger.warning("Permission cache unavailable; not keeping %s's permissions", user.pk, exc_info=True)
        return permissions
