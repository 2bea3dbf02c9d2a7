"""The sign-in lockout: django-axes' database handler, with what it gets wrong for us put right.

django-axes counts failed password sign-ins in the database every app server shares, and
locks an account after ``AXES_FAILURE_LIMIT`` failures (``AXES_LOCKOUT_PARAMETERS``: the
identifier typed, one spelling per account). A client address has a limit of its own,
``SIGN_IN_ADDRESS_FAILURE_LIMIT``, higher: a carrier NAT address carries many customers,
whose typos together must not pause all of them as soon as one account's limit is reached,
while a sprayer trying one password on many accounts from one address is still stopped.
axes has one limit for every parameter, so this handler counts the address's failures itself.

axes asks whether the limit is reached, then the password is checked, then a failure is
counted: guesses for one identifier are checked in turn (``accounts.backends.
password_checks_in_turn``, a lock per identifier), but guesses for many identifiers from one
address would all pass the address's check before any was counted. A lock per address would
hold up every customer behind one NAT address, so the address's password checks in progress
are counted instead, atomically and before the check (``address_check_counted``): a check
goes ahead only if the address's failures plus the checks already in progress, each of which
may fail, stay under its limit. Nobody waits; one past it is asked to try again in a moment
(``sign_in_busy``), and no failure is counted for it since no password was checked.
"""

import logging
from contextlib import contextmanager

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.core.cache import cache
from django.db.models import Sum

from accounts.http import client_ip
from accounts.phones import normalize_identifier

logger = logging.getLogger(__name__)

# A place is given back when its check ends; this only bounds how long a place outlives a
# process killed during a check (a check takes well under a second).
CHECK_PLACE_SECONDS = 60


def address_check_places(address: str, limit: int) -> list[str]:
    """The cache keys of an address's places for password checks in progress, one per check allowed."""
    return [f"accounts:sign-in:{address}:check:{n}" for n in range(limit)]


def sign_in_identifiers(user) -> list[str]:
    """Every identifier an account can be signed into with, spelt as the lockout counts them."""
    typed = [user.username, user.phone.as_e164 if user.phone else "", user.email]
    return [normalize_identifier(identifier) for identifier in typed if identifier]


@contextmanager
def address_check_counted(request):
    """Hold one of the client address's places for a password check while the check runs.

    The address has as many places as its failure limit, each a cache key taken with ``add``
    (atomic in Redis and in the local memory cache). How many are held, this check's
    included, is left on the request for ``SignInLockoutHandler.is_locked``. With every place
    held the check is refused. While the cache does not answer, checks go uncounted and the
    count of failures in the database still stops them one by one.
    """
    keys = address_check_places(client_ip(request), settings.SIGN_IN_ADDRESS_FAILURE_LIMIT)
    held = None
    try:
        held = next((key for key in keys if cache.add(key, 1, timeout=CHECK_PLACE_SECONDS)), None)
        request.sign_in_checks_in_progress = len(cache.get_many(keys)) if held else len(keys) + 1
    except Exception:
        logger.warning("Sign-in checks from an address not counted: the cache does not answer", exc_info=True)
    try:
        yield
    finally:
        if held:
            try:
                cache.delete(held)
            except Exception:
                logger.warning("A sign-in check's place not given back: the cache does not answer", exc_info=True)


def _address_failures(request) -> int:
    """Failed password sign-ins from the request's address within the cool-off, whatever the account."""
    return (
        AccessAttempt.objects.filter(
            ip_address=request.axes_ip_address, attempt_time__gte=get_cool_off_threshold(request)
        ).aggregate(total=Sum("failures_since_start"))["total"]
        or 0
    )


class SignInLockoutHandler(AxesDatabaseHandler):
    def is_locked(self, request, credentials=None) -> bool:
        """Locked as axes says (the account), or the address's failures reach its own limit.

        Failures and checks in progress together reaching it, with the failures alone under
        it, is a busy moment, not a lockout: ``request.sign_in_busy`` says so to the page.
        """
        if super().is_locked(request, credentials):
            return True
        limit = settings.SIGN_IN_ADDRESS_FAILURE_LIMIT
        failures = _address_failures(request)
        if failures >= limit:
            return True
        others_in_progress = getattr(request, "sign_in_checks_in_progress", 1) - 1
        if failures + others_in_progress >= limit:
            request.sign_in_busy = True
            return True
        return False

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        if request is not None and getattr(request, "sign_in_busy", False):
            # Refused before any password was checked: no failure to count.
            request.axes_locked_out = True
            request.axes_credentials = credentials
            return
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is not None and not request.axes_locked_out:
            # The failure that reaches the address's limit is answered as a lockout, as axes
            # answers the one that reaches the account's.
            request.axes_locked_out = _address_failures(request) >= settings.SIGN_IN_ADDRESS_FAILURE_LIMIT

    def user_logged_in(self, sender, request, user, **kwargs):
        # axes resets by ``user.get_username()``, which a customer's account does not have.
        request.sign_in_identifiers = sign_in_identifiers(user)
        super().user_logged_in(sender, request, user, **kwargs)

    def reset_user_attempts(self, request, credentials=None) -> int:
        """Forget the failures of the account that signed in, under any of its identifiers; never its address's.

        axes' own reset (``AXES_RESET_ON_SUCCESS``) deletes the failures matching any lockout
        parameter, which included the address while it was one: a sprayer who signed into an
        account of their own between guesses started the address's count again each time.
        """
        identifiers = getattr(request, "sign_in_identifiers", None) or [get_client_username(request, credentials)]
        identifiers = [identifier for identifier in identifiers if identifier]
        if not identifiers:
            return 0
        deleted, _ = AccessAttempt.objects.filter(username__in=identifiers).delete()
        return deleted
