from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.utils import translation
from django.utils.cache import patch_vary_headers


class ChosenLanguageMiddleware:
    """Show Simplified Chinese unless the person chose English with the switch.

    Django's LocaleMiddleware would follow the browser's Accept-Language; an operator's
    customers expect the operator's language until they pick another, and staff
    screens must read the same for everyone at a desk.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        patch_vary_headers(response, ["Cookie"])
        return response


class StaffTwoFactorMiddleware:
    """With HEYON_REQUIRE_STAFF_2FA on, staff reach /staff/ and /admin/ only after a TOTP code.

    Staff without a device are sent to enrol; others to enter a code (or a recovery code).
    Checked on every request, after django-otp's middleware has set ``user.is_verified``.
    """

    PROTECTED = ("/staff/", "/admin/")
    OPEN = ("/staff/2fa/",)

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            settings.HEYON_REQUIRE_STAFF_2FA
            and user is not None
            and user.is_authenticated
            and user.is_staff
            and request.path.startswith(self.PROTECTED)
            and not request.path.startswith(self.OPEN)
            and not user.is_verified()
        ):
            return redirect(f"/staff/2fa/?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
