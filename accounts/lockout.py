"""The sign-in lockout: django-axes' database handler, with what it gets wrong for us put right.

django-axes counts failed password sign-ins per identifier and per client address
(``AXES_LOCKOUT_PARAMETERS``), in the database every app server shares. It asks whether
the limit is reached, then the password is checked, then a failure is counted: guesses
for one identifier are checked in turn (``accounts.backends.password_checks_in_turn``, a
lock per identifier), but guesses for many identifiers from one address would all pass the
address's check before any was counted. A lock per address would hold up every customer
behind one carrier NAT address, so the address's password checks in progress are counted
instead, atomically and before the check (``address_check_counted``): a check goes ahead
only if the address's failures plus the checks already in progress, each of which may
fail, stay under the limit. Nobody waits; one past it is refused at once as a lockout, and
no failure is counted for it since no password was checked.
"""

import logging
from contextlib import contextmanager

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit, get_lockout_parameters
from axes.models import AccessAttempt
from django.core.cache import cache
from django.db.models import Sum

from accounts.http import client_ip

logger = logging.getLogger(__name__)

# A place is given back when its check ends; this only bounds how long a place outlives a
# process killed during a check (a check takes well under a second).
CHECK_PLACE_SECONDS = 60


def _check_place_keys(address: str, limit: int) -> list[str]:
    return [f"accounts:sign-in:{address}:check:{n}" for n in range(limit)]


@contextmanager
def address_check_counted(request):
    """Hold one of the client address's places for a password check while the check runs.

    The address has as many places as the lockout's failure limit, each a cache key taken
    with ``add`` (atomic in Redis and in the local memory cache). How many are held, this
    check's included, is left on the request for ``SignInLockoutHandler.is_locked``. With
    every place held the check is refused. While the cache does not answer, checks go
    uncounted and django-axes' own count in the database still stops them one by one.
    """
    keys = _check_place_keys(client_ip(request), get_failure_limit(request, None))
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


class SignInLockoutHandler(AxesDatabaseHandler):
    def is_locked(self, request, credentials=None) -> bool:
        """Locked as axes says, or the address's failures and checks in progress would pass its limit."""
        if super().is_locked(request, credentials):
            return True
        others_in_progress = getattr(request, "sign_in_checks_in_progress", 1) - 1
        if others_in_progress < 1 or "ip_address" not in get_lockout_parameters(request, credentials):
            return False
        failures = (
            AccessAttempt.objects.filter(
                ip_address=request.axes_ip_address, attempt_time__gte=get_cool_off_threshold(request)
            ).aggregate(total=Sum("failures_since_start"))["total"]
            or 0
        )
        if failures + others_in_progress >= get_failure_limit(request, credentials):
            request.sign_in_address_crowded = True
            return True
        return False

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        if request is not None and getattr(request, "sign_in_address_crowded", False):
            # Refused before any password was checked: shown as a lockout, counted as no failure.
            request.axes_locked_out = True
            request.axes_credentials = credentials
            return
        super().user_login_failed(sender, credentials, request, **kwargs)

    def reset_user_attempts(self, request, credentials=None) -> int:
        """Forget the failures of the account that signed in, never those of its address.

        axes' own reset (``AXES_RESET_ON_SUCCESS``) deletes the failures matching any lockout
        parameter, the address's among them: a sprayer who signed into an account of their own
        between guesses started the address's count again each time, so the per-address limit
        never held. A customer's account has no username, so for them nothing is forgotten
        (their count ends with the cool-off).
        """
        username = get_client_username(request, credentials)
        if not username:
            return 0
        deleted, _ = AccessAttempt.objects.filter(username=username).delete()
        return deleted
