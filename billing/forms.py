import uuid
from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from accounts.forms import MobileNumberField
from billing.models import LineService, Payment
from billing.selectors import plan_on_sale_for_line, plans_on_sale, renewable_lines


def _term_choices():
    return [
        (months, ngettext_lazy("%(n)s month", "%(n)s months", "n") % {"n": months})
        for months in settings.RENEWAL_TERMS_MONTHS
    ]


class IdempotentForm(forms.Form):
    """Carries a key made when the form was shown: a double submit repeats the same request."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)


class RenewalForm(IdempotentForm):
    line = forms.ModelChoiceField(label=_("Line"), queryset=None, empty_label=None)
    plan = forms.ModelChoiceField(label=_("Plan"), queryset=None, empty_label=None, widget=forms.RadioSelect)
    term_months = forms.TypedChoiceField(label=_("Term"), coerce=int, choices=())

    def __init__(self, *args, user, line_hint: str | None = None, **kwargs):
        """``line_hint`` is the line a link chose (``?line=``); unbound, the form starts on it,
        or on the first line, with the plan that line is on (a renewal usually keeps it)."""
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = renewable_lines(user=user)
        self.fields["line"].label_from_instance = lambda line: line.msisdn.as_national
        self.fields["plan"].queryset = plans_on_sale()
        self.fields["plan"].label_from_instance = lambda plan: (
            _("%(name)s · ¥%(price)s/month · %(data)s GB · %(minutes)s min")
            % {
                "name": plan.name,
                "price": plan.monthly_price,
                "data": plan.data_mb // 1024,
                "minutes": plan.voice_minutes,
            }
        )
        self.fields["term_months"].choices = _term_choices()
        if not self.is_bound:
            self._start_on_line(line_hint)

    def _start_on_line(self, line_hint: str | None) -> None:
        lines = self.fields["line"].queryset
        line_id = lines.filter(pk=line_hint).values_list("pk", flat=True).first() if str(line_hint).isdigit() else None
        if line_id is None:
            line_id = lines.values_list("pk", flat=True).first()
        if line_id is None:
            return
        self.initial["line"] = line_id
        plan = plan_on_sale_for_line(line_id=line_id)
        if plan is not None:
            self.initial["plan"] = plan.pk


class PayForm(forms.Form):
    method = forms.ChoiceField(label=_("Pay with"), widget=forms.RadioSelect, choices=())
    card_number = forms.CharField(label=_("Card number"), required=False, max_length=23)
    card_expiry = forms.CharField(label=_("Expiry (MM/YY)"), required=False, max_length=5)
    card_cvc = forms.CharField(label=_("Security code"), required=False, max_length=4)
    save_card = forms.BooleanField(label=_("Remember this card for auto-renew"), required=False)

    def __init__(self, *args, allow_wallet: bool, wallet_covers: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the methods a provider takes here (card payments wait for an acquirer in production).
        methods = [
            method
            for method in (Payment.Method.ALIPAY, Payment.Method.WECHAT, Payment.Method.CARD)
            if method in settings.PAYMENT_METHOD_GATEWAYS
        ]
        if allow_wallet:
            methods.insert(0, Payment.Method.WALLET)
        self.fields["method"].choices = [(m.value, m.label) for m in methods]
        # One method is always chosen: the wallet when it can pay the whole order, else Alipay.
        preselected = Payment.Method.WALLET if allow_wallet and wallet_covers else Payment.Method.ALIPAY
        self.fields["method"].initial = preselected.value
        for name in ("card_number", "card_expiry", "card_cvc"):
            self.fields[name].widget.attrs.update({"autocomplete": "off", "inputmode": "numeric"})

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("method") == Payment.Method.CARD:
            digits = "".join(ch for ch in cleaned.get("card_number", "") if ch.isdigit())
            if not 12 <= len(digits) <= 19:
                self.add_error("card_number", _("Enter the card number (12 to 19 digits)."))
            expiry = cleaned.get("card_expiry", "")
            if (
                len(expiry) != 5
                or expiry[2] != "/"
                or not (expiry[:2] + expiry[3:]).isdigit()
                or not 1 <= int(expiry[:2]) <= 12
            ):
                self.add_error("card_expiry", _("Enter the expiry as MM/YY."))
            if not cleaned.get("card_cvc", "").isdigit():
                self.add_error("card_cvc", _("Enter the 3 or 4 digits on the back of the card."))
        return cleaned

    def card(self):
        return {
            "number": self.cleaned_data.get("card_number", ""),
            "expiry": self.cleaned_data.get("card_expiry", ""),
            "save": self.cleaned_data.get("save_card"),
        }


class TopUpForm(IdempotentForm):
    """A typed amount, or one of the quick-amount buttons.

    The page is one form, so a tapped button arrives together with the typed field,
    usually empty (``quick_amount=100&amount=``): the buttons have a name of their own and
    the one tapped wins over whatever is typed, since tapping it is the customer's last act.
    Pressing Enter in the typed field submits with the form's first button, "Continue",
    which carries no amount: then the typed one counts.
    """

    QUICK_AMOUNTS = (50, 100, 200)

    amount = forms.DecimalField(
        label=_("Top-up amount (¥)"),
        min_value=Decimal("1"),
        max_value=Decimal(settings.TOP_UP_MAX),
        decimal_places=2,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01", "min": "1"}),
        error_messages={"required": _("Type an amount, or tap one of the amounts below.")},
    )

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and (data.get("quick_amount") or "").strip():
            # The tapped button's amount goes through the typed field's own checks (¥1 to the maximum).
            data = data.copy()
            data["amount"] = data["quick_amount"].strip()
        super().__init__(data, *args, **kwargs)


class AutoRenewForm(forms.Form):
    enabled = forms.BooleanField(required=False)
    method = forms.ChoiceField(choices=LineService.AutoRenewMethod.choices)
    term_months = forms.TypedChoiceField(coerce=int, choices=())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["term_months"].choices = _term_choices()


class StoreLookupForm(forms.Form):
    msisdn = MobileNumberField(label=_("Line number"))


class StoreRenewalForm(IdempotentForm):
    msisdn = forms.CharField(widget=forms.HiddenInput)
    id_number = forms.CharField(label=_("Customer's ID number (from the card)"), max_length=22)
    plan = forms.ModelChoiceField(label=_("Plan"), queryset=None, empty_label=None, widget=forms.RadioSelect)
    term_months = forms.TypedChoiceField(label=_("Term"), coerce=int, choices=())
    method = forms.ChoiceField(
        label=_("Payment taken"),
        widget=forms.RadioSelect,
        choices=[(m.value, m.label) for m in (Payment.Method.STORE_CASH, Payment.Method.STORE_CARD)],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = plans_on_sale()
        self.fields["plan"].label_from_instance = lambda plan: f"{plan.name} · ¥{plan.monthly_price}"
        self.fields["term_months"].choices = _term_choices()
