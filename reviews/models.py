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
    # Staff find a submission by the whole name (queue, lookup, admin), never by a part of it.
    full_name_index = models.CharField(
        max_length=64, db_index=True, editable=False, blank=True, verbose_name=_("full name index")
    )
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
    # A photo's pre-check left a warning (blurry, dark, glare, …): the queue's "photo hints" filter.
    has_photo_hints = models.BooleanField(_("photo hints"), default=False)
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
    # Four eyes (REVIEW_FINAL_REJECTION_FOUR_EYES): a final rejection is first a proposal,
    # which another senior reviewer confirms or overrules. ``final_rejection_proposal``
    # keeps what was proposed: reason codes, the customer's message, the internal note.
    final_rejection_proposed_at = models.DateTimeField(_("final rejection proposed at"), null=True, blank=True)
    final_rejection_proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("final rejection proposed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    final_rejection_proposal = models.JSONField(_("proposed final rejection"), default=dict, blank=True)

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
            models.CheckConstraint(
                condition=Q(final_rejection_proposed_at__isnull=True, final_rejection_proposed_by__isnull=True)
                | Q(final_rejection_proposed_at__isnull=False, final_rejection_proposed_by__isnull=False),
                name="submission_proposal_has_proposer",
            ),
            # Four eyes: whoever proposed a final rejection never decides that submission.
            models.CheckConstraint(
                condition=Q(final_rejection_proposed_by__isnull=True)
                | Q(decided_by__isnull=True)
                | ~Q(decided_by=models.F("final_rejection_proposed_by")),
                name="submission_proposer_does_not_decide",
            ),
            # Staff may be customers too: nobody decides their own verification.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("user")),
                name="submission_not_decided_by_its_customer",
            ),
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
            # The queue's other two sorts: longest waiting, most attempts.
            models.Index(
                fields=["submitted_at", "id"], condition=Q(status__in=["pending", "in_review"]), name="queue_waiting"
            ),
            models.Index(
                fields=["-attempt_number", "due_at", "id"],
                condition=Q(status__in=["pending", "in_review"]),
                name="queue_attempt",
            ),
            # The queue's "photo hints" filter, whatever share of the queue it selects.
            models.Index(
                fields=["due_at", "id"],
                condition=Q(status__in=["pending", "in_review"], has_photo_hints=True),
                name="queue_hinted",
            ),
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
    def has_final_rejection_proposal(self):
        return self.final_rejection_proposed_at is not None

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
    """A photo kept for a verification form while it is not submitted yet.

    A form is a customer's own online form (``user``), or a clerk's in-person form at a
    desk for one line (``clerk`` and ``line``: the customer being verified may have no
    account yet). One photo per form and kind. A form sent back for a mistyped field keeps
    its photos here (re-encoded, in private storage, as a submission's), so that they are
    not chosen again; the submission takes the stored files over. Drafts expire after
    ``SUBMISSION_DRAFT_HOURS`` (``purge_submission_drafts``) and are erased with the
    customer's personal data.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("customer"),
    )
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("clerk"),
    )
    line = models.ForeignKey(
        "accounts.Line", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("line")
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
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="one_draft_photo_per_kind"),
            models.UniqueConstraint(fields=["clerk", "line", "kind"], name="one_desk_draft_photo_per_kind"),
            # A draft belongs to exactly one form: the customer's, or one clerk's for one line.
            models.CheckConstraint(
                condition=Q(user__isnull=False, clerk__isnull=True, line__isnull=True)
                | Q(user__isnull=True, clerk__isnull=False, line__isnull=False),
                name="draft_photo_belongs_to_one_form",
            ),
        ]

    def __str__(self):
        if self.user_id is None:
            return f"{self.get_kind_display()} kept by clerk #{self.clerk_id} for line #{self.line_id}"
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
        "qc_confirmed": pgettext_lazy("submission event", "Sampled decision confirmed"),
        "qc_overturned": pgettext_lazy("submission event", "Sampled decision overturned"),
        "final_rejection_proposed": pgettext_lazy("submission event", "Final rejection proposed"),
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


class QualitySample(models.Model):
    """A decided submission drawn for a senior reviewer's second look (quality control).

    Drawn when the decision is made (``services.quality.submission_sample_for_quality_check``),
    a share set by ``QC_SAMPLE_SHARE``; a senior confirms the decision or overturns it once.
    """

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("quality sample", "Waiting for a check")
        CONFIRMED = "confirmed", pgettext_lazy("quality sample", "Confirmed")
        OVERTURNED = "overturned", pgettext_lazy("quality sample", "Overturned")

    submission = models.OneToOneField(
        Submission, on_delete=models.CASCADE, related_name="quality_sample", verbose_name=_("submission")
    )
    # The decision drawn, as it was made: the figures count a reviewer's overturned decisions by it.
    decision = models.CharField(_("decision"), max_length=10)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("decided by")
    )
    sampled_at = models.DateTimeField(_("sampled at"), default=timezone.now)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("checked by"),
    )
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("quality sample")
        verbose_name_plural = _("quality samples")
        permissions = [("check_quality_sample", _("Can confirm or overturn sampled decisions"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "confirmed", "overturned"]), name="quality_sample_status"
            ),
            models.CheckConstraint(
                condition=Q(status="pending", checked_by__isnull=True, checked_at__isnull=True)
                | (~Q(status="pending") & Q(checked_by__isnull=False, checked_at__isnull=False)),
                name="quality_sample_checked_has_checker",
            ),
            # Nobody checks their own decision.
            models.CheckConstraint(
                condition=Q(checked_by__isnull=True) | ~Q(checked_by=models.F("decided_by")),
                name="quality_sample_checker_is_not_decider",
            ),
        ]
        indexes = [
            models.Index(fields=["sampled_at", "id"], condition=Q(status="pending"), name="quality_sample_pending"),
            models.Index(fields=["decided_by", "sampled_at"], name="quality_sample_by_reviewer"),
        ]

    def __str__(self):
        return f"{self.get_status_display()}: submission #{self.submission_id}"


class MachineCheck(models.Model):
    """What the machine checks found on one submission's photos: evidence for the reviewer, never a decision.

    Written by ``reviews.services.checks`` only: created ``pending`` with the submission
    (the age, from the typed ID number, is known at once), then filled by a run after the
    submission commits. Read text is personal data: erased with the submission's.
    """

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("machine check status", "Running")
        DONE = "done", pgettext_lazy("machine check status", "Done")
        FAILED = "failed", pgettext_lazy("machine check status", "Could not run")

    class FaceBand(models.TextChoices):
        SAME = "same", _("Same person")
        UNSURE = "unsure", _("Unsure")
        DIFFERENT = "different", _("Different people")
        NOT_FOUND = "not_found", _("No face found")

    class DocumentExpiry(models.TextChoices):
        VALID = "valid", _("Valid")
        LONG_TERM = "long_term", _("Valid without end (长期)")
        EXPIRED = "expired", _("Expired")
        UNREADABLE = "unreadable", _("Validity unreadable")

    # Per-field outcomes in ``fields`` (see reviews.checks.identity).
    OUTCOME_LABELS = {
        "match": _("Matches"),
        "mismatch": _("Differs"),
        "unreadable": _("Unreadable"),
        "read": _("Read"),
    }
    FIELD_LABELS = {
        "name": _("Name"),
        "sex": _("Sex"),
        "ethnicity": _("Ethnicity"),
        "birth_date": _("Birth date"),
        "address": _("Address"),
        "id_number": _("ID number"),
        "authority": _("Issuing authority"),
        "validity": _("Validity period"),
    }
    AGAINST_LABELS = {"typed": _("what the customer typed"), "id_number": _("what the ID number encodes")}
    FACE_NOTE_LABELS = {
        "no_face_on_card": _("no face found on the ID card's front"),
        "no_face_in_handheld": _("no face found in the handheld photo"),
    }
    SIDE_LABELS = {
        "front": _("The ID front photo looks like the back of the card."),
        "back": _("The ID back photo looks like the front of the card."),
    }

    submission = models.OneToOneField(
        Submission, on_delete=models.CASCADE, related_name="machine_check", verbose_name=_("submission")
    )
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PENDING)
    age = models.PositiveSmallIntegerField(_("age at submission"), null=True, blank=True)
    is_underage = models.BooleanField(_("under the minimum age"), default=False)
    fields = models.JSONField(_("fields read"), default=dict, blank=True)
    # How many of ``fields`` differ (outcome "mismatch"): the queue shows and filters on it
    # without reading the fields themselves.
    mismatch_count = models.PositiveSmallIntegerField(_("fields that differ"), default=0)
    sides = models.JSONField(_("sides"), default=dict, blank=True)
    face_distance = models.FloatField(_("face distance"), null=True, blank=True)
    face_band = models.CharField(_("face match"), max_length=10, choices=FaceBand.choices, blank=True)
    face_note = models.CharField(_("face note"), max_length=24, blank=True)
    document_expiry = models.CharField(_("document expiry"), max_length=10, choices=DocumentExpiry.choices, blank=True)
    document_valid_from = models.DateField(_("document valid from"), null=True, blank=True)
    document_valid_until = models.DateField(_("document valid until"), null=True, blank=True)
    timings = models.JSONField(_("timings (seconds)"), default=dict, blank=True)
    # The exception's class only: its message could quote personal data.
    failure = models.CharField(_("failure"), max_length=100, blank=True)
    attempts = models.PositiveSmallIntegerField(_("runs started"), default=0)
    # Set when a run takes the row; another run may take it only once the lease is over.
    started_at = models.DateTimeField(_("run started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("machine check")
        verbose_name_plural = _("machine checks")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "done", "failed"]), name="machine_check_status_known"
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(finished_at__isnull=False), name="machine_check_finished_has_time"
            ),
        ]
        indexes = [
            # The sweep that runs what no thread or task ran: pending rows, oldest first.
            models.Index(fields=["id"], condition=Q(status="pending"), name="machine_check_pending"),
        ]

    def __str__(self):
        return f"machine check of submission #{self.submission_id} ({self.status})"

    @property
    def field_rows(self) -> list[dict]:
        """The fields in the card's order, each with its labels, for the review screen."""
        rows = []
        for key, label in self.FIELD_LABELS.items():
            result = (self.fields or {}).get(key)
            if result is None:
                continue
            rows.append(
                {
                    "key": key,
                    "label": label,
                    "outcome": result.get("outcome", ""),
                    "outcome_label": self.OUTCOME_LABELS.get(result.get("outcome"), result.get("outcome")),
                    "read": result.get("read", ""),
                    "against": self.AGAINST_LABELS.get(result.get("against"), ""),
                }
            )
        return rows

    @property
    def side_warnings(self) -> list:
        return [
            label for side, label in self.SIDE_LABELS.items() if (self.sides or {}).get(side) == "looks_like_other_side"
        ]

    @property
    def face_note_label(self):
        return self.FACE_NOTE_LABELS.get(self.face_note, "")
