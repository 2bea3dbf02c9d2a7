"""RFC 9457 problem details for every API error, with a stable ``code`` per domain error.

The apps raise their own errors (``BillingError``, ``ReviewError``…) with a message
constant; the code is derived from the constant's name (``billing.insufficient_balance``
for ``billing.services.errors.ERR_INSUFFICIENT_BALANCE``), so a renamed constant is the
only thing that changes a code, and ``tests/api/test_problems.py`` pins the list.
The message is the constant in the caller's language (api.views.base activates it).
"""

import logging
from types import ModuleType

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from accounts.services import codes as account_codes
from accounts.services import emails as account_emails
from accounts.services import lines as account_lines
from accounts.services import users as account_users
from billing.services import errors as billing_errors
from customers.services import cancellation as customer_cancellation
from customers.services import support as customer_support
from reviews import photos
from reviews.services import errors as review_errors

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://heyon.example/problems/"

# module → prefix of the codes of its ERR_ constants
MESSAGE_MODULES: list[tuple[ModuleType, str]] = [
    (account_codes, "code"),
    (account_users, "account"),
    (account_emails, "email"),
    (account_lines, "line"),
    (billing_errors, "billing"),
    (review_errors, "verification"),
    (photos, "photo"),
    (customer_cancellation, "cancellation"),
    (customer_support, "support"),
]

# (error class, HTTP status, code when the message is not one of the constants)
DOMAIN_ERRORS = [
    (account_codes.CodeError, status.HTTP_422_UNPROCESSABLE_ENTITY, "code.refused"),
    (account_users.RegistrationError, status.HTTP_422_UNPROCESSABLE_ENTITY, "account.refused"),
    (account_emails.EmailError, status.HTTP_422_UNPROCESSABLE_ENTITY, "email.refused"),
    (account_lines.LineError, status.HTTP_422_UNPROCESSABLE_ENTITY, "line.refused"),
    (review_errors.PhotoStorageUnavailable, status.HTTP_503_SERVICE_UNAVAILABLE, "verification.photo_storage"),
    (review_errors.ReviewError, status.HTTP_422_UNPROCESSABLE_ENTITY, "verification.refused"),
    (photos.PhotoRejected, status.HTTP_422_UNPROCESSABLE_ENTITY, "photo.rejected"),
    (billing_errors.BillingError, status.HTTP_422_UNPROCESSABLE_ENTITY, "billing.refused"),
    (customer_cancellation.CancellationError, status.HTTP_422_UNPROCESSABLE_ENTITY, "cancellation.refused"),
    (customer_support.SupportError, status.HTTP_422_UNPROCESSABLE_ENTITY, "support.refused"),
]

# A refusal that says "slow down" is a 429 whatever its app.
TOO_MANY = {"code.resend_too_soon", "code.too_many_for_destination", "code.too_many_from_ip"}

TITLES = {
    400: _("The request is not valid."),
    401: _("Sign in first."),
    403: _("This is not allowed."),
    404: _("Not found."),
    405: _("This method is not allowed here."),
    406: _("This response format is not available."),
    409: _("The request conflicts with another one."),
    413: _("The request is too large."),
    415: _("This content type is not accepted."),
    422: _("The request was refused."),
    429: _("Too many requests. Please wait a moment."),
    503: _("The service is unavailable for a moment. Please try again shortly."),
}


def _message_codes() -> dict[int, str]:
    codes = {}
    for module, prefix in MESSAGE_MODULES:
        for name, value in vars(module).items():
            if name.startswith("ERR_") and not isinstance(value, str | int):
                codes.setdefault(id(value), f"{prefix}.{name[4:].lower()}")
    return codes


_CODES_BY_MESSAGE: dict[int, str] | None = None


def message_code(message) -> str | None:
    """The stable code of one of the apps' message constants, or None.

    A service that hands the message on as text (``str(ERR_…)``) is matched by the text
    in the active language.
    """
    global _CODES_BY_MESSAGE
    if _CODES_BY_MESSAGE is None:
        _CODES_BY_MESSAGE = _message_codes()
    code = _CODES_BY_MESSAGE.get(id(message))
    if code is None and isinstance(message, str):
        for module, prefix in MESSAGE_MODULES:
            for name, value in vars(module).items():
                if name.startswith("ERR_") and not isinstance(value, str | int) and str(value) == message:
                    return f"{prefix}.{name[4:].lower()}"
    return code


def all_message_codes() -> list[str]:
    return sorted(set(_message_codes().values()))


def domain_problem(error: Exception) -> tuple[int, str] | None:
    """(status, code) for a domain error of the apps, or None for anything else."""
    for error_class, http_status, fallback in DOMAIN_ERRORS:
        if isinstance(error, error_class):
            code = None
            cause: BaseException | None = error
            # A service that re-raises another app's error as its own keeps the first as the cause.
            while cause is not None and code is None:
                code = message_code(cause.args[0]) if cause.args else None
                cause = cause.__cause__
            code = code or fallback
            return (status.HTTP_429_TOO_MANY_REQUESTS if code in TOO_MANY else http_status), code
    return None


class Problem(exceptions.APIException):
    """An API-level refusal with its own code (idempotency, rate limits, tokens…)."""

    def __init__(self, *, status_code: int, code: str, detail, **extra):
        self.status_code = status_code
        self.problem_code = code
        self.extra = extra
        super().__init__(detail=detail, code=code)


def problem_response(*, status_code: int, code: str, detail, errors=None, headers=None, **extra) -> Response:
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": str(TITLES.get(status_code, TITLES[400])),
        "status": status_code,
        "code": code,
        "detail": str(detail),
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def _field_errors(detail) -> dict:
    if isinstance(detail, dict):
        return {field: _field_errors(value) for field, value in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [str(item) for item in detail]
        return [_field_errors(item) for item in detail]
    return [str(detail)]


def problem_exception_handler(exc, context):
    """DRF's exception handler: every error leaves as application/problem+json."""
    headers = {}
    if isinstance(exc, Problem):
        return problem_response(status_code=exc.status_code, code=exc.problem_code, detail=exc.detail, **exc.extra)
    domain = domain_problem(exc)
    if domain is not None:
        http_status, code = domain
        extra = {}
        if getattr(exc, "field", None):
            extra["errors"] = {exc.field: [str(exc)]}
        return problem_response(status_code=http_status, code=code, detail=str(exc), **extra)
    if isinstance(exc, RequestDataTooBig):
        # Django's limit on a body read into memory (DATA_UPLOAD_MAX_MEMORY_SIZE): a 413 in
        # the API's own shape rather than Django's HTML 400 page.
        return problem_response(
            status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            code="request_too_large",
            detail=_("The request is too large. Send less data (photos go as multipart files)."),
        )
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 handling logs it
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        if isinstance(errors, list):
            errors = {"non_field_errors": errors}
        return problem_response(
            status_code=status.HTTP_400_BAD_REQUEST,
            code="validation_error",
            detail=_("Check the fields listed in errors."),
            errors=errors,
            headers=headers,
        )
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    if isinstance(exc, exceptions.Throttled):
        code = "rate_limited"  # one code for every limit, the general one and the actions' own
    detail = exc.detail if isinstance(exc.detail, str) else exc.default_detail
    return problem_response(status_code=exc.status_code, code=code, detail=detail, headers=headers)
