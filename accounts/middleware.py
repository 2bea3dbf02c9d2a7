from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.utils import translation
from django.utils.cache import patch_vary_headers


class ChosenLanguageMiddleware:
    """Show Simplified Chinese unless the person chose English with the switch.

    Django's LocaleMiddleware would follow the browser's Accept-Language; an operator's
    customers expect the operator's language until they pick another, and staff
    screens must read the same for everyone at a desk. Signed in, the language chosen on
    the account wins over the browser's cookie: it follows the person to a new phone, as
    their messages do. It runs after the authentication middleware for that.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request):
        user = getattr(request, "user", None)
        chosen = user.language if user is not None and user.is_authenticated else ""
        chosen = chosen or request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        patch_vary_headers(response, ["Cookie"])
        return response


class StaffTwoFactorMiddleware:
    """With HEYON_REQUIRE_STAFF_2FA on, staff use the site only after a TOTP code.

    Staff without a device are sent to enrol; others to enter a code (or a recovery code).
    Every page is guarded, not only /staff/ and /admin/: staff permissions also open ID
    photos and receipts under customer-facing paths. Only the code page itself, signing
    out and the language switch stay open. Checked on every request, after django-otp's
    middleware has set ``user.is_verified``.
    """

    OPEN = ("/staff/2fa/", "/accounts/logout/", "/i18n/", "/static/", "/healthz")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            settings.HEYON_REQUIRE_STAFF_2FA
            and user is not None
            and user.is_authenticated
            and user.is_staff
            and not request.path.startswith(self.OPEN)
            and not user.is_verified()
        ):
            return redirect(f"/staff/2fa/?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
