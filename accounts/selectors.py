"""Reads shaped for the accounts pages."""

from django.db.models import Count, Q

from accounts.models import Line, Notification, ServicePoint


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
    from accounts.services.lines import activation_code_hash

    lines = Line.objects.select_related("owner")
    if for_update:
        lines = lines.select_for_update(of=("self",))
    return lines.filter(activation_code_hash=activation_code_hash(activation_code)).first()


def cancellable_lines(*, user):
    return Line.objects.filter(owner=user).exclude(status=Line.Status.CANCELLED).order_by("msisdn")


def open_cancellations(*, user):
    from accounts.models import CancellationRequest

    return list(
        CancellationRequest.objects.filter(user=user, status=CancellationRequest.Status.OPEN).select_related("line")
    )


def cancellation_queue(*, status: str, limit: int = 100):
    from accounts.models import CancellationRequest

    return (
        CancellationRequest.objects.filter(status=status)
        .select_related("line", "user", "decided_by")
        .order_by("created_at", "pk")[:limit]
    )


def cancellation_for_staff(*, request_id: int):
    from accounts.models import CancellationRequest

    return CancellationRequest.objects.select_related("line", "user", "decided_by").filter(pk=request_id).first()


def balance_for(*, user):
    from billing.selectors import wallet_balance

    return wallet_balance(user=user)


def staff_workload(*, user) -> dict:
    """Open items for the roles that are not reviewers: cancellations and support threads."""
    from accounts.models import CancellationRequest

    workload = {}
    if user.has_perm("accounts.decide_cancellation"):
        workload["open_cancellations"] = CancellationRequest.objects.filter(
            status=CancellationRequest.Status.OPEN
        ).count()
    return workload
