"""People, their lines, service points, one-time codes, audit events and messages."""

from django.apps import apps
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Upper
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from phonenumber_field.modelfields import PhoneNumberField

from accounts import message_kinds


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, *, phone=None, email=None, username=None, password=None, **extra):
        email = self.normalize_email(email) or None
        user = self.model(phone=phone or None, email=email, username=username or None, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, username, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(username=username, password=password, **extra)


def site_languages():
    """The site's languages, read when needed (settings are not read at import time)."""
    return settings.LANGUAGES


class User(AbstractBaseUser, PermissionsMixin):
    """A customer (signs in by phone or email) or a staff member (also by username).

    Customers have no username; staff may have no phone. Real-name status lives here
    as a timestamp so that lines can be activated without asking the reviews app.
    """

    username = models.CharField(
        _("username"),
        max_length=150,
        unique=True,
        null=True,
        blank=True,
        help_text=_("Staff only. Customers sign in with their phone number or email."),
    )
    phone = PhoneNumberField(_("mobile number"), unique=True, null=True, blank=True)
    # The account's email: signs in, gets reset codes and mail. Set only by its owner's proof
    # (``accounts.services.emails``); emails kept from before proofs existed have no
    # ``email_verified_at`` and give way to an account that proves them (docs/DECISIONS.md).
    email = models.EmailField(_("email"), unique=True, null=True, blank=True)
    email_verified_at = models.DateTimeField(_("email confirmed at"), null=True, blank=True)
    # An email typed at registration or in the account, waiting for the code mailed to it.
    # Not unique: anyone may type any address; only the proof decides whose it is.
    pending_email = models.EmailField(_("email waiting for confirmation"), blank=True, default="", db_default="")
    display_name = models.CharField(_("name"), max_length=100, blank=True)
    # The language the person chose with the switch; blank until they do (the site's default).
    # Their messages (inbox, SMS, email) and the pages after they sign in are in it.
    language = models.CharField(_("language"), max_length=8, blank=True, default="", choices=site_languages)
    is_staff = models.BooleanField(_("staff status"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    phone_verified_at = models.DateTimeField(_("phone confirmed at"), null=True, blank=True)
    real_name_verified_at = models.DateTimeField(_("real-name verified at"), null=True, blank=True)
    # The blind index of the ID number the customer was verified with: 一证五号 counts the
    # active lines of every account holding the same one (see ``Identity``).
    identity_index = models.CharField(_("identity index"), max_length=64, blank=True, default="", db_index=True)
    # Set when the customer's last line is cancelled; personal data is erased a retention period later.
    service_ended_at = models.DateTimeField(_("service ended at"), null=True, blank=True)
    personal_data_erased_at = models.DateTimeField(_("personal data erased at"), null=True, blank=True)
    service_point = models.ForeignKey(
        "accounts.ServicePoint",
        verbose_name=_("service point"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
    )

    objects = UserManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=Q(phone__isnull=False) | Q(email__isnull=False) | Q(username__isnull=False),
                name="user_has_a_login",
            ),
            # Sign-in finds an account by its email whatever its case: two accounts must never
            # share one, not even when two registrations confirm it at the same moment.
            models.UniqueConstraint(
                Lower("email"),
                name="user_email_unique_ignoring_case",
                violation_error_message=_("This email is already used by another account."),
            ),
            models.CheckConstraint(
                condition=Q(email_verified_at__isnull=True) | Q(email__isnull=False),
                name="user_email_confirmed_has_email",
            ),
        ]
        # Admin's "staff status" filter: a handful of staff among a million customers.
        indexes = [models.Index(fields=["id"], condition=Q(is_staff=True), name="user_staff")]

    def __str__(self):
        return self.username or (str(self.phone) if self.phone else None) or self.email or f"#{self.pk}"

    @property
    def is_real_name_verified(self):
        return self.real_name_verified_at is not None

    @property
    def message_language(self) -> str:
        """The language this person's messages are written in."""
        return self.language or settings.LANGUAGE_CODE


class Identity(models.Model):
    """One row per verified identity (an ID number's blind index).

    Every service that makes a line active locks this row before it counts the lines of
    the identity's accounts (一证五号), so two activations at once are counted one after
    the other and cannot both pass the limit.
    """

    index = models.CharField(_("identity index"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")

    def __str__(self):
        return f"{self.index[:8]}…"


class ServicePoint(models.Model):
    """A place where people verify in person or renew at the counter."""

    class Kind(models.TextChoices):
        VERIFICATION = "verification", _("Verification point")
        STORE = "store", _("Authorised store")
        BOTH = "both", _("Verification point and store")

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    city = models.CharField(_("city"), max_length=60, db_index=True)
    address = models.CharField(_("address"), max_length=255)
    opening_hours = models.CharField(_("opening hours"), max_length=120)
    phone = models.CharField(_("phone"), max_length=32)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("service point")
        verbose_name_plural = _("service points")
        ordering = ["city", "name"]

    def __str__(self):
        return f"{self.name} ({self.city})"


class Line(models.Model):
    """An eSIM number. Usable only once its owner's real name is verified."""

    class Status(models.TextChoices):
        INACTIVE = "inactive", _("Inactive")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    # Unique among lines in service; a cancelled line's number can be reissued after quarantine.
    msisdn = PhoneNumberField(_("number"))
    iccid = models.CharField(_("ICCID"), max_length=22, unique=True)
    # The activation code itself is never stored: only its keyed hash (to find the line)
    # and its last four characters (so staff and customers can tell codes apart).
    activation_code_hash = models.CharField(
        max_length=64, unique=True, editable=False, verbose_name=_("activation code hash")
    )
    activation_code_hint = models.CharField(_("activation code (last 4)"), max_length=4)
    activation_code_used_at = models.DateTimeField(_("activation code used at"), null=True, blank=True)
    owner = models.ForeignKey(
        User,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="lines",
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.INACTIVE)
    # The plan the line was sold with (a billing plan's code, from the supplier's import):
    # billing starts the line on it at activation. Empty: the DEFAULT_LINE_PLAN setting's.
    plan_code = models.SlugField(_("plan sold with"), max_length=32, blank=True)
    attached_at = models.DateTimeField(_("attached at"), null=True, blank=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    validity_end = models.DateTimeField(_("valid until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("line")
        verbose_name_plural = _("lines")
        constraints = [
            models.UniqueConstraint(
                fields=["msisdn"], condition=~Q(status="cancelled"), name="line_number_unique_in_service"
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False), name="line_cancelled_has_time"
            ),
            models.CheckConstraint(
                condition=Q(status="inactive") | Q(owner__isnull=False),
                name="line_in_service_has_owner",
            ),
            models.CheckConstraint(
                condition=Q(owner__isnull=True) | Q(activation_code_used_at__isnull=False),
                name="line_owner_used_activation_code",
            ),
        ]
        indexes = [models.Index(fields=["owner", "status"]), models.Index(fields=["msisdn"], name="line_msisdn")]

    def __str__(self):
        return str(self.msisdn)

    @property
    def is_waiting_for_verification(self):
        return self.status == self.Status.INACTIVE and self.owner_id is not None


class OneTimeCode(models.Model):
    """A 6-digit code sent by SMS or email. Stored only as a keyed hash."""

    class Purpose(models.TextChoices):
        REGISTER = "register", _("Confirm registration")
        LOGIN = "login", _("Sign in")
        PASSWORD_RESET = "password_reset", _("Reset password")
        EMAIL_CONFIRM = "email_confirm", _("Confirm email")

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("Email")

    purpose = models.CharField(max_length=20, choices=Purpose.choices, verbose_name=_("purpose"))
    channel = models.CharField(max_length=8, choices=Channel.choices, verbose_name=_("channel"))
    destination = models.CharField(max_length=254, help_text=_("E.164 number or email"), verbose_name=_("destination"))
    # No user: a request for a number or email without an account, or a registration of a number
    # that already has one. It is recorded all the same, so that the rate limits, and so the
    # answers, are the same for a known and an unknown destination; its code hash matches nothing.
    user = models.ForeignKey(
        User,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="one_time_codes",
        verbose_name=_("user"),
    )
    code_hash = models.CharField(max_length=64, verbose_name=_("code hash"))
    requested_from_ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("requested from IP"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("used at"))
    failed_attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("failed attempts"))
    # A registration's password (hashed) and email wait on its code and reach the account only
    # when this very code confirms it: someone who registers a number they do not hold can
    # never set the password of that number's account.
    registration_password = models.CharField(
        max_length=128, blank=True, editable=False, verbose_name=_("registration password (hashed)")
    )
    registration_email = models.EmailField(blank=True, editable=False, verbose_name=_("registration email"))

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        indexes = [
            models.Index(fields=["destination", "created_at"]),
            # The limits count an email's codes ignoring case (accounts.services.codes._check_limits).
            models.Index(Upper("destination"), "created_at", name="onetimecode_email_dest_created"),
            models.Index(fields=["requested_from_ip", "created_at"]),
            models.Index(fields=["user", "purpose", "created_at"]),
        ]

    def __str__(self):
        return f"{self.get_purpose_display()} → {self.destination}"


class AuditEvent(models.Model):
    """An append-only record of who changed what. Never updated, never deleted."""

    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("actor")
    )
    verb = models.CharField(max_length=64, db_index=True, verbose_name=_("verb"))
    target_type = models.CharField(max_length=64, verbose_name=_("target type"))
    target_id = models.CharField(max_length=64, verbose_name=_("target ID"))
    subject_user = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events_about",
        help_text=_("The customer whose records this event concerns."),
        verbose_name=_("subject user"),
    )
    data = models.JSONField(default=dict, blank=True, verbose_name=_("data"))
    created_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [
            models.Index(fields=["target_type", "target_id"]),
            # Admin's exact search by target id, whatever its type.
            models.Index(fields=["target_id"], name="audit_target_id"),
        ]

    # What staff read in the audit log for each ``verb``; an unknown verb shows as it is.
    VERB_LABELS = {
        "user.registered": pgettext_lazy("audit event", "Registered"),
        "user.password_reset": pgettext_lazy("audit event", "Password reset"),
        "user.email_change_requested": pgettext_lazy("audit event", "New email waiting for confirmation"),
        "user.email_change_cancelled": pgettext_lazy("audit event", "Email waiting for confirmation cancelled"),
        "user.email_confirmed": pgettext_lazy("audit event", "Email confirmed"),
        "user.email_removed": pgettext_lazy("audit event", "Email removed: confirmed by another account"),
        "user.personal_data_erased": pgettext_lazy("audit event", "Personal data erased"),
        "user.created_at_desk": pgettext_lazy("audit event", "Account created at a service point"),
        "user.real_name_verified": pgettext_lazy("audit event", "Real name verified"),
        "user.real_name_revoked": pgettext_lazy("audit event", "Real-name verification revoked"),
        "staff.saved": pgettext_lazy("audit event", "Staff member saved"),
        "staff.2fa_enrolled": pgettext_lazy("audit event", "Two-factor sign-in set up"),
        "staff.2fa_recovery_code_used": pgettext_lazy("audit event", "Recovery code used"),
        "line.created": pgettext_lazy("audit event", "Line created"),
        "line.attached": pgettext_lazy("audit event", "Line added to an account"),
        "line.activated": pgettext_lazy("audit event", "Line activated"),
        "line.suspended": pgettext_lazy("audit event", "Line suspended"),
        "line.renewed": pgettext_lazy("audit event", "Line renewed"),
        "line.expired": pgettext_lazy("audit event", "Line expired"),
        "line.cancelled": pgettext_lazy("audit event", "Line cancelled"),
        "line.autorenew_on": pgettext_lazy("audit event", "Auto-renew turned on"),
        "line.autorenew_off": pgettext_lazy("audit event", "Auto-renew turned off"),
        "order.paid": pgettext_lazy("audit event", "Order paid"),
        "payment.failure_overturned": pgettext_lazy("audit event", "Payment confirmed after it was recorded as failed"),
        "saved_cards.removed": pgettext_lazy("audit event", "Saved card removed"),
        "plan.version_created": pgettext_lazy("audit event", "New plan version published"),
        "cancellation.requested": pgettext_lazy("audit event", "Cancellation requested"),
        "cancellation.withdrawn": pgettext_lazy("audit event", "Cancellation withdrawn"),
        "cancellation.approved": pgettext_lazy("audit event", "Cancellation approved"),
        "cancellation.rejected": pgettext_lazy("audit event", "Cancellation rejected"),
        "support.thread_opened": pgettext_lazy("audit event", "Support conversation opened"),
        "support.answered": pgettext_lazy("audit event", "Support answered"),
        "support.assigned": pgettext_lazy("audit event", "Support conversation assigned"),
        "support.closed": pgettext_lazy("audit event", "Support conversation closed"),
        "admin.added": pgettext_lazy("audit event", "Added in admin"),
        "admin.changed": pgettext_lazy("audit event", "Changed in admin"),
        "admin.deleted": pgettext_lazy("audit event", "Deleted in admin"),
        "submission.submitted": pgettext_lazy("audit event", "Verification submitted"),
        "submission.claimed": pgettext_lazy("audit event", "Verification claimed for review"),
        "submission.claim_renewed": pgettext_lazy("audit event", "Review claim renewed"),
        "submission.released": pgettext_lazy("audit event", "Verification put back in the queue"),
        "submission.lease_expired": pgettext_lazy("audit event", "Review claim expired"),
        "submission.escalated": pgettext_lazy("audit event", "Verification escalated to a senior reviewer"),
        "submission.approved": pgettext_lazy("audit event", "Verification approved"),
        "submission.rejected": pgettext_lazy("audit event", "Verification rejected"),
        "submission.revoked": pgettext_lazy("audit event", "Verification approval revoked"),
        "submission.final_block_lifted": pgettext_lazy("audit event", "Final rejection lifted"),
        "submission.final_rejection_proposed": pgettext_lazy("audit event", "Final rejection proposed (four eyes)"),
        "submission.withdrawn": pgettext_lazy("audit event", "Verification withdrawn"),
        "submission.verified_in_person": pgettext_lazy("audit event", "Verified in person at a service point"),
        "submission.photo_viewed": pgettext_lazy("audit event", "ID photo viewed"),
        "submission.id_number_viewed": pgettext_lazy("audit event", "Full ID number viewed"),
        "desk_draft_photo.viewed": pgettext_lazy("audit event", "ID photo kept on a desk form viewed"),
        "customer.id_numbers_viewed": pgettext_lazy("audit event", "Customer's full ID numbers viewed"),
    }

    def __str__(self):
        return f"{self.verb} {self.target_type}#{self.target_id}"

    @property
    def verb_label(self):
        return self.VERB_LABELS.get(self.verb, self.verb)

    @property
    def target_label(self) -> str:
        """The record's kind in words (its model's verbose name) and its id."""
        try:
            name = apps.get_model(self.target_type)._meta.verbose_name
        except (LookupError, ValueError):
            name = self.target_type
        return f"{name} #{self.target_id}"


class Notification(models.Model):
    """An in-app message in a customer's inbox: its kind and parameters, rendered when it is read.

    ``subject`` and ``body`` are the message in the active language (see ``accounts.message_kinds``).
    Messages written before kinds existed have no kind and keep the text they were written with.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("user"))
    kind = models.CharField(_("kind"), max_length=64, blank=True, default="")
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    # The finished text of messages written before kinds existed, in the language of that day.
    legacy_subject = models.CharField(_("subject (old message)"), max_length=200, blank=True, db_column="subject")
    legacy_body = models.TextField(_("message (old message)"), blank=True, db_column="body")
    link = models.CharField(_("link"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="notification_unread"),
        ]

    def __str__(self):
        return self.subject

    @cached_property
    def rendered(self):
        rendered = message_kinds.render(self.kind, self.params) if self.kind else None
        return rendered or message_kinds.Rendered(subject=self.legacy_subject, body=self.legacy_body)

    @property
    def subject(self) -> str:
        return self.rendered.subject

    @property
    def body(self) -> str:
        return self.rendered.body


class OutboundMessage(models.Model):
    """An SMS or email waiting to leave, written in the same transaction as its event."""

    # What staff read in place of a one-time code in ``body``.
    CODE_MASK = "••••••"

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("Email")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed (gave up)")

    class Delivery(models.TextChoices):
        DELIVERED = "delivered", _("Delivered")
        UNDELIVERED = "undelivered", _("Not delivered")

    channel = models.CharField(max_length=8, choices=Channel.choices, verbose_name=_("channel"))
    recipient = models.CharField(max_length=254, verbose_name=_("recipient"))
    # The message's kind and parameters (for a provider that sends approved templates) and the
    # language it is written in; ``subject`` and ``body`` are its text in that language.
    kind = models.CharField(max_length=64, blank=True, default="", verbose_name=_("kind"))
    params = models.JSONField(default=dict, blank=True, verbose_name=_("parameters"))
    language = models.CharField(max_length=8, blank=True, default="", verbose_name=_("language"))
    subject = models.CharField(max_length=200, blank=True, verbose_name=_("subject"))
    body = models.TextField(verbose_name=_("body"))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(default=timezone.now, verbose_name=_("next attempt at"))
    claimed_until = models.DateTimeField(null=True, blank=True, verbose_name=_("claimed until"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    # The one-time code this message carries: ``body`` shows it masked (CODE_MASK), and the code is
    # put in only as the message leaves. Never shown to staff (not editable, so no admin form or
    # export has it), and blanked once the message is sent or given up on.
    # A database default too: bulk loads that name their columns (bench/) need not know this one.
    pending_code = models.CharField(
        max_length=16, blank=True, default="", db_default="", editable=False, verbose_name=_("code to send")
    )
    # Messages whose whole text must not outlive their delivery in the database.
    redact_after_send = models.BooleanField(default=False, verbose_name=_("redact after send"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    # What the SMS provider answered: its id for the message (receipts refer to it), and later
    # the receipt saying whether the handset got it.
    provider_message_id = models.CharField(max_length=64, blank=True, default="", verbose_name=_("provider's id"))
    delivery = models.CharField(
        max_length=12, choices=Delivery.choices, blank=True, default="", verbose_name=_("delivery")
    )
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivery reported at"))
    delivery_error = models.CharField(max_length=200, blank=True, default="", verbose_name=_("delivery error"))

    class Meta:
        verbose_name = _("outbound message")
        verbose_name_plural = _("outbound messages")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="outbox_due",
            ),
            # Admin's search for the messages sent to one number or address.
            models.Index(fields=["recipient"], name="outbox_recipient"),
            # A delivery receipt finds its message by the provider's id.
            models.Index(
                fields=["provider_message_id"], condition=~Q(provider_message_id=""), name="outbox_provider_id"
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(status="sent") | Q(sent_at__isnull=False), name="outbox_sent_has_time")
        ]

    def __str__(self):
        return f"{self.channel} → {self.recipient} ({self.status})"


class NumberQuarantine(models.Model):
    """A cancelled number rests before it can be given to someone else."""

    msisdn = PhoneNumberField(_("number"), unique=True)
    until = models.DateTimeField(_("quarantined until"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("quarantined number")
        verbose_name_plural = _("quarantined numbers")

    def __str__(self):
        return f"{self.msisdn} until {self.until:%Y-%m-%d}"


class SmsDailyCount(models.Model):
    """How many SMS one number was sent on one day (Asia/Shanghai), for the per-number daily cap.

    A row in the database so that every app server and worker counts together.
    """

    recipient = models.CharField(_("recipient"), max_length=32)
    day = models.DateField(_("day"))
    count = models.PositiveIntegerField(_("SMS sent"), default=0)

    class Meta:
        verbose_name = _("SMS count of a day")
        verbose_name_plural = _("SMS counts of a day")
        constraints = [models.UniqueConstraint(fields=["recipient", "day"], name="sms_count_one_row_per_day")]
        indexes = [models.Index(fields=["day"], name="sms_count_day")]

    def __str__(self):
        return f"{self.recipient} {self.day}: {self.count}"
