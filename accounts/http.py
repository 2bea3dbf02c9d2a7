"""Request helpers shared by views, rate limits and django-axes."""

import logging

from django.conf import settings
from django_ratelimit.core import get_usage

logger = logging.getLogger(__name__)


def client_ip(request) -> str:
    """Return the client's IP address.

    Behind a load balancer (``TRUSTED_PROXY_COUNT`` > 0) the address is taken from
    X-Forwarded-For, counting from the right so a client cannot forge it.
    """
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


class RateLimitUnavailable(Exception):
    """The cache that counts requests did not answer (Redis down); the caller decides."""


def client_ip_key(group: str, request) -> str:
    """django-ratelimit key: the client's IP as ``client_ip`` reads it behind our proxies."""
    return client_ip(request)


def over_rate_limit(request, *, group: str, key, per_minute: int) -> bool:
    """Count this request in django-ratelimit's window for ``group``; True once past ``per_minute``.

    ``key`` is a django-ratelimit key (``"user"``, ``client_ip_key``…). The count lives in
    the default cache, which is Redis (shared by every app server) when REDIS_URL is set.
    Raises RateLimitUnavailable when the cache does not answer: whether to serve uncounted
    or to refuse is the caller's call, so it is not left to RATELIMIT_FAIL_OPEN.
    """
    try:
        usage = get_usage(request, group=group, key=key, rate=f"{per_minute}/m", increment=True)
    except Exception as error:
        logger.warning("Rate limit %s not counted: the cache does not answer", group, exc_info=True)
        raise RateLimitUnavailable from error
    if usage is None:  # RATELIMIT_ENABLE is off
        return False
    if usage["count"] < 1:
        # This request was counted, so a count of 0 is django-ratelimit saying the cache
        # neither added nor incremented it.
        logger.warning("Rate limit %s not counted: the cache gave no count", group)
        raise RateLimitUnavailable
    return usage["should_limit"]
