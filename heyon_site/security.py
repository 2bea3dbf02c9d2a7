"""Request hygiene applied before any view runs, private pages kept out of caches, and who counts as store staff."""

from django.core.exceptions import SuspiciousOperation

NUL = "\x00"


class NulByte(SuspiciousOperation):
    """A NUL byte in the request: Django answers 400 and logs it under django.security."""


class NulByteMiddleware:
    """Refuse a request with a NUL byte in its path, query string, form fields or headers (cookies too).

    No legitimate request carries one, and PostgreSQL text cannot hold it: psycopg refuses
    such a parameter with a ValueError, so every view that looks a value up (an order number,
    a city, a certificate number) would answer 500. Checking here, before the URL is even
    resolved, covers every view at once, the ones still to be written too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _carries_nul(request):
            raise NulByte("NUL byte in the request")
        return self.get_response(request)


class PrivatePagesMiddleware:
    """Send ``Cache-Control: private, no-store`` with every answer to a signed-in person, unless the view set its own.

    What a signed-in person reads is theirs or a customer's: a senior reviewer's screen shows
    full ID numbers, a support agent's the customer's lines and messages, the account centre
    the customer's number and balance. Without the header the browser kept such pages on
    disk (and offered them again from its history) for the next person at a shared desk or
    phone. Here rather than on each view, so a page written later is covered too; public
    pages for anonymous visitors stay cacheable.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "private, no-store"
        return response


def _carries_nul(request) -> bool:
    if NUL in request.path_info or NUL in request.path:
        return True
    if _any_nul(request.GET):
        return True
    # Headers (django-axes stores a failed login's User-Agent, for one) and cookies, whose
    # quoted form can spell a NUL as \000.
    if any(NUL in value for key, value in request.META.items() if key.startswith("HTTP_") and isinstance(value, str)):
        return True
    if any(NUL in name or NUL in value for name, value in request.COOKIES.items()):
        return True
    # The body is parsed only for a form post (as CsrfViewMiddleware does anyway); a JSON or
    # signed webhook body stays unread for its view.
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        # (Uploaded file names need no check: Django's multipart parser drops their NULs.)
        return _any_nul(request.POST)
    return False


def _any_nul(query_dict) -> bool:
    return any(NUL in key or any(NUL in value for value in values) for key, values in query_dict.lists())


# Staff who work at a store counter: taking renewals or verifying customers in person.
STORE_PERMISSIONS = ("billing.renew_at_store", "reviews.verify_in_person")


def is_store_staff(user) -> bool:
    """A non-administrator bound to a service point or holding a counter permission.

    Store staff see customers' records only where their own service point produced them
    (docs/DECISIONS.md); a clerk left without a service point therefore sees none.
    """
    if not user.is_authenticated or user.is_superuser:
        return False
    return user.service_point_id is not None or any(user.has_perm(perm) for perm in STORE_PERMISSIONS)
