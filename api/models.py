"""What the API itself stores: the Idempotency-Key records of the app's writes, the sign-ins (refresh families)."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class IdempotencyKey(models.Model):
    """One app request that moved money or created something, under the key the app chose.

    The row is written before the request runs (``in_progress``); a second request with the
    same key cannot insert it (the unique constraint), so it never runs the action again: it
    gets the first response replayed once that is stored, or a "still running" problem.
    """

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("in progress")
        DONE = "done", _("done")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    key = models.CharField(_("key"), max_length=255)
    request_fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    response_body = models.BinaryField(_("response body"), default=bytes, editable=False)
    response_content_type = models.CharField(_("response content type"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    locked_at = models.DateTimeField(_("running since"), default=timezone.now)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="api_idempotency_key_once_per_user"),
            models.CheckConstraint(
                condition=models.Q(status="in_progress") | models.Q(response_status__isnull=False),
                name="api_idempotency_done_has_response",
            ),
        ]

    def __str__(self):
        return f"{self.user_id}:{self.key}"


class RefreshFamily(models.Model):
    """One sign-in of the app: every refresh token rotated from it carries this id (``family`` claim).

    simplejwt's blacklist knows single tokens; this row lets a sign-in end as a whole. A spent
    token presented again means two parties held it, so the family ends and the token the
    first rotation handed out dies with it (OAuth 2.0 Security BCP, refresh token reuse).
    """

    class EndReason(models.TextChoices):
        REUSED = "reused", _("a spent refresh token was used again")
        SIGNED_OUT = "signed_out", _("signed out on this device")
        SIGNED_OUT_EVERYWHERE = "signed_out_everywhere", _("signed out everywhere")
        PASSWORD_RESET = "password_reset", _("password reset")
        ENDED_BY_STAFF = "ended_by_staff", _("ended by an administrator")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # When its newest refresh token expires: past it, no token of the family can be used and
    # the row may go (a token whose family row is missing is refused).
    expires_at = models.DateTimeField(_("expires at"), db_index=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    end_reason = models.CharField(_("why it ended"), max_length=24, choices=EndReason.choices, blank=True)

    class Meta:
        verbose_name = _("app sign-in")
        verbose_name_plural = _("app sign-ins")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True, end_reason="")
                | (models.Q(ended_at__isnull=False) & ~models.Q(end_reason="")),
                name="api_refresh_family_ended_with_reason",
            ),
        ]

    def __str__(self):
        return f"{self.user_id}:{self.pk}"
