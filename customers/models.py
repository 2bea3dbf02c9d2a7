"""The customer portal's own records: cancellation requests and support conversations.

Their tables kept the names they had when the accounts app held them.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Line, User


class CancellationRequest(models.Model):
    """A customer's request to cancel (注销) one line, decided by support."""

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for support")
        APPROVED = "approved", _("Approved: line cancelled")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Reason(models.TextChoices):
        NO_LONGER_NEEDED = "no_longer_needed", _("I no longer need the number")
        MOVING_ABROAD = "moving_abroad", _("I am moving abroad")
        SWITCHING_OPERATOR = "switching_operator", _("I am switching to another operator")
        COST = "cost", _("It costs too much")
        SERVICE_QUALITY = "service_quality", _("Poor coverage or service")
        OTHER = "other", _("Other")

    line = models.ForeignKey(Line, verbose_name=_("line"), on_delete=models.PROTECT, related_name="cancellations")
    user = models.ForeignKey(User, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="cancellations")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    full_name = models.CharField(_("full name"), max_length=60)
    phone = models.CharField(_("phone"), max_length=20)
    reason = models.CharField(_("reason"), max_length=24, choices=Reason.choices)
    reason_detail = models.TextField(_("details"), blank=True)
    third_party_bindings = models.JSONField(_("services bound to the number"), default=list, blank=True)
    created_at = models.DateTimeField(_("requested at"), default=timezone.now)
    decided_by = models.ForeignKey(
        User, verbose_name=_("decided by"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("note to the customer"), blank=True)

    class Meta:
        db_table = "accounts_cancellationrequest"
        verbose_name = _("cancellation request")
        verbose_name_plural = _("cancellation requests")
        permissions = [("decide_cancellation", _("Can approve or reject cancellation requests"))]
        constraints = [
            models.UniqueConstraint(fields=["line"], condition=Q(status="open"), name="one_open_cancellation_per_line"),
            models.CheckConstraint(
                condition=Q(status__in=["open", "withdrawn"]) | Q(decided_by__isnull=False, decided_at__isnull=False),
                name="cancellation_decision_has_decider",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"{self.line} ({self.get_status_display()})"


class SupportThread(models.Model):
    """A customer's conversation with support (客服留言)."""

    class Topic(models.TextChoices):
        VERIFICATION = "verification", _("Real-name verification")
        RENEWAL = "renewal", _("Renewal and payments")
        CANCELLATION = "cancellation", _("Cancellation")
        OTHER = "other", _("Something else")

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for support")
        ANSWERED = "answered", _("Answered")
        CLOSED = "closed", _("Closed")

    customer = models.ForeignKey(
        User, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="support_threads"
    )
    topic = models.CharField(_("topic"), max_length=16, choices=Topic.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        User, verbose_name=_("assignee"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("opened at"), default=timezone.now)
    waiting_since = models.DateTimeField(_("waiting since"), null=True, blank=True)
    last_message_at = models.DateTimeField(_("last message"), default=timezone.now)

    class Meta:
        db_table = "accounts_supportthread"
        verbose_name = _("support thread")
        verbose_name_plural = _("support threads")
        permissions = [("answer_support", _("Can answer customers' support messages"))]
        indexes = [
            models.Index(fields=["status", "waiting_since"]),
            models.Index(fields=["customer", "-last_message_at"]),
        ]

    def __str__(self):
        return f"#{self.pk} {self.get_topic_display()}"


class SupportMessage(models.Model):
    thread = models.ForeignKey(
        SupportThread, on_delete=models.CASCADE, related_name="messages", verbose_name=_("thread")
    )
    author = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("author"))
    from_staff = models.BooleanField(default=False, verbose_name=_("from staff"))
    body = models.TextField(_("message"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        db_table = "accounts_supportmessage"
        verbose_name = _("support message")
        verbose_name_plural = _("support messages")
        ordering = ["created_at", "pk"]

    def __str__(self):
        return self.body[:40]
