"""Request helpers shared by views, rate limits and django-axes."""

import logging

from django.conf import settings
from django.core.cache import cache

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


def over_rate_limit(key: str, *, per_minute: int) -> bool:
    """Count one request against ``key`` in the current minute; True once past ``per_minute``.

    A fixed one-minute window in the cache, which is Redis (shared by every app server)
    when REDIS_URL is set. Raises RateLimitUnavailable when the cache does not answer:
    whether to serve uncounted or to refuse is the caller's call.
    """
    cache_key = f"rate:{key}"
    try:
        cache.add(cache_key, 0, timeout=60)
        try:
            attempts = cache.incr(cache_key)
        except ValueError:  # the window ran out between add and incr
            cache.add(cache_key, 1, timeout=60)
            attempts = 1
    except Exception as error:
        logger.warning("Rate limit %s not counted: the cache does not answer", key.split(":")[0], exc_info=True)
        raise RateLimitUnavailable from error
    return attempts > per_minute
