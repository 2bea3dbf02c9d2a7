"""What every API view shares: the caller's language, the rate limits, problem errors."""

from django.conf import settings
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header
from rest_framework.decorators import api_view, authentication_classes, permission_classes, schema
from rest_framework.exceptions import NotFound
from rest_framework.views import APIView

from api.limits import AccountOrAddressThrottle


def language_chosen_in_header(header: str) -> str:
    """The first supported language of an Accept-Language header, blank if it names none."""
    for code, _quality in parse_accept_lang_header(header or ""):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return ""


def language_from_header(header: str) -> str:
    """The first supported language of an Accept-Language header, else the site's default."""
    return language_chosen_in_header(header) or settings.LANGUAGE_CODE


class ApiView(APIView):
    """Base of the app's views. The app says its language in Accept-Language (the web uses a cookie)."""

    throttle_classes = [AccountOrAddressThrottle]

    def initial(self, request, *args, **kwargs):
        language = language_from_header(request.headers.get("Accept-Language", ""))
        translation.activate(language)
        request.LANGUAGE_CODE = language
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Language"] = translation.get_language()
        response["Cache-Control"] = "private, no-store"
        response["Vary"] = "Accept-Language, Authorization"
        return response


class PublicApiView(ApiView):
    authentication_classes = []
    permission_classes = []


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@authentication_classes([])
@permission_classes([])
@schema(None)
def not_found(request, *args, **kwargs):
    """Any other path under /api/v1/ answers a problem, not the web's HTML 404 page."""
    raise NotFound
