"""Error pages that work when the database does not: no request context, no queries."""

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template import loader

logger = logging.getLogger(__name__)

# Seconds a client (or the load balancer) should wait before trying again.
DATABASE_RETRY_AFTER = 30


def _page(template_name: str, *, status: int) -> HttpResponse:
    # Rendered with a plain context: context processors would query the database
    # (the unread count) and may be the very thing that is failing.
    html = loader.get_template(template_name).render({"support_hotline": settings.SUPPORT_HOTLINE})
    return HttpResponse(html, status=status)


def server_error(request):
    """handler500: a translated page saying that nothing was changed."""
    return _page("500.html", status=500)


class DatabaseUnavailableMiddleware:
    """Turn a lost or refused database connection into a 503 page with Retry-After.

    Each service runs in its own transaction, so the write that was under way rolled
    back with the connection: the customer may safely try again. Other errors (bugs)
    stay 500s and are reported as usual.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.error("Database unavailable during %s %s", request.method, request.path, exc_info=exception)
        response = _page("503.html", status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response
