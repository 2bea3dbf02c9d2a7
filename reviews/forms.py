from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.choices import BaseChoiceIterator
from django.utils.translation import gettext_lazy as _

from accounts.forms import MobileNumberField
from reviews import photos, selectors
from reviews.models import SubmissionPhoto
from reviews.services.errors import ERR_LINE_LIMIT_ONLY_REJECT
from reviews.validators import check_self_registration_age, clean_full_name, clean_resident_id

PHOTO_ACCEPT = "image/jpeg,image/png,image/webp,image/heic,image/heif,.heic,.heif"


class PhotoField(forms.FileField):
    """A photo upload run through the pipeline; cleaned value is a ProcessedPhoto.

    The field itself only checks that a file came; the form decodes it (``decode``,
    ``KeepsPhotosForm``).
    """

    def __init__(self, *, kind, **kwargs):
        self.kind = kind
        kwargs.setdefault("widget", forms.ClearableFileInput(attrs={"accept": PHOTO_ACCEPT, "data-photo-kind": kind}))
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        return super().clean(data, initial) or None  # None: an optional photo left empty

    def decode(self, upload):
        try:
            return photos.process_photo(upload, kind=self.kind)
        except photos.PhotoRejected as error:
            raise ValidationError(str(error), code="photo") from error


class KeepsPhotosForm(forms.Form):
    """A verification form whose photos are kept server-side between a send-back and the submission.

    Every photo chosen is decoded even when a typed field is wrong: the view keeps the
    decoded photos (``draft_photo_keep`` online, ``desk_draft_photo_keep`` at a desk), so a
    mistyped ID number never costs the photos. ``kept`` names the kinds the form already
    keeps: those need no new upload, and a new one replaces them.
    """

    PHOTO_FIELDS = ("id_front", "id_back", "id_handheld")

    def __init__(self, *args, kept=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.mark_kept(kept)

    def mark_kept(self, kinds) -> None:
        """The photos of ``kinds`` are kept: each needs no upload, and one chosen replaces it.

        Called again once the photos of a sent-back form are kept, so that the page shows them so.
        """
        for name in self.PHOTO_FIELDS:
            field = self.fields[name]
            if field.kind in kinds:
                field.required = False
                field.label = _("Replace it with a new photo (optional)")
                self[name].label = field.label  # a bound field, once made, keeps the label it was made with

    def clean(self):
        cleaned = super().clean()
        for name in self.PHOTO_FIELDS:
            if cleaned.get(name) is not None:
                try:
                    cleaned[name] = self.fields[name].decode(cleaned[name])
                except ValidationError as error:
                    self.add_error(name, error)
        return cleaned

    def decoded_photos(self) -> dict:
        """The photos chosen on this request that decoded well, by kind (even if the form is invalid)."""
        data = getattr(self, "cleaned_data", {})
        return {
            self.fields[name].kind: data[name]
            for name in self.PHOTO_FIELDS
            if isinstance(data.get(name), photos.ProcessedPhoto)
        }


class SubmissionForm(KeepsPhotosForm):
    """The online verification form; its kept photos are the customer's drafts or a rejected attempt's."""

    full_name = forms.CharField(label=_("Full name (as on the ID card)"), max_length=60)
    id_number = forms.CharField(
        label=_("Resident ID number"),
        max_length=22,
        help_text=_("18 characters: 17 digits and a last digit or X. It is checked as you type."),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "inputmode": "text",
                "autocapitalize": "characters",
                "data-resident-id": "",
            }
        ),
    )
    contact_phone = MobileNumberField(label=_("Contact phone"))
    id_front = PhotoField(kind=SubmissionPhoto.Kind.ID_FRONT, label=_("ID card, front (photo side)"))
    id_back = PhotoField(kind=SubmissionPhoto.Kind.ID_BACK, label=_("ID card, back (emblem side)"))
    id_handheld = PhotoField(
        kind=SubmissionPhoto.Kind.ID_HANDHELD, label=_("You holding the ID card next to your face")
    )

    def __init__(self, *args, kept=(), **kwargs):
        super().__init__(*args, kept=kept, **kwargs)
        for name in self.PHOTO_FIELDS:
            self.fields[name].error_messages["required"] = _("Choose a photo for this one.")

    def clean_full_name(self):
        return clean_full_name(self.cleaned_data["full_name"])

    def clean_id_number(self):
        number = clean_resident_id(self.cleaned_data["id_number"])
        # Online self-registration only; at a desk a clerk sees the person (InPersonVerificationForm).
        check_self_registration_age(number, minimum=settings.MIN_SELF_REGISTRATION_AGE)
        return number


class PrecheckForm(forms.Form):
    kind = forms.ChoiceField(choices=SubmissionPhoto.Kind.choices)
    photo = forms.FileField(allow_empty_file=True)  # the pipeline explains an empty file itself


class _ActiveReasonChoices(BaseChoiceIterator):
    """The active reason codes, read once when first needed: a posted approval never needs them."""

    def __init__(self):
        self._choices = None

    def __iter__(self):
        if self._choices is None:
            self._choices = [
                (reason.code, f"{reason.code} · {reason.customer_text()}") for reason in selectors.active_reason_codes()
            ]
        return iter(self._choices)


class _ReasonsAndMessagesForm(forms.Form):
    """Reason codes (the active ones), the message the customer reads and a staff-only note."""

    reason_codes = forms.MultipleChoiceField(
        label=_("Reasons"), required=False, widget=forms.CheckboxSelectMultiple, choices=()
    )
    customer_message = forms.CharField(
        label=_("Message to the customer (optional)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    note = forms.CharField(
        label=_("Internal note (staff only)"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason_codes"].choices = _ActiveReasonChoices()


# Messages a reviewer can insert into the customer's message with one click (the picker's
# "templates"); they add to the reasons' own texts, which the customer reads anyway.
MESSAGE_TEMPLATES = (
    (
        _("Retake in even light"),
        _("Please photograph the card in even daylight, without flash, on a plain background."),
    ),
    (_("Whole card"), _("Please make sure all four corners of the card are inside the photo and nothing covers it.")),
    (
        _("Handheld photo"),
        _("Please hold the card next to your face, photo side to the camera, with both your face and the card sharp."),
    ),
    (_("Original card"), _("Please photograph the original card itself, not a copy, a scan or a screen.")),
    (
        _("Visit a service point"),
        _("Please visit one of our service points with your ID card; we will verify you there."),
    ),
)


class DecisionForm(_ReasonsAndMessagesForm):
    """Approve, or reject with reasons; a risky decision carries a confirmation that names the risk.

    Given the submission (``submission``, its flags as they stand today) and the reason codes
    (``reasons``: code → ReasonCode, active or not), the form requires:

    - approving a flagged submission: a confirmation of every flag (``flag:<key>``);
    - rejecting with a final reason: a confirmation of every final reason (``reason:<code>``),
      except LINE_LIMIT where the line-limit flag stands (counted, not judged);
    - over the line limit: a rejection with LINE_LIMIT alone.

    The review screen's script asks for the confirmation in a dialog; the server decides.
    """

    decision = forms.ChoiceField(
        label=_("Decision"), choices=[("approve", _("Approve")), ("reject", _("Reject"))], widget=forms.RadioSelect
    )
    # Ticked on the review screen: a reviewer working the queue goes from one decision
    # straight to the next submission (one request instead of deciding, then claiming).
    # Left out of a POST (an older page, a script), the reviewer lands back on the queue.
    take_next = forms.BooleanField(label=_("Then take the next submission"), required=False, initial=True)
    confirm = forms.MultipleChoiceField(
        label=_("I have looked twice and confirm"), required=False, widget=forms.CheckboxSelectMultiple, choices=()
    )
    field_order = ["decision", "reason_codes", "customer_message", "note", "take_next", "confirm"]

    def __init__(self, *args, submission=None, reasons: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.submission = submission
        self.reasons = reasons
        if reasons is not None:
            active = [reason for reason in reasons.values() if reason.is_active]
            self.fields["reason_codes"].choices = [
                (reason.code, f"{reason.code} · {reason.customer_text()}") for reason in active
            ]
        self.fields["confirm"].choices = self.confirmation_choices()
        if self.line_limit:
            self.initial.setdefault("decision", "reject")

    @property
    def flags(self) -> dict:
        return (self.submission.flags or {}) if self.submission is not None else {}

    @property
    def line_limit(self) -> bool:
        return bool(self.flags.get("line_limit"))

    def flag_items(self) -> list[tuple[str, str]]:
        """The flags an approval must confirm: ``(flag:<key>, label)``."""
        labels = type(self.submission).FLAG_LABELS if self.submission is not None else {}
        return [(f"flag:{key}", str(labels.get(key, key))) for key in self.flags if key != "line_limit"]

    def final_reason_items(self) -> list[tuple[str, str]]:
        """The final reasons a rejection must confirm: ``(reason:<code>, label)``."""
        items = []
        for reason in (self.reasons or {}).values():
            if reason.is_final and reason.is_active and not (self.line_limit and reason.code == "LINE_LIMIT"):
                items.append((f"reason:{reason.code}", f"{reason.code} · {reason.label_zh}"))
        return items

    def confirmation_choices(self):
        return self.flag_items() + self.final_reason_items()

    def required_confirmations(self, decision: str, codes) -> list[tuple[str, str]]:
        """What this decision must confirm, as ``(value, label)``."""
        if decision == "approve":
            return self.flag_items()
        wanted = {f"reason:{code}" for code in codes}
        return [item for item in self.final_reason_items() if item[0] in wanted]

    def clean(self):
        cleaned = super().clean()
        decision = cleaned.get("decision")
        codes = cleaned.get("reason_codes") or []
        if decision == "reject" and not codes:
            self.add_error("reason_codes", _("Choose at least one reason to reject."))
        if self.line_limit and decision == "approve":
            self.add_error("decision", ERR_LINE_LIMIT_ONLY_REJECT)
        elif self.line_limit and decision == "reject" and codes and list(codes) != ["LINE_LIMIT"]:
            self.add_error("reason_codes", ERR_LINE_LIMIT_ONLY_REJECT)
        if decision and not self.errors:
            missing = [
                label
                for value, label in self.required_confirmations(decision, codes)
                if value not in (cleaned.get("confirm") or [])
            ]
            if missing:
                self.missing_confirmations = missing
                self.add_error(
                    "confirm",
                    _("Confirm before recording: %(items)s.") % {"items": "; ".join(missing)},
                )
        return cleaned


class EscalationForm(forms.Form):
    note = forms.CharField(
        label=_("What should the senior reviewer look at?"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Say what the senior reviewer should look at.")},
    )


class RevocationForm(_ReasonsAndMessagesForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        reasons = self.fields["reason_codes"]
        reasons.required = True
        reasons.error_messages["required"] = _("Choose at least one reason to revoke.")
        # The review screen has the decision form's reason boxes too: keep the ids apart.
        reasons.widget.attrs["id"] = "revoke-reason"


class DeskLookupForm(forms.Form):
    activation_code = forms.CharField(
        label=_("Activation code"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "autofocus": True}),
    )


class InPersonVerificationForm(KeepsPhotosForm):
    """The clerk's form at a desk; its kept photos are this clerk's drafts for this line (all optional)."""

    # What the kept photo is, as a clerk says it (the customer-facing names speak to the customer).
    KEPT_NAMES = {
        SubmissionPhoto.Kind.ID_FRONT: _("ID card, front (photo side)"),
        SubmissionPhoto.Kind.ID_BACK: _("ID card, back (emblem side)"),
        SubmissionPhoto.Kind.ID_HANDHELD: _("Photo of the customer"),
    }

    activation_code = forms.CharField(widget=forms.HiddenInput, max_length=32)
    full_name = forms.CharField(label=_("Full name (from the ID card)"), max_length=60)
    id_number = forms.CharField(label=_("Resident ID number (from the ID card)"), max_length=22)
    customer_phone = MobileNumberField(label=_("Customer's mobile number"))
    id_front = PhotoField(kind=SubmissionPhoto.Kind.ID_FRONT, label=_("Photo of the front (optional)"), required=False)
    id_back = PhotoField(kind=SubmissionPhoto.Kind.ID_BACK, label=_("Photo of the back (optional)"), required=False)
    id_handheld = PhotoField(
        kind=SubmissionPhoto.Kind.ID_HANDHELD, label=_("Photo of the customer (optional)"), required=False
    )
    card_checked = forms.BooleanField(
        label=_("I have seen the original ID card and the person matches its photo"), required=True
    )

    def clean_full_name(self):
        return clean_full_name(self.cleaned_data["full_name"])

    def clean_id_number(self):
        return clean_resident_id(self.cleaned_data["id_number"])


class CertificateCheckForm(forms.Form):
    number = forms.CharField(label=_("Certificate number"), max_length=64)


class QualityCheckForm(_ReasonsAndMessagesForm):
    """A senior's verdict on a sampled decision; overturning an approval needs reasons (it is revoked)."""

    outcome = forms.ChoiceField(
        label=_("The decision was"),
        choices=[("confirm", _("Right: confirm it")), ("overturn", _("Wrong: overturn it"))],
        widget=forms.RadioSelect,
    )
    field_order = ["outcome", "reason_codes", "customer_message", "note"]
