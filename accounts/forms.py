import phonenumbers
from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from accounts.backends import password_checks_in_turn
from accounts.models import User
from accounts.phones import can_receive_sms, normalize_identifier
from accounts.services.codes import ERR_NOT_A_MOBILE_NUMBER

ERR_PASSWORDS_DIFFER = _("The two passwords do not match.")
ERR_PHONE_INVALID = _("Enter a valid mobile number, e.g. 138 0013 8000 or +852 6123 4567.")
ERR_CODE_FORMAT = _("Enter the 6 digits from the message.")


class MobileNumberField(PhoneNumberField):
    default_error_messages = {"invalid": ERR_PHONE_INVALID}

    def __init__(self, **kwargs):
        kwargs.setdefault("region", "CN")
        kwargs.setdefault("widget", forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}))
        super().__init__(**kwargs)


class SmsNumberField(MobileNumberField):
    """A mobile number a code can be texted to: a landline or a toll-free number is refused."""

    def validate(self, value):
        super().validate(value)
        # An invalid number gets the field's "invalid" message from its validators instead.
        if value not in self.empty_values and value.is_valid() and not can_receive_sms(value):
            raise forms.ValidationError(ERR_NOT_A_MOBILE_NUMBER, code="not_mobile")


class SetPasswordMixin:
    """Two password fields checked against each other and Django's validators."""

    def clean_password2(self):
        password1 = self.cleaned_data.get("password1")
        password2 = self.cleaned_data.get("password2")
        if password1 and password2 and password1 != password2:
            raise forms.ValidationError(ERR_PASSWORDS_DIFFER)
        return password2

    def _post_clean(self):
        super()._post_clean()
        password = self.cleaned_data.get("password2")
        if password:
            try:
                password_validation.validate_password(password, self.password_user())
            except forms.ValidationError as error:
                self.add_error("password1", error)

    def password_user(self):
        return None


def _password_fields():
    return (
        forms.CharField(
            label=_("Password"),
            strip=False,
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
            help_text=_("At least 8 characters, not only digits, not a common password."),
        ),
        forms.CharField(
            label=_("Password again"),
            strip=False,
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        ),
    )


class RegistrationForm(SetPasswordMixin, forms.Form):
    phone = SmsNumberField(label=_("Mobile number"))
    email = forms.EmailField(label=_("Email (optional)"), required=False)
    password1, password2 = _password_fields()

    def password_user(self):
        return User(phone=self.cleaned_data.get("phone"), email=self.cleaned_data.get("email") or None)


class CodeForm(forms.Form):
    code = forms.RegexField(
        label=_("Code"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": ERR_CODE_FORMAT},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 6}),
    )

    def clean_code(self):
        return self.cleaned_data["code"].strip()


class PasswordChecksInTurn:
    """For a sign-in form: its password check and the lockout's count run one at a time per identifier."""

    def clean(self):
        with password_checks_in_turn(self.cleaned_data.get("username") or "", request=self.request):
            return super().clean()


class LoginForm(PasswordChecksInTurn, AuthenticationForm):
    error_messages = {
        "invalid_login": _("The account or password is wrong. Check them and try again."),
        "inactive": _("This account is not confirmed yet. Register again to get a new code."),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Phone number, email or staff username")
        self.fields["username"].widget.attrs.update({"autocomplete": "username"})
        self.fields["password"].label = _("Password")


class AdminLoginForm(PasswordChecksInTurn, AdminAuthenticationForm):
    """Django admin's sign-in form, checking one password at a time per identifier like ours."""


class LoginCodeRequestForm(forms.Form):
    phone = SmsNumberField(label=_("Mobile number"))


class PasswordResetRequestForm(forms.Form):
    identifier = forms.CharField(label=_("Mobile number or email"), max_length=254)

    def clean_identifier(self):
        # A phone number gets its code by SMS: one that cannot take an SMS is refused here, whether
        # or not it has an account, so the answer tells nothing about accounts.
        identifier = self.cleaned_data["identifier"]
        if "@" not in identifier:
            try:
                number = phonenumbers.parse(identifier.strip(), settings.PHONENUMBER_DEFAULT_REGION)
            except phonenumbers.NumberParseException:
                return identifier
            if phonenumbers.is_valid_number(number) and not can_receive_sms(number):
                raise forms.ValidationError(ERR_NOT_A_MOBILE_NUMBER, code="not_mobile")
        return identifier


class PasswordResetConfirmForm(SetPasswordMixin, CodeForm):
    password1, password2 = _password_fields()

    def __init__(self, *args, identifier: str = "", **kwargs):
        self.identifier = identifier
        super().__init__(*args, **kwargs)

    def password_user(self):
        # The new password is compared with what the person typed to find the account, never
        # with the account found: "too similar to the email" (or a staff username) would
        # otherwise come up only when that account exists, before any code is checked.
        identifier = normalize_identifier(self.identifier)
        if "@" in identifier:
            return User(email=identifier)
        if identifier.startswith("+"):
            return User(phone=identifier)
        return User(username=identifier)


class EmailChangeForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        help_text=_("We mail a code to it; the address becomes your account's email once you type the code."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class LineAddForm(forms.Form):
    activation_code = forms.CharField(
        label=_("Activation code"),
        max_length=32,
        help_text=_("The code in the message you received when you bought the line, e.g. ABCD-EFGH-JKMN-PQRS."),
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off"}),
    )
