"""Real-name verification: submissions, their photos, reason codes and the event trail."""

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _


def private_storage():
    """ID photos never live under a public URL: only permission-checked views serve them."""
    return storages["private"]


class ReasonCode(models.Model):
    """Why a submission was rejected, in words the customer reads. Editable in admin."""

    class Kind(models.TextChoices):
        RETRY = "retry", _("Can resubmit")
        FINAL = "final", _("Final (support must lift it)")

    code = models.SlugField(_("code"), max_length=32, unique=True, allow_unicode=False)
    label_zh = models.CharField(_("short label (Chinese)"), max_length=40)
    customer_text_zh = models.CharField(_("customer text (Chinese)"), max_length=300)
    customer_text_en = models.CharField(_("customer text (English)"), max_length=300)
    kind = models.CharField(_("type"), max_length=8, choices=Kind.choices)
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(pgettext_lazy("sort position", "order"), default=100)

    class Meta:
        verbose_name = _("reason code")
        verbose_name_plural = _("reason codes")
        ordering = ["sort_order", "code"]

    def __str__(self):
        return f"{self.code} {self.label_zh}"

    @property
    def is_final(self):
        return self.kind == self.Kind.FINAL

    def customer_text(self, language: str | None = None) -> str:
        language = language or get_language() or "zh-hans"
        return self.customer_text_en if language.startswith("en") else self.customer_text_zh


class Submission(models.Model):
    """One attempt at real-name verification by one customer."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("submission status", "Pending")
        IN_REVIEW = "in_review", _("In review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        # Closed without a decision: replaced by an in-person verification.
        WITHDRAWN = "withdrawn", _("Withdrawn")
        # Approved, then withdrawn by a senior reviewer (e.g. fraud found later).
        REVOKED = "revoked", _("Approval revoked")

    class Channel(models.TextChoices):
        ONLINE = "online", _("Online")
        OFFLINE = "offline", _("At a service point")

    OPEN_STATUSES = (Status.PENDING, Status.IN_REVIEW)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="submissions"
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default=Channel.ONLINE)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempt_number = models.PositiveSmallIntegerField(_("attempt"), default=1)
    full_name = models.CharField(_("full name"), max_length=60)
    id_number_encrypted = models.TextField(editable=False, verbose_name=_("ID number (encrypted)"))
    id_number_masked = models.CharField(_("ID number"), max_length=18)
    id_number_index = models.CharField(max_length=64, db_index=True, editable=False, verbose_name=_("ID number index"))
    contact_phone = models.CharField(_("contact phone"), max_length=20)
    submitted_at = models.DateTimeField(_("submitted at"), default=timezone.now)
    due_at = models.DateTimeField(_("due"))
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("claimed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="claimed_submissions",
    )
    claim_expires_at = models.DateTimeField(_("claim expires"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="decided_submissions",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    reasons = models.ManyToManyField(ReasonCode, verbose_name=_("reasons"), blank=True, related_name="+")
    customer_message = models.TextField(_("message to the customer"), blank=True)
    internal_note = models.TextField(_("internal note"), blank=True)
    flags = models.JSONField(_("flags"), default=dict, blank=True)
    is_flagged = models.BooleanField(_("flagged"), default=False)
    final_block_lifted_at = models.DateTimeField(_("final rejection lifted at"), null=True, blank=True)
    # A reviewer who is unsure hands the submission to the senior reviewers: only they may
    # claim and decide it from then on.
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    escalated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("escalated by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    escalation_note = models.TextField(_("why it was escalated"), blank=True)
    revoked_at = models.DateTimeField(_("approval revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approval revoked by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    service_point = models.ForeignKey(
        "accounts.ServicePoint", verbose_name=_("service point"), on_delete=models.PROTECT, null=True, blank=True
    )

    class Meta:
        verbose_name = _("verification submission")
        verbose_name_plural = _("verification submissions")
        permissions = [
            ("review_submission", _("Can claim and decide verification submissions")),
            ("view_full_id_number", _("Can see full ID numbers")),
            ("lift_final_rejection", _("Can lift a final rejection")),
            ("view_id_photos", _("Can view ID photos")),
            ("verify_in_person", _("Can verify customers in person at a service point")),
            ("decide_escalated", _("Can claim and decide escalated submissions")),
            ("revoke_approval", _("Can revoke an approved verification")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(status__in=["pending", "in_review"]), name="one_open_submission_per_user"
            ),
            models.CheckConstraint(
                condition=~Q(status="in_review") | Q(claimed_by__isnull=False, claim_expires_at__isnull=False),
                name="submission_in_review_is_claimed",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "rejected"])
                | Q(decided_by__isnull=False, decided_at__isnull=False),
                name="submission_decision_has_decider",
            ),
            models.CheckConstraint(
                condition=~Q(status="withdrawn") | Q(decided_at__isnull=False), name="submission_withdrawn_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(status="revoked")
                | Q(decided_by__isnull=False, revoked_by__isnull=False, revoked_at__isnull=False),
                name="submission_revocation_has_revoker",
            ),
            models.CheckConstraint(
                condition=Q(escalated_at__isnull=True) | Q(escalated_by__isnull=False),
                name="submission_escalation_has_escalator",
            ),
            models.UniqueConstraint(fields=["user", "attempt_number"], name="submission_attempt_unique"),
        ]
        indexes = [
            # The queue: open submissions, oldest due first, walked by keyset (due_at, id).
            models.Index(fields=["due_at", "id"], condition=Q(status__in=["pending", "in_review"]), name="queue_due"),
            models.Index(fields=["user", "-attempt_number"], name="submission_history"),
            # The dashboard's 30-day figures read these two without touching the table.
            models.Index(fields=["submitted_at", "channel"], name="submission_submitted"),
            models.Index(
                fields=["decided_at", "status", "decided_by"],
                condition=Q(decided_at__isnull=False),
                name="submission_decided",
            ),
            # Admin's "flagged" filter: about one in a hundred.
            models.Index(fields=["id"], condition=Q(is_flagged=True), name="submission_flagged"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.id_number_masked} ({self.get_status_display()})"

    # What the reviewer reads for each key of ``flags`` (set by services.submission_create).
    FLAG_LABELS = {
        "line_limit": _("Line limit"),
        "duplicate_id": _("Same ID on other accounts"),
        "duplicate_photo": _("Photo used by another account"),
    }

    @property
    def is_open(self):
        return self.status in self.OPEN_STATUSES

    @property
    def is_escalated(self):
        return self.escalated_at is not None

    @property
    def flag_labels(self) -> list:
        return [self.FLAG_LABELS.get(key, key) for key in self.flags or {}]

    @property
    def duplicate_photos(self) -> list:
        """The ``duplicate_photo`` flag with each photo kind as its label."""
        kinds = dict(SubmissionPhoto.Kind.choices)
        return [
            {**item, "label": kinds.get(item.get("kind"), item.get("kind"))}
            for item in (self.flags or {}).get("duplicate_photo", [])
        ]

    def claim_is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return (
            self.status == self.Status.IN_REVIEW and self.claim_expires_at is not None and self.claim_expires_at > now
        )


class SubmissionPhoto(models.Model):
    class Kind(models.TextChoices):
        ID_FRONT = "id_front", _("ID card, front (photo side)")
        ID_BACK = "id_back", _("ID card, back (emblem side)")
        ID_HANDHELD = "id_handheld", _("You holding the ID card")

    submission = models.ForeignKey(
        Submission, on_delete=models.CASCADE, related_name="photos", verbose_name=_("submission")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    image = models.FileField(storage=private_storage, max_length=200, verbose_name=_("image"))
    thumbnail = models.FileField(storage=private_storage, max_length=200, verbose_name=_("thumbnail"))
    width = models.PositiveIntegerField(verbose_name=_("width"))
    height = models.PositiveIntegerField(verbose_name=_("height"))
    original_format = models.CharField(max_length=8, verbose_name=_("original format"))
    original_sha256 = models.CharField(max_length=64, db_index=True, verbose_name=_("SHA-256 of the original"))
    # A 64-bit difference hash in four indexed 16-bit bands (see photos.dhash_bands).
    dhash = models.BigIntegerField(verbose_name=_("difference hash"))
    dhash_band0 = models.PositiveIntegerField(db_index=True, verbose_name=_("difference hash band 0"))
    dhash_band1 = models.PositiveIntegerField(db_index=True, verbose_name=_("difference hash band 1"))
    dhash_band2 = models.PositiveIntegerField(db_index=True, verbose_name=_("difference hash band 2"))
    dhash_band3 = models.PositiveIntegerField(db_index=True, verbose_name=_("difference hash band 3"))
    hints = models.JSONField(default=dict, blank=True, verbose_name=_("hints"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("ID photo")
        verbose_name_plural = _("ID photos")
        constraints = [models.UniqueConstraint(fields=["submission", "kind"], name="one_photo_per_kind")]
        ordering = ["submission", "kind"]

    def __str__(self):
        return f"{self.get_kind_display()} of submission #{self.submission_id}"


class DraftPhoto(models.Model):
    """A photo kept for the customer's verification form while it is not submitted yet.

    One per customer and kind. A form sent back for a mistyped field keeps its photos here
    (re-encoded, in private storage, as a submission's), so that they are not chosen
    again; the submission takes the stored files over. Drafts expire after
    ``SUBMISSION_DRAFT_HOURS`` (``purge_submission_drafts``) and are erased with the
    customer's personal data.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=SubmissionPhoto.Kind.choices)
    image = models.FileField(storage=private_storage, max_length=200, verbose_name=_("image"))
    thumbnail = models.FileField(storage=private_storage, max_length=200, verbose_name=_("thumbnail"))
    width = models.PositiveIntegerField(verbose_name=_("width"))
    height = models.PositiveIntegerField(verbose_name=_("height"))
    original_format = models.CharField(max_length=8, verbose_name=_("original format"))
    original_sha256 = models.CharField(max_length=64, verbose_name=_("SHA-256 of the original"))
    dhash = models.BigIntegerField(verbose_name=_("difference hash"))
    hints = models.JSONField(default=dict, blank=True, verbose_name=_("hints"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        verbose_name = _("draft ID photo")
        verbose_name_plural = _("draft ID photos")
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="one_draft_photo_per_kind")]

    def __str__(self):
        return f"{self.get_kind_display()} kept for customer #{self.user_id}"


class SubmissionEvent(models.Model):
    """Append-only: every transition of a submission (who, when, from, to, reasons, notes)."""

    submission = models.ForeignKey(
        Submission, on_delete=models.CASCADE, related_name="events", verbose_name=_("submission")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    verb = models.CharField(max_length=24, verbose_name=_("verb"))
    from_status = models.CharField(max_length=10, blank=True, verbose_name=_("from status"))
    to_status = models.CharField(max_length=10, blank=True, verbose_name=_("to status"))
    reason_codes = models.JSONField(default=list, blank=True, verbose_name=_("reason codes"))
    customer_message = models.TextField(blank=True, verbose_name=_("customer message"))
    internal_note = models.TextField(blank=True, verbose_name=_("internal note"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("submission event")
        verbose_name_plural = _("submission events")
        ordering = ["created_at", "pk"]
        # Admin's exact search by verb.
        indexes = [models.Index(fields=["verb"], name="submission_event_verb")]

    # What staff read in a submission's history for each ``verb`` (see services.history).
    VERB_LABELS = {
        "submitted": pgettext_lazy("submission event", "Submitted"),
        "claimed": pgettext_lazy("submission event", "Claimed"),
        "released": pgettext_lazy("submission event", "Put back"),
        "lease_expired": pgettext_lazy("submission event", "Claim expired"),
        "approved": pgettext_lazy("submission event", "Approved"),
        "verified_in_person": pgettext_lazy("submission event", "Verified in person at a service point"),
        "rejected": pgettext_lazy("submission event", "Rejected"),
        "withdrawn": pgettext_lazy("submission event", "Withdrawn"),
        "final_block_lifted": pgettext_lazy("submission event", "Final rejection lifted"),
        "escalated": pgettext_lazy("submission event", "Escalated to a senior reviewer"),
        "revoked": pgettext_lazy("submission event", "Approval revoked"),
    }

    def __str__(self):
        return f"{self.verb}: {self.from_status or '–'} → {self.to_status or '–'}"

    @property
    def verb_label(self):
        return self.VERB_LABELS.get(self.verb, self.verb)


class Certificate(models.Model):
    """Proof of an in-person verification: numbered per service point, signed, printable."""

    number = models.CharField(_("certificate number"), max_length=64, unique=True)
    service_point = models.ForeignKey(
        "accounts.ServicePoint", verbose_name=_("service point"), on_delete=models.PROTECT, related_name="certificates"
    )
    sequence = models.PositiveIntegerField(_("sequence"))
    submission = models.OneToOneField(
        Submission, verbose_name=_("verification"), on_delete=models.PROTECT, related_name="certificate"
    )
    line = models.ForeignKey("accounts.Line", verbose_name=_("line"), on_delete=models.PROTECT, related_name="+")
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("issued by"), on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    holder_name_masked = models.CharField(_("holder (masked)"), max_length=60)

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        constraints = [
            models.UniqueConstraint(fields=["service_point", "sequence"], name="certificate_sequence_per_point")
        ]

    def __str__(self):
        return self.number


class PhotoAccess(models.Model):
    """Every time a staff member looks at an ID photo."""

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("staff")
    )
    photo = models.ForeignKey(
        SubmissionPhoto, on_delete=models.SET_NULL, null=True, related_name="accesses", verbose_name=_("photo")
    )
    submission_id_copy = models.BigIntegerField(_("submission"))
    variant = models.CharField(max_length=10, verbose_name=_("variant"))
    ip_address = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("IP address"))
    accessed_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("accessed at"))

    class Meta:
        verbose_name = _("photo access")
        verbose_name_plural = _("photo access log")

    def __str__(self):
        return f"{self.staff} viewed photo {self.photo_id} at {self.accessed_at:%Y-%m-%d %H:%M}"


class CalendarDay(models.Model):
    """A public holiday or an adjusted working weekend day (调休), entered by an administrator.

    ``chinesecalendar`` knows the State Council's calendar only up to the year it was
    released for; each November the next year's is published, and its days are entered
    here until a release with that year is installed. An entered day overrides the library.
    """

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("Holiday (no work)")
        WORKING_DAY = "working_day", _("Working day (adjusted weekend)")

    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=60, blank=True, help_text=_("For example 春节 or 国庆节."))

    class Meta:
        verbose_name = _("holiday or working day")
        verbose_name_plural = _("holidays and working days")
        ordering = ["date"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["holiday", "working_day"]), name="calendar_day_kind")
        ]

    def __str__(self):
        return f"{self.date:%Y-%m-%d} {self.get_kind_display()} {self.name}".rstrip()
