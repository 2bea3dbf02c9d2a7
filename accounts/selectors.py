"""Reads shaped for the accounts pages."""

import hashlib

from django.db.models import Count, Q

from accounts.models import Line, Notification, ServicePoint, User
from heyon_site.db import reusable_plan_cursor


def unread_notification_count(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def lines_for_account_centre(*, user):
    return Line.objects.filter(owner=user).order_by("-attached_at")


def account_centre_state(*, user) -> str:
    """A digest of everything the account centre shows for ``user``, in one query.

    The page is cached under this digest (``accounts.views.account_centre``): when a
    line, an allowance, the balance, an order, a receipt, a usage record, a message or
    the verification changes, a row here changes, and so does the digest. Nothing has to
    remember to invalidate the cache, bulk jobs included. Each app contributes the rows
    of its own tables; they are united in one raw query because the ORM would spend
    longer compiling it than the database spends running it.
    """
    from billing.selectors import account_centre_state_sql as billing_state_sql
    from reviews.selectors import account_centre_state_sql as reviews_state_sql

    line, notification = Line._meta.db_table, Notification._meta.db_table
    fragments = [
        # Table names come from the models' meta; every value is a parameter.
        (
            "SELECT 'line', CAST(id AS TEXT), status, CAST(validity_end AS TEXT), msisdn, NULL, NULL, NULL "  # noqa: S608
            f"FROM {line} WHERE owner_id = %s",
            [user.pk],
        ),
        (
            "SELECT 'message', CAST(id AS TEXT), CAST(read_at AS TEXT), NULL, NULL, NULL, NULL, NULL "  # noqa: S608
            f"FROM (SELECT id, read_at FROM {notification} WHERE user_id = %s ORDER BY created_at DESC, id DESC "
            "LIMIT 5) n",
            [user.pk],
        ),
        (
            "SELECT 'unread', CAST(count(*) AS TEXT), NULL, NULL, NULL, NULL, NULL, NULL "  # noqa: S608
            f"FROM {notification} WHERE user_id = %s AND read_at IS NULL",
            [user.pk],
        ),
        *billing_state_sql(user_id=user.pk),
        *reviews_state_sql(user_id=user.pk),
    ]
    sql = " UNION ALL ".join(fragment for fragment, _params in fragments)
    params = [param for _fragment, fragment_params in fragments for param in fragment_params]
    # Planned once per connection on PostgreSQL: planning this union costs more than running it.
    with reusable_plan_cursor() as cursor:
        cursor.execute(sql, params)
        rows = sorted(cursor.fetchall(), key=lambda row: tuple("" if value is None else str(value) for value in row))
    return hashlib.sha256(repr(rows).encode()).hexdigest()


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


def cancellation_exists_for_owner(*, request_id: int, user) -> bool:
    from accounts.models import CancellationRequest

    return CancellationRequest.objects.filter(pk=request_id, user=user).exists()


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
    from accounts.models import CancellationRequest, SupportThread

    workload = {}
    if user.has_perm("accounts.decide_cancellation"):
        workload["open_cancellations"] = CancellationRequest.objects.filter(
            status=CancellationRequest.Status.OPEN
        ).count()
    if user.has_perm("accounts.answer_support"):
        workload["open_support_threads"] = SupportThread.objects.filter(status=SupportThread.Status.OPEN).count()
    return workload


def support_threads_for_customer(*, user):
    from accounts.models import SupportThread

    return SupportThread.objects.filter(customer=user).order_by("-last_message_at")[:50]


def support_thread_with_messages(*, thread_id: int):
    from accounts.models import SupportThread

    return (
        SupportThread.objects.select_related("customer", "assignee")
        .prefetch_related("messages__author")
        .filter(pk=thread_id)
        .first()
    )


def support_queue(*, status: str, assignee=None, limit: int = 100):
    from accounts.models import SupportThread

    threads = SupportThread.objects.filter(status=status).select_related("customer", "assignee")
    if assignee is not None:
        threads = threads.filter(assignee=assignee)
    return threads.order_by("waiting_since", "last_message_at", "pk")[:limit]


def customer_search(*, query: str):
    """Find a customer by phone, line number, order number or certificate number."""
    from accounts.backends import parse_phone
    from billing.models import Order
    from reviews.models import Certificate

    query = (query or "").strip()
    if not query:
        return None
    phone = parse_phone(query)
    if phone:
        user = User.objects.filter(phone=phone, is_staff=False).first()
        if user is not None:
            return user
        line = Line.objects.filter(msisdn=phone).select_related("owner").order_by("-pk").first()
        if line is not None and line.owner is not None:
            return line.owner
    order = Order.objects.filter(number=query.upper()).select_related("user").first()
    if order is not None:
        return order.user
    certificate = Certificate.objects.filter(number=query.upper()).select_related("submission__user").first()
    if certificate is not None:
        return certificate.submission.user
    return None


def customer_overview(*, user_id: int) -> dict | None:
    """Everything support needs about one customer, in a fixed number of queries."""
    from billing.models import Order, Receipt
    from reviews.models import Submission

    customer = User.objects.filter(pk=user_id, is_staff=False).first()
    if customer is None:
        return None
    return {
        "customer": customer,
        "lines": list(Line.objects.filter(owner=customer).order_by("pk")),
        "submissions": list(
            Submission.objects.filter(user=customer)
            .prefetch_related("reasons")
            .select_related("decided_by")
            .order_by("-attempt_number")
        ),
        "orders": list(Order.objects.filter(user=customer).select_related("line", "plan").order_by("-created_at")[:20]),
        "receipts": list(Receipt.objects.filter(user=customer).order_by("-issued_at")[:20]),
        "notifications": list(Notification.objects.filter(user=customer).order_by("-pk")[:20]),
        "threads": list(customer.support_threads.order_by("-last_message_at")[:10]),
        "cancellations": list(customer.cancellations.select_related("line").order_by("-created_at")[:10]),
    }


def audit_page(*, staff: str = "", customer_id: int | None = None, date_from=None, date_to=None, before_id=None,
               size: int = 50):  # fmt: skip
    """Audit events newest first, filtered; keyset pagination on the primary key."""
    from datetime import datetime, time, timedelta

    from django.utils import timezone

    from accounts.models import AuditEvent

    events = AuditEvent.objects.select_related("actor", "subject_user")
    if staff:
        events = events.filter(actor__username=staff)
    if customer_id:
        events = events.filter(subject_user_id=customer_id)
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
