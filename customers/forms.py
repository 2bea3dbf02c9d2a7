from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.forms import MobileNumberField
from customers.models import CancellationRequest, SupportThread


class CancellationForm(forms.Form):
    full_name = forms.CharField(
        label=_("Full name (as verified)"),
        max_length=60,
        help_text=_("The name on your ID card, as in your real-name verification, e.g. 王芳."),
    )
    phone = MobileNumberField(
        label=_("Mobile number"),
        help_text=_("Your account's number or the number being cancelled, e.g. 135 1234 0001."),
    )
    reason = forms.ChoiceField(label=_("Why are you cancelling?"), choices=CancellationRequest.Reason.choices)
    reason_detail = forms.CharField(
        label=_("Anything else we should know? (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class BindingForm(forms.Form):
    """One third-party service still bound to the number (a bank, WeChat, Alipay, …)."""

    name = forms.CharField(label=_("Service bound to this number"), max_length=80, required=False)
    unbound = forms.BooleanField(label=_("I have unbound it from this number"), required=False)

    def __init__(self, *args, number: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        # Each row says which one it is, and what kind of service is meant.
        self.fields["name"].label = _("Service %(n)s bound to this number (optional)") % {"n": number}
        self.fields["name"].widget.attrs["placeholder"] = _("e.g. WeChat, Alipay, a bank app")
        self.number = number

    def clean(self):
        cleaned = super().clean()
        if (cleaned.get("name") or "").strip() and not cleaned.get("unbound"):
            self.add_error(
                "unbound",
                _("Unbind %(name)s from this number first, then tick this box.") % {"name": cleaned["name"].strip()},
            )
        return cleaned


class BaseBindingFormSet(forms.BaseFormSet):
    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "number": (index or 0) + 1}


BindingFormSet = forms.formset_factory(BindingForm, formset=BaseBindingFormSet, extra=3, max_num=10)


class RefundConfirmForm(forms.Form):
    """The customer confirms the amount they were shown; a balance that changed meanwhile is asked again."""

    amount = forms.DecimalField(widget=forms.HiddenInput, max_digits=12, decimal_places=2, min_value=0)
    # Sent by the confirmation page's button (name="confirm" value="yes"): a POST without it
    # (the one-tap button of an older page, a script) refunds nothing and shows the page.
    confirm = forms.BooleanField(widget=forms.HiddenInput)
    next = forms.CharField(widget=forms.HiddenInput, required=False, max_length=500)


class DecisionNoteForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    note = forms.CharField(
        label=_("Note to the customer"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class SupportThreadForm(forms.Form):
    topic = forms.ChoiceField(label=_("Topic"), choices=SupportThread.Topic.choices)
    body = forms.CharField(label=_("Your message"), max_length=2000, widget=forms.Textarea(attrs={"rows": 4}))


class SupportReplyForm(forms.Form):
    body = forms.CharField(label=_("Reply"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class CustomerSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Phone, line, order, receipt or certificate number, ID number or full name"),
        help_text=_("ID numbers and names are found only when typed whole."),
        max_length=64,
    )


class AuditFilterForm(forms.Form):
    staff = forms.CharField(label=_("Staff username"), required=False, max_length=150)
    customer = forms.IntegerField(label=_("Customer id"), required=False, min_value=1)
    target_type = forms.ChoiceField(
        label=_("Record"),
        required=False,
        choices=[
            ("", _("Any")),
            ("accounts.user", _("Customer")),
            ("accounts.line", _("Line")),
            ("reviews.submission", _("Submission")),
            ("billing.order", _("Order")),
            ("customers.cancellationrequest", _("Cancellation request")),
            ("customers.supportthread", _("Support conversation")),
        ],
    )
    target_id = forms.CharField(label=_("Record id"), required=False, max_length=64)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
