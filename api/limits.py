"""Rate limits for the app, counted like the web's (accounts.http.over_rate_limit, django-ratelimit).

Every request is counted per account (signed in) and per client address; the actions the
web limits on their own (photo checks, submissions, certificate checks) use the web's
groups and settings, so the web and the app share one budget per customer and address.
"""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.throttling import BaseThrottle

from accounts.http import RateLimitUnavailable, client_ip_key, over_rate_limit
from api.problems import Problem

ERR_TOO_MANY = _("Too many requests. Please wait a minute and try again.")


def too_many(detail=ERR_TOO_MANY) -> Problem:
    return Problem(status_code=status.HTTP_429_TOO_MANY_REQUESTS, code="rate_limited", detail=detail)


def over_limits(
    request,
    *,
    group: str,
    per_account: int | None,
    per_address: int | None,
    address_group: str | None = None,
    fail_open: bool = True,
) -> bool:
    """Count this request for ``group`` per account (when signed in) and per address (each unless None).

    The groups are the web's (``submission`` and ``submission-address``…), so one budget serves both.
    """
    try:
        by_account = False
        if per_account is not None and request.user.is_authenticated:
            by_account = over_rate_limit(request, group=group, key="user", per_minute=per_account)
        by_address = False
        if per_address is not None:
            by_address = over_rate_limit(
                request, group=address_group or f"{group}-address", key=client_ip_key, per_minute=per_address
            )
    except RateLimitUnavailable:
        if fail_open:
            return False
        raise
    return by_account or by_address


class AccountOrAddressThrottle(BaseThrottle):
    """Every API request: a signed-in one per account, an anonymous one per client address.

    A signed-in request is not counted per address as well: carrier NAT puts thousands of
    phones behind one address, and their reads would use up one budget between them; the
    account's own budget bounds each caller (an account takes a texted code to make). The
    actions the web limits per address too (sign-in, codes, submissions, photo and
    certificate checks) still are: ``over_limits`` in their views.
    """

    def allow_request(self, request, view):
        if request.user.is_authenticated:
            return not over_limits(
                request, group="api", per_account=settings.API_RATE_PER_TOKEN_PER_MINUTE, per_address=None
            )
        return not over_limits(
            request, group="api", per_account=None, per_address=settings.API_RATE_PER_ADDRESS_PER_MINUTE
        )

    def wait(self):
        return 60
