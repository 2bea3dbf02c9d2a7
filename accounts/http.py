"""Request helpers shared by views, rate limits and django-axes."""

from django.conf import settings
from django.core.cache import cache


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


def over_rate_limit(key: str, *, per_minute: int) -> bool:
    """Count one request against ``key`` in the current minute; True once past ``per_minute``.

    A fixed one-minute window in the cache, which is Redis (shared by every app server)
    when REDIS_URL is set.
    """
    cache_key = f"rate:{key}"
    cache.add(cache_key, 0, timeout=60)
    try:
        attempts = cache.incr(cache_key)
    except ValueError:  # the window ran out between add and incr
        cache.add(cache_key, 1, timeout=60)
        attempts = 1
    return attempts > per_minute
