"""Erasure of personal data after the retention period, keeping what billing law needs."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import (
    CancellationRequest,
    Line,
    Notification,
    OneTimeCode,
    OutboundMessage,
    User,
)

from .audit import audit_record
from .messages import REDACTED


def users_due_for_erasure(*, now: datetime, limit: int = 200) -> list[int]:
    cutoff = now - timedelta(days=settings.PERSONAL_DATA_RETENTION_DAYS)
    return list(
        User.objects.filter(
            is_staff=False,
            personal_data_erased_at__isnull=True,
            service_ended_at__isnull=False,
            service_ended_at__lt=cutoff,
        )
        .exclude(lines__status__in=[s for s in Line.Status.values if s != Line.Status.CANCELLED])
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def user_erase_personal_data(*, user_id: int, now: datetime) -> dict | None:
    """Erase one customer's personal data. None when another worker holds them or it is done already.

    Kept: the account row (anonymous), lines, orders, payments, receipts, ledger and usage
    (amounts, dates, numbers), and the verification decisions without their content.
    """
    from reviews.services import submissions_erase_personal_data

    lock = {"skip_locked": True} if connection.features.has_select_for_update_skip_locked else {}
    with transaction.atomic():
        user = User.objects.select_for_update(**lock).filter(pk=user_id, personal_data_erased_at__isnull=True).first()
        if user is None:
            return None
        contacts = [value for value in (str(user.phone) if user.phone else None, user.email) if value]
        report = submissions_erase_personal_data(user_id=user.pk)
        report["notifications"] = Notification.objects.filter(user=user).delete()[0]
        report["codes"] = OneTimeCode.objects.filter(user=user).delete()[0]
        report["outbound_messages"] = OutboundMessage.objects.filter(recipient__in=contacts).update(
            recipient="erased", body=REDACTED, subject=""
        )
        CancellationRequest.objects.filter(user=user).update(
            full_name="", phone="", reason_detail="", third_party_bindings=[]
        )
        user.username = f"erased-{user.pk}"
        user.phone = None
        user.email = None
        user.display_name = ""
        user.is_active = False
        user.set_unusable_password()
        user.personal_data_erased_at = now
        user.save()
        audit_record(actor=None, verb="user.personal_data_erased", target=user, subject_user=user, data=report)
    return report


def personal_data_purge(*, now: datetime | None = None) -> dict:
    """Erase every customer whose service ended more than PERSONAL_DATA_RETENTION_DAYS ago.

    Idempotent and safe on several machines at once: each customer is locked with SKIP
    LOCKED and marked erased in the same transaction.
    """
    now = now or timezone.now()
    totals = {"users": 0, "submissions": 0, "photos": 0, "notifications": 0}
    seen: set[int] = set()
    while True:
        batch = [user_id for user_id in users_due_for_erasure(now=now) if user_id not in seen]
        if not batch:
            break
        for user_id in batch:
            seen.add(user_id)
            report = user_erase_personal_data(user_id=user_id, now=now)
            if report is None:
                continue
            totals["users"] += 1
            for key in ("submissions", "photos", "notifications"):
                totals[key] += report.get(key, 0)
    return totals
