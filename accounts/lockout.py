"""The sign-in lockout: django-axes' database handler, with what it gets wrong for us put right.

django-axes counts failed password sign-ins per identifier and per client address
(``AXES_LOCKOUT_PARAMETERS``), in the database every app server shares.
"""

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt


class SignInLockoutHandler(AxesDatabaseHandler):
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
