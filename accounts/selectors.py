"""Reads shaped for the accounts pages."""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import AuditEvent, Line, Notification, ServicePoint, User
from accounts.services.lines import activation_code_hash


def unread_notification_count(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def lines_for_account_centre(*, user):
    return Line.objects.filter(owner=user).order_by("-attached_at")


def recent_notifications(*, user, limit: int = 5):
    return Notification.objects.filter(user=user).order_by("-created_at", "-pk")[:limit]


def notifications_page(*, user, before_id: int | None = None, size: int = 20):
    """Return one page of the inbox, newest first, and the id to continue from.

    Keyset pagination on the primary key: the page after a long scroll costs the same
    as the first.
    """
    rows = Notification.objects.filter(user=user)
    if before_id:
        rows = rows.filter(pk__lt=before_id)
    page = list(rows.order_by("-pk")[: size + 1])
    next_before = page[size - 1].pk if len(page) > size else None
    return page[:size], next_before


def service_points_for_finder(*, city: str = "", kind: str = ""):
    points = ServicePoint.objects.filter(is_active=True)
    if city:
        points = points.filter(city=city)
    if kind:
        kinds = {kind, ServicePoint.Kind.BOTH} if kind != ServicePoint.Kind.BOTH else {kind}
        points = points.filter(kind__in=kinds)
    return points.order_by("city", "name")


def service_point_cities():
    return list(
        ServicePoint.objects.filter(is_active=True)
        .values("city")
        .annotate(n=Count("pk", filter=Q(is_active=True)))
        .order_by("city")
    )


def line_by_activation_code(*, activation_code: str, for_update: bool = False):
    """The line whose activation code this is, or None. Lock it when ``for_update``."""
    lines = Line.objects.select_related("owner")
    if for_update:
        lines = lines.select_for_update(of=("self",))
    return lines.filter(activation_code_hash=activation_code_hash(activation_code)).first()


def cancellable_lines(*, user):
    return Line.objects.filter(owner=user).exclude(status=Line.Status.CANCELLED).order_by("msisdn")


def audit_page(
    *,
    staff: str = "",
    customer_id: int | None = None,
    target_type: str = "",
    target_id: str = "",
    date_from=None,
    date_to=None,
    before_id=None,
    size: int = 50,
):
    """Audit events newest first, filtered; keyset pagination on the primary key.

    ``target_type`` is a model label (``reviews.submission``, ``billing.order``,
    ``accounts.line``, ``accounts.user``) and, with ``target_id``, narrows to one record.
    """
    events = AuditEvent.objects.select_related("actor", "subject_user")
    if staff:
        events = events.filter(actor__username=staff)
    if customer_id:
        events = events.filter(subject_user_id=customer_id)
    if target_type:
        events = events.filter(target_type=target_type)
    if target_id:
        events = events.filter(target_id=target_id)
    if date_from:
        events = events.filter(created_at__gte=timezone.make_aware(datetime.combine(date_from, time.min)))
    if date_to:
        events = events.filter(
            created_at__lt=timezone.make_aware(datetime.combine(date_to + timedelta(days=1), time.min))
        )
    if before_id:
        events = events.filter(pk__lt=before_id)
    page = list(events.order_by("-pk")[: size + 1])
    return page[:size], (page[size - 1].pk if len(page) > size else None)


# A line in any other state keeps its owner a customer in service (a suspended or expired line may come back).
LINE_STATUSES_IN_SERVICE = tuple(status for status in Line.Status.values if status != Line.Status.CANCELLED)


def customer_service_has_ended(*, user: User) -> bool:
    """Whether the customer's service has ended: their last line was cancelled and none is in service since.

    A customer who never had a line has not ended anything. Read it under the customer's
    row lock to act on it: cancelling the last line (``service_ended_at``) and adding a
    line both hold that row.
    """
    return (
        user.service_ended_at is not None
        and not Line.objects.filter(owner_id=user.pk, status__in=LINE_STATUSES_IN_SERVICE).exists()
    )


def _customers_due_for_erasure(*, now: datetime):
    """The one rule of the personal-data purge: the list and the check under the lock both read it.

    Customers not erased yet, with no line but cancelled ones, whose service ended more
    than PERSONAL_DATA_RETENTION_DAYS before ``now``.
    """
    cutoff = now - timedelta(days=settings.PERSONAL_DATA_RETENTION_DAYS)
    return User.objects.filter(
        is_staff=False, personal_data_erased_at__isnull=True, service_ended_at__lt=cutoff
    ).exclude(lines__status__in=LINE_STATUSES_IN_SERVICE)


def customer_ids_due_for_erasure(*, now: datetime, limit: int = 200) -> list[int]:
    """Customers whose service ended more than PERSONAL_DATA_RETENTION_DAYS ago, not yet erased."""
    return list(_customers_due_for_erasure(now=now).order_by("pk").values_list("pk", flat=True)[:limit])


def customer_locked_for_erasure(*, user_id: int, now: datetime) -> User | None:
    """Lock a customer still due for erasure at ``now``; None otherwise, or when another worker holds them.

    The whole rule is checked again under the lock: the purge's list is read before, and
    meanwhile the customer may have come back (a line in service) and even left again (their
    service ended anew, and the retention period with it).
    """
    lock = {"skip_locked": True} if connection.features.has_select_for_update_skip_locked else {}
    return _customers_due_for_erasure(now=now).select_for_update(**lock).filter(pk=user_id).first()
