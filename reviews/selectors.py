"""Reads for the verification pages: the queue, the review screen, the customer's history."""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, Prefetch
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from reviews.models import ReasonCode, Submission, SubmissionPhoto

QUEUE_PAGE_SIZE = 50
QUEUE_FILTERS = ("channel", "overdue", "resubmission", "flagged")


def apply_queue_filters(queryset, filters: dict, *, now: datetime):
    channel = filters.get("channel")
    if channel in Submission.Channel.values:
        queryset = queryset.filter(channel=channel)
    if filters.get("overdue"):
        queryset = queryset.filter(due_at__lt=now)
    if filters.get("resubmission"):
        queryset = queryset.filter(attempt_number__gt=1)
    if filters.get("flagged"):
        queryset = queryset.filter(is_flagged=True)
    return queryset


def queue_filters_from(params) -> dict:
    return {
        "channel": params.get("channel", "") if params.get("channel") in Submission.Channel.values else "",
        "overdue": params.get("overdue") == "1",
        "resubmission": params.get("resubmission") == "1",
        "flagged": params.get("flagged") == "1",
    }


@dataclass
class QueuePage:
    rows: list
    next_cursor: str | None
    now: datetime


def encode_cursor(submission) -> str:
    return f"{submission.due_at.isoformat()}|{submission.pk}"


def decode_cursor(cursor: str | None):
    if not cursor or "|" not in cursor:
        return None
    stamp, _sep, pk = cursor.rpartition("|")
    due = parse_datetime(stamp)
    if due is None or not pk.isdigit():
        return None
    return due, int(pk)


def queue_page(*, filters: dict, cursor: str | None = None, size: int = QUEUE_PAGE_SIZE) -> QueuePage:
    """Return one page of open submissions, oldest due first, in one query.

    Keyset pagination: the page after a cursor starts at ``(due_at, id) > (cursor)``, a
    row comparison the partial index ``queue_due`` answers directly, so page 4,000 costs
    what page 1 costs. There is no COUNT(*) and no OFFSET.
    """
    now = timezone.now()
    rows = Submission.objects.filter(status__in=Submission.OPEN_STATUSES)
    rows = apply_queue_filters(rows, filters, now=now)
    position = decode_cursor(cursor)
    if position is not None:
        # Django has no row-value comparison; the table name is ours and the values are parameters.
        table = Submission._meta.db_table
        # A raw parameter skips the field's conversion: SQLite stores datetimes as naive UTC text and
        # would compare it with '…+00:00' text, skipping every row due at the same moment as the cursor.
        due = connection.ops.adapt_datetimefield_value(position[0])
        condition = f'("{table}"."due_at", "{table}"."id") > (%s, %s)'
        after = RawSQL(condition, (due, position[1]), output_field=BooleanField())  # noqa: S611
        rows = rows.filter(after)
    page = list(
        rows.select_related("user", "claimed_by")
        .only(
            "pk",
            "status",
            "channel",
            "attempt_number",
            "id_number_masked",
            "submitted_at",
            "due_at",
            "is_flagged",
            "flags",
            "claim_expires_at",
            "user__phone",
            "claimed_by__username",
        )
        .order_by("due_at", "pk")[: size + 1]
    )
    next_cursor = encode_cursor(page[size - 1]) if len(page) > size else None
    return QueuePage(rows=page[:size], next_cursor=next_cursor, now=now)


def submission_for_review(*, submission_id: int) -> Submission:
    return (
        Submission.objects.select_related("user", "claimed_by", "decided_by", "service_point")
        .prefetch_related("photos", "reasons", "events__actor")
        .get(pk=submission_id)
    )


def earlier_submissions(*, submission: Submission):
    return (
        Submission.objects.filter(user_id=submission.user_id, attempt_number__lt=submission.attempt_number)
        .select_related("decided_by")
        .prefetch_related("reasons")
        .order_by("-attempt_number")
    )


def customer_history(*, user):
    """The customer's submissions, newest first, with reasons and photos, in three queries."""
    return (
        Submission.objects.filter(user=user)
        .prefetch_related(
            "reasons", Prefetch("photos", queryset=SubmissionPhoto.objects.only("pk", "kind", "submission_id"))
        )
        .order_by("-attempt_number")
    )


def active_reason_codes():
    return ReasonCode.objects.filter(is_active=True).order_by("sort_order", "code")


def queue_depth() -> int:
    return Submission.objects.filter(status__in=Submission.OPEN_STATUSES).count()


def photo_for_viewer(*, photo_id: int, user):
    """The photo if ``user`` may see it (its owner, or staff allowed to view ID photos), else None."""
    photo = SubmissionPhoto.objects.select_related("submission").filter(pk=photo_id).first()
    if photo is None:
        return None, False
    if photo.submission.user_id == user.pk:
        return photo, False
    if user.is_staff and user.has_perm("reviews.view_id_photos"):
        return photo, True
    return None, False


def expected_decision_window(submission: Submission):
    """The customer-facing 'expect a decision between' dates: 1 to N business days."""
    from reviews.business_days import add_business_days

    return add_business_days(submission.submitted_at, 1).date(), timezone.localtime(submission.due_at).date()


def latest_submission(*, user):
    return Submission.objects.filter(user=user).order_by("-attempt_number").first()


def certificate_by_number(*, number: str):
    from reviews.models import Certificate

    return (
        Certificate.objects.select_related("service_point", "line", "submission__user", "issued_by")
        .filter(number=number)
        .first()
    )


def recent_certificates(*, service_point, limit: int = 20):
    from reviews.models import Certificate

    return (
        Certificate.objects.filter(service_point=service_point)
        .select_related("line", "issued_by")
        .order_by("-issued_at")[:limit]
    )


def identity_matches(*, user, id_number: str) -> bool:
    """Whether this ID number is the one the user was verified with (compared by blind index)."""
    from reviews import pii

    return Submission.objects.filter(
        user=user, status=Submission.Status.APPROVED, id_number_index=pii.id_number_blind_index(id_number)
    ).exists()


def verified_full_name(*, user) -> str | None:
    """The name the customer was verified with (latest approval), or None."""
    return (
        Submission.objects.filter(user=user, status=Submission.Status.APPROVED)
        .order_by("-decided_at")
        .values_list("full_name", flat=True)
        .first()
    )
