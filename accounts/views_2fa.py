"""Staff two-factor sign-in pages: enrol with a QR code, then enter a code at each sign-in."""

import base64
import io

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from accounts import services

ERR_TOKEN = gettext_lazy("That code is not right. Use the current 6-digit code from your authenticator app.")


class TokenForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("Code from your authenticator app (or a recovery code)"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/staff/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/staff/"
    return target


def _qr_data_uri(text: str) -> str:
    # An SVG loaded as an image (unlike SVG inline in HTML) renders only with its xmlns.
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="svg", scale=5, xmldecl=False, svgns=True)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request):
    user = request.user
    if not user.is_staff:
        raise PermissionDenied
    form = TokenForm(request.POST or None)
    device = services.staff_totp_device(user=user)
    if device is None:
        pending = services.staff_totp_enrolment_start(user=user)
        if request.method == "POST" and form.is_valid():
            confirmed = services.staff_totp_enrolment_confirm(user=user, token=form.cleaned_data["token"])
            if confirmed is None:
                form.add_error("token", str(ERR_TOKEN))
            else:
                device, codes = confirmed
                otp_login(request, device)
                return render(request, "accounts/2fa_recovery_codes.html", {"codes": codes, "next": _next_url(request)})
        context = {
            "form": form,
            "qr": _qr_data_uri(pending.config_url),
            "secret": base64.b32encode(pending.bin_key).decode(),
            "next": _next_url(request),
        }
        return render(request, "accounts/2fa_enrol.html", context)
    if request.method == "POST" and form.is_valid():
        verified = services.staff_second_factor_verify(user=user, token=form.cleaned_data["token"])
        if verified is None:
            form.add_error("token", str(ERR_TOKEN))
        else:
            otp_login(request, verified)
            messages.success(request, _("Signed in with two-factor authentication."))
            return redirect(_next_url(request))
    return render(request, "accounts/2fa_verify.html", {"form": form, "next": _next_url(request)})
