"""Register, confirm, sign in (password or SMS code), refresh, revoke, sign out everywhere, reset."""

from django.contrib.auth import authenticate
from django.core import signing
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from phonenumber_field.phonenumber import to_python
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts import services as account_services
from accounts.backends import password_checks_in_turn
from accounts.forms import (
    CodeForm,
    LoginCodeRequestForm,
    PasswordResetConfirmForm,
    PasswordResetRequestForm,
    RegistrationForm,
)
from accounts.http import client_ip
from accounts.phones import normalize_identifier
from accounts.services.codes import ERR_CODE_WRONG
from api import tokens
from api.models import RefreshFamily
from api.problems import Problem
from api.serializers import (
    AcceptedSerializer,
    FormSerializer,
    RegistrationStartedSerializer,
    TokenPairSerializer,
)
from api.views.base import ApiView, PublicApiView, language_chosen_in_header

REGISTRATION_SALT = "api.registration"
REGISTRATION_MAX_AGE = 60 * 60  # a registration waits for its code an hour at most
ERR_SIGN_IN = _("The account or password is wrong. Check them and try again.")
ERR_LOCKED_OUT = _("Too many failed sign-ins. Please wait 15 minutes and try again.")
ERR_SIGN_IN_BUSY = _("Many sign-ins from your network right now. Please wait a few seconds and try again.")


def _registration_token(registration) -> str:
    return signing.dumps({"r": registration.pk}, salt=REGISTRATION_SALT)


def _registration_id(token: str) -> int:
    try:
        return signing.loads(token, salt=REGISTRATION_SALT, max_age=REGISTRATION_MAX_AGE)["r"]
    except (signing.BadSignature, KeyError, TypeError) as error:
        raise account_services.CodeError(ERR_CODE_WRONG) from error


class RegisterSerializer(FormSerializer):
    form_class = RegistrationForm
    phone = serializers.CharField(max_length=32, help_text="Mobile number; China is assumed without +country.")
    email = serializers.EmailField(required=False, allow_blank=True)
    password = serializers.CharField(max_length=128, style={"input_type": "password"})

    def form_data(self, attrs):
        return {
            "phone": attrs["phone"],
            "email": attrs.get("email", ""),
            "password1": attrs["password"],
            "password2": attrs["password"],
        }


class RegisterView(PublicApiView):
    @extend_schema(
        operation_id="register",
        request=RegisterSerializer,
        responses={202: RegistrationStartedSerializer},
        summary="Start a registration: a 6-digit code is texted to the number",
    )
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # The app's language, as the web's page language: the code and every later message
        # are written in it. None named (or none we speak) leaves the site's default.
        registration = account_services.customer_register(
            phone=data["phone"],
            email=data["email"],
            password=data["password1"],
            ip=client_ip(request),
            language=language_chosen_in_header(request.headers.get("Accept-Language", "")),
        )
        # Told by the number typed, never by an account: a taken number is answered alike.
        phone = to_python(registration.destination).as_national
        body = {
            "registration": _registration_token(registration),
            "detail": str(_("We sent a 6-digit code to %(phone)s.") % {"phone": phone}),
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)


class RegistrationCodeSerializer(FormSerializer):
    form_class = CodeForm
    registration = serializers.CharField(max_length=500)
    code = serializers.CharField(max_length=16)

    def form_data(self, attrs):
        return {"code": attrs["code"]}

    def validate(self, attrs):
        cleaned = super().validate(attrs)
        return {**cleaned, "registration": attrs["registration"]}


class RegistrationResendSerializer(serializers.Serializer):
    registration = serializers.CharField(max_length=500)


class RegisterConfirmView(PublicApiView):
    @extend_schema(
        operation_id="register_confirm",
        request=RegistrationCodeSerializer,
        responses={201: TokenPairSerializer},
        summary="Confirm a registration with its code; the account is active and signed in",
    )
    def post(self, request):
        serializer = RegistrationCodeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = account_services.customer_confirm_registration(
            registration_id=_registration_id(serializer.validated_data["registration"]),
            code=serializer.validated_data["code"],
            ip=client_ip(request),
        )
        return Response(tokens.token_pair_issue(user=user, how="registration"), status=status.HTTP_201_CREATED)


class RegisterResendView(PublicApiView):
    @extend_schema(
        operation_id="register_resend",
        request=RegistrationResendSerializer,
        responses={202: RegistrationStartedSerializer},
        summary="Text a registration a new code (once a minute, five an hour)",
    )
    def post(self, request):
        serializer = RegistrationResendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        registration = account_services.registration_code_resend(
            registration_id=_registration_id(serializer.validated_data["registration"]), ip=client_ip(request)
        )
        body = {"registration": _registration_token(registration), "detail": str(_("A new code is on its way."))}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class PasswordSignInSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=254, help_text="Phone number or email.")
    password = serializers.CharField(max_length=128, style={"input_type": "password"})


class TokenView(PublicApiView):
    @extend_schema(
        operation_id="sign_in",
        request=PasswordSignInSerializer,
        responses={200: TokenPairSerializer},
        summary="Sign in with phone number or email and password (lockout as on the web)",
    )
    def post(self, request):
        serializer = PasswordSignInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        django_request = request._request
        # The failures are counted per identifier and per address, as for the web form,
        # and one guess at a time per identifier, and the address's checks in progress
        # (password_checks_in_turn), as there too.
        with password_checks_in_turn(serializer.validated_data["username"], request=django_request):
            user = authenticate(
                django_request,
                username=serializer.validated_data["username"],
                password=serializer.validated_data["password"],
            )
        if getattr(django_request, "axes_locked_out", False):
            # Answered here as a problem; left set, AxesMiddleware would swap in its HTML page.
            django_request.axes_locked_out = False
            if getattr(django_request, "sign_in_busy", False):
                # Nothing failed: more checks at once from this address than its limit (accounts/lockout.py).
                raise Problem(
                    status_code=status.HTTP_429_TOO_MANY_REQUESTS, code="sign_in_busy", detail=ERR_SIGN_IN_BUSY
                )
            raise Problem(status_code=status.HTTP_429_TOO_MANY_REQUESTS, code="locked_out", detail=ERR_LOCKED_OUT)
        if user is None:
            raise Problem(status_code=status.HTTP_401_UNAUTHORIZED, code="sign_in_failed", detail=ERR_SIGN_IN)
        return Response(tokens.token_pair_issue(user=user, how="password"))


class SignInCodeRequestSerializer(FormSerializer):
    form_class = LoginCodeRequestForm
    phone = serializers.CharField(max_length=32)


class SignInCodeView(PublicApiView):
    @extend_schema(
        operation_id="sign_in_code_request",
        request=SignInCodeRequestSerializer,
        responses={202: AcceptedSerializer},
        summary="Text a sign-in code (answered alike whether or not the number has an account)",
    )
    def post(self, request):
        serializer = SignInCodeRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        phone = serializer.validated_data["phone"]
        account_services.login_code_request(phone=phone, ip=client_ip(request))
        detail = _("If %(phone)s has an account, a sign-in code is on its way.") % {"phone": phone.as_national}
        return Response({"detail": str(detail)}, status=status.HTTP_202_ACCEPTED)


class SignInCodeTokenSerializer(FormSerializer):
    form_class = CodeForm
    phone = serializers.CharField(max_length=32)
    code = serializers.CharField(max_length=16)

    def validate(self, attrs):
        cleaned = super().validate(attrs)
        phone = LoginCodeRequestForm(data={"phone": attrs["phone"]})
        if not phone.is_valid():
            raise serializers.ValidationError({"phone": phone.errors["phone"]})
        return {**cleaned, "phone": phone.cleaned_data["phone"]}


class SignInCodeTokenView(PublicApiView):
    @extend_schema(
        operation_id="sign_in_with_code",
        request=SignInCodeTokenSerializer,
        responses={200: TokenPairSerializer},
        summary="Sign in with the texted code",
    )
    def post(self, request):
        serializer = SignInCodeTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = account_services.login_code_sign_in(
            phone=serializer.validated_data["phone"].as_e164, code=serializer.validated_data["code"]
        )
        return Response(tokens.token_pair_issue(user=user, how="sms_code"))


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=2000)


class TokenRefreshView(PublicApiView):
    @extend_schema(
        operation_id="token_refresh",
        request=RefreshSerializer,
        responses={200: TokenPairSerializer},
        summary="Spend a refresh token for a new pair (each refresh token works once)",
    )
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(tokens.token_pair_rotate(refresh=serializer.validated_data["refresh"]))


class TokenRevokeView(ApiView):
    @extend_schema(
        operation_id="token_revoke",
        request=RefreshSerializer,
        responses={204: None},
        summary="Sign this device out: its refresh token stops working",
    )
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tokens.token_revoke(refresh=serializer.validated_data["refresh"], user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SignOutEverywhereView(ApiView):
    @extend_schema(
        operation_id="sign_out_everywhere",
        request=None,
        responses={204: None},
        summary="End every sign-in of this account (refresh tokens at once, access tokens within minutes)",
    )
    def post(self, request):
        tokens.tokens_revoke_all(user=request.user, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetRequestSerializer(FormSerializer):
    form_class = PasswordResetRequestForm
    identifier = serializers.CharField(max_length=254, help_text="Phone number or email.")


class PasswordResetRequestView(PublicApiView):
    @extend_schema(
        operation_id="password_reset_request",
        request=PasswordResetRequestSerializer,
        responses={202: AcceptedSerializer},
        summary="Send a password reset code to the account's phone (or email)",
    )
    def post(self, request):
        serializer = PasswordResetRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account_services.password_reset_request(
            identifier=serializer.validated_data["identifier"], ip=client_ip(request)
        )
        return Response(
            {"detail": str(_("If an account matches, we sent it a code."))}, status=status.HTTP_202_ACCEPTED
        )


class PasswordResetConfirmSerializer(FormSerializer):
    form_class = PasswordResetConfirmForm
    identifier = serializers.CharField(max_length=254)
    code = serializers.CharField(max_length=16)
    new_password = serializers.CharField(max_length=128, style={"input_type": "password"})

    def form_data(self, attrs):
        return {"code": attrs["code"], "password1": attrs["new_password"], "password2": attrs["new_password"]}

    def form_kwargs(self):
        # The new password is compared with the identifier typed, as on the web.
        return {"identifier": str(self.initial_data.get("identifier", ""))}

    def validate(self, attrs):
        cleaned = super().validate(attrs)
        return {**cleaned, "identifier": attrs["identifier"]}


class PasswordResetConfirmView(PublicApiView):
    @extend_schema(
        operation_id="password_reset_confirm",
        request=PasswordResetConfirmSerializer,
        responses={204: None},
        summary="Set a new password with the code; every sign-in of the account ends",
    )
    def post(self, request):
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = account_services.password_reset_with_code(
            identifier=normalize_identifier(data["identifier"]), code=data["code"], new_password=data["password1"]
        )
        tokens.tokens_revoke_all(
            user=user, actor=user, verb="api.password_reset_signed_out", reason=RefreshFamily.EndReason.PASSWORD_RESET
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
