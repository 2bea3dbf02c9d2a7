"""Thin views: validate the form, call one service, show the outcome."""

import logging

import redis
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, LogoutView
from django.core.files.storage import default_storage, storages
from django.db import connection
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.i18n import set_language
from phonenumber_field.phonenumber import to_python

from accounts import selectors, services
from accounts.forms import (
    CodeForm,
    EmailChangeForm,
    LineAddForm,
    LoginCodeRequestForm,
    LoginForm,
    PasswordResetConfirmForm,
    PasswordResetRequestForm,
    RegistrationForm,
)
from accounts.http import client_ip
from accounts.models import OneTimeCode, ServicePoint
from heyon_site.storage import probe as storage_probe

logger = logging.getLogger(__name__)

SESSION_PENDING_REGISTRATION = "pending_registration_code_id"
SESSION_LOGIN_CODE_PHONE = "login_code_phone"
SESSION_RESET_IDENTIFIER = "password_reset_identifier"
BACKEND = "accounts.backends.IdentifierBackend"


@require_http_methods(["GET", "POST"])
def register(request):
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            registration = services.customer_register(
                phone=form.cleaned_data["phone"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                ip=client_ip(request),
                language=request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, ""),
            )
        except services.RegistrationError as error:
            form.add_error(error.field, str(error))
        except services.CodeError as error:
            form.add_error(None, str(error))
        else:
            # This browser confirms this registration's code, and no other registration's.
            request.session[SESSION_PENDING_REGISTRATION] = registration.pk
            # The code page itself says where the code went: no second notice of it.
            return redirect("accounts:verify")
    return render(request, "accounts/register.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request):
    # A registration still waiting for its code (the account's number not confirmed yet: an
    # account made at a desk is active without one), or one that stands for a number that has
    # an account, which is shown exactly alike and can never be confirmed.
    registration = (
        OneTimeCode.objects.filter(
            pk=request.session.get(SESSION_PENDING_REGISTRATION), purpose=OneTimeCode.Purpose.REGISTER
        )
        .filter(Q(user__isnull=True) | Q(user__phone_verified_at__isnull=True))
        .first()
    )
    if registration is None:
        messages.warning(request, _("Start by registering with your mobile number."))
        return redirect("accounts:register")
    if request.method == "POST" and "resend" in request.POST:
        try:
            registration = services.registration_code_resend(registration_id=registration.pk, ip=client_ip(request))
        except services.CodeError as error:
            messages.error(request, str(error))
        else:
            request.session[SESSION_PENDING_REGISTRATION] = registration.pk
            messages.info(request, _("A new code is on its way."))
        return redirect("accounts:verify")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.customer_confirm_registration(
                registration_id=registration.pk, code=form.cleaned_data["code"], ip=client_ip(request)
            )
        except (services.CodeError, services.RegistrationError) as error:
            form.add_error("code", str(error))
        else:
            del request.session[SESSION_PENDING_REGISTRATION]
            login(request, user, backend=BACKEND)
            messages.success(request, _("Your account is confirmed. Welcome to Heyon!"))
            return redirect("customers:account_centre")
    destination = to_python(registration.destination).as_national
    return render(request, "accounts/verify.html", {"form": form, "destination": destination})


@require_POST
def language_set(request):
    """The language switch: Django's own (cookie, redirect), and remembered on the account when signed in."""
    response = set_language(request)
    if request.user.is_authenticated:
        services.user_language_set(user=request.user, language=request.POST.get("language", ""))
    return response


class HeyonLoginView(LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        # Staff start their day at /staff/ (which asks for the second factor when required).
        if self.request.user.is_staff:
            return "/staff/"
        return super().get_default_redirect_url()


class HeyonLogoutView(LogoutView):
    """Sign out, and say so on the page it lands on (a shared phone must show it worked)."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.success(request, _("You have signed out."))
        return response


@require_http_methods(["GET", "POST"])
def login_code_request(request):
    form = LoginCodeRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        phone = form.cleaned_data["phone"]
        try:
            services.login_code_request(phone=phone, ip=client_ip(request))
        except services.CodeError as error:
            form.add_error(None, str(error))
        else:
            request.session[SESSION_LOGIN_CODE_PHONE] = phone.as_e164
            messages.info(
                request, _("If %(phone)s has an account, a sign-in code is on its way.") % {"phone": phone.as_national}
            )
            return redirect("accounts:login_code_verify")
    return render(request, "accounts/login_code_request.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def login_code_verify(request):
    phone = request.session.get(SESSION_LOGIN_CODE_PHONE)
    if not phone:
        return redirect("accounts:login_code_request")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.login_code_sign_in(phone=phone, code=form.cleaned_data["code"])
        except services.CodeError as error:
            form.add_error("code", str(error))
        else:
            del request.session[SESSION_LOGIN_CODE_PHONE]
            login(request, user, backend=BACKEND)
            return redirect("customers:account_centre")
    return render(request, "accounts/login_code_verify.html", {"form": form})


@require_http_methods(["GET", "POST"])
def password_reset_request(request):
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        identifier = form.cleaned_data["identifier"]
        try:
            services.password_reset_request(identifier=identifier, ip=client_ip(request))
        except services.CodeError as error:
            form.add_error(None, str(error))
        else:
            request.session[SESSION_RESET_IDENTIFIER] = identifier
            messages.info(request, _("If an account matches, we sent it a code."))
            return redirect("accounts:password_reset_confirm")
    return render(request, "accounts/password_reset_request.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset_confirm(request):
    identifier = request.session.get(SESSION_RESET_IDENTIFIER)
    if not identifier:
        return redirect("accounts:password_reset")
    form = PasswordResetConfirmForm(request.POST or None, identifier=identifier)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_reset_with_code(
                identifier=identifier, code=form.cleaned_data["code"], new_password=form.cleaned_data["password1"]
            )
        except services.CodeError as error:
            form.add_error("code", str(error))
        else:
            del request.session[SESSION_RESET_IDENTIFIER]
            messages.success(request, _("Your password is changed. Sign in with the new one."))
            return redirect("accounts:login")
    return render(request, "accounts/password_reset_confirm.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def line_add(request):
    form = LineAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            line = services.line_attach(actor=request.user, activation_code=form.cleaned_data["activation_code"])
        except services.LineError as error:
            form.add_error("activation_code", str(error))
        else:
            messages.success(
                request, _("Line %(number)s is now on your account.") % {"number": line.msisdn.as_national}
            )
            return redirect("customers:account_centre")
    return render(request, "accounts/line_add.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def email(request):
    """The account's email, the one waiting for its code, and a form to type a new one."""
    email_form = EmailChangeForm(request.POST or None)
    if request.method == "POST" and email_form.is_valid():
        address = email_form.cleaned_data["email"]
        try:
            services.email_change_request(user=request.user, email=address, ip=client_ip(request))
        except (services.EmailError, services.CodeError) as error:
            email_form.add_error("email", str(error))
        else:
            messages.info(
                request, _("We mailed a code to %(email)s. Type it here to confirm the address.") % {"email": address}
            )
            return redirect("accounts:email")
    return _email_page(request, email_form=email_form, confirm_form=CodeForm())


@login_required
@require_POST
def email_confirm(request):
    confirm_form = CodeForm(request.POST)
    if confirm_form.is_valid():
        try:
            user = services.email_confirm(user=request.user, code=confirm_form.cleaned_data["code"])
        except (services.EmailError, services.CodeError) as error:
            confirm_form.add_error("code", str(error))
        else:
            messages.success(request, _("%(email)s is now your account's email.") % {"email": user.email})
            return redirect("accounts:email")
    return _email_page(request, email_form=EmailChangeForm(), confirm_form=confirm_form)


@login_required
@require_POST
def email_cancel(request):
    """Withdraw the email waiting for its code (a typo, a change of mind)."""
    address = request.user.pending_email
    try:
        services.email_change_cancel(user=request.user)
    except services.EmailError as error:
        messages.error(request, str(error))
    else:
        messages.info(
            request, _("%(email)s is no longer waiting: its code does not work any more.") % {"email": address}
        )
    return redirect("accounts:email")


def _email_page(request, *, email_form, confirm_form):
    return render(request, "accounts/email.html", {"email_form": email_form, "confirm_form": confirm_form})


@require_GET
def service_points(request):
    city = request.GET.get("city", "")
    kind = request.GET.get("kind", "")
    if kind not in ServicePoint.Kind.values:
        kind = ""
    context = {
        "points": selectors.service_points_for_finder(city=city, kind=kind),
        "cities": selectors.service_point_cities(),
        "kinds": ServicePoint.Kind.choices,
        "city": city,
        "kind": kind,
    }
    return render(request, "accounts/service_points.html", context)


@require_GET
@never_cache
def healthz(request):
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - a health check reports, it does not raise
        logger.error("healthz: database check failed: %s", error)
        checks["database"] = "error"
    try:
        default_storage.exists("healthz-probe")
        storage_probe(storages["private"])  # the ID photos' storage; on S3 the bucket itself
        checks["storage"] = "ok"
    except Exception as error:  # noqa: BLE001
        logger.error("healthz: storage check failed: %s", error)
        checks["storage"] = "error"
    if settings.REDIS_URL:
        # Several app servers share the cache and rate limits through Redis, and the
        # worker takes messages from it: a server that cannot reach it is not healthy.
        try:
            timeout = settings.REDIS_SOCKET_TIMEOUT
            client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout)
            try:
                client.ping()
            finally:
                client.close()
            checks["redis"] = "ok"
        except Exception as error:  # noqa: BLE001
            logger.error("healthz: redis check failed: %s", error)
            checks["redis"] = "error"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)
