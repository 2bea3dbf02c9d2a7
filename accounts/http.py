"""Request helpers shared by views, rate limits and django-axes."""

from django.conf import settings


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
