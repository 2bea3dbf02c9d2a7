"""Reads shaped for the customer portal and the support desk."""

import hashlib

from django.db import connection
from django.db.models import Q

from accounts.models import Line, Notification, User
from accounts.phones import parse_phone
from billing import selectors as billing_selectors
from billing.models import Order, Receipt
from customers.models import CancellationRequest, SupportThread
from reviews import pii
from reviews import selectors as review_selectors
from reviews.models import Certificate, Submission


def account_centre_state(*, user) -> str:
    """A digest of everything the account centre shows for ``user``, read in one query.

    The page is cached under this digest (``customers.views.account_centre``): when a
    line, an allowance, the balance, an order, a receipt, a usage record, a message or
    the verification changes, a row here changes, and so does the digest. Nothing has to
    remember to invalidate the cache, batch jobs included. Each app contributes the rows
    of its own tables as plain SQL with plain parameters; they run as one UNION ALL.

    Plain SQL because this runs on every view of the most visited page, and building the
    same union with the ORM costs many times what running it does (docs/DECISIONS.md).
    On PostgreSQL the text never changes, so with the settings' prepared statements it is
    planned once per connection.
    """
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
        (
            "SELECT 'cancellation', CAST(id AS TEXT), CAST(line_id AS TEXT), status, NULL, NULL, NULL, NULL "  # noqa: S608
            f"FROM {CancellationRequest._meta.db_table} WHERE user_id = %s AND status = %s",
            [user.pk, CancellationRequest.Status.OPEN],
        ),
        *billing_selectors.account_centre_state_sql(user_id=user.pk),
        *review_selectors.account_centre_state_sql(user_id=user.pk),
    ]
    # Sorted by every column, so the same rows always give the same digest.
    sql = " UNION ALL ".join(fragment for fragment, _params in fragments) + " ORDER BY 1, 2, 3, 4, 5, 6, 7, 8"
    params = [param for _fragment, fragment_params in fragments for param in fragment_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def lines_with_open_cancellation(*, user) -> set[int]:
    return set(
        CancellationRequest.objects.filter(user=user, status=CancellationRequest.Status.OPEN).values_list(
            "line_id", flat=True
        )
    )


def open_cancellations(*, user):
    return list(
        CancellationRequest.objects.filter(user=user, status=CancellationRequest.Status.OPEN).select_related("line")
    )


def cancellation_exists_for_owner(*, request_id: int, user) -> bool:
    return CancellationRequest.objects.filter(pk=request_id, user=user).exists()


def cancellation_queue(*, status: str, limit: int = 100):
    return (
        CancellationRequest.objects.filter(status=status)
        .select_related("line", "user", "decided_by")
        .order_by("created_at", "pk")[:limit]
    )


def cancellation_for_staff(*, request_id: int):
    return CancellationRequest.objects.select_related("line", "user", "decided_by").filter(pk=request_id).first()


def staff_workload(*, user) -> dict:
    """Open items for the roles that are not reviewers: cancellations and support threads."""

    workload = {}
    if user.has_perm("customers.decide_cancellation"):
        workload["open_cancellations"] = CancellationRequest.objects.filter(
            status=CancellationRequest.Status.OPEN
        ).count()
    if user.has_perm("customers.answer_support"):
        workload["open_support_threads"] = SupportThread.objects.filter(status=SupportThread.Status.OPEN).count()
    return workload


def support_threads_for_customer(*, user):
    return SupportThread.objects.filter(customer=user).order_by("-last_message_at")[:50]


def support_thread_with_messages(*, thread_id: int):
    return (
        SupportThread.objects.select_related("customer", "assignee")
        .prefetch_related("messages__author")
        .filter(pk=thread_id)
        .first()
    )


def support_queue(*, status: str, assignee=None, limit: int = 100):
    threads = SupportThread.objects.filter(status=status).select_related("customer", "assignee")
    if assignee is not None:
        threads = threads.filter(assignee=assignee)
    return threads.order_by("waiting_since", "last_message_at", "pk")[:limit]


CUSTOMER_SEARCH_LIMIT = 20


def customers_search(*, query: str) -> list[User]:
    """Customers a staff lookup finds: by phone, line, order, receipt or certificate number, whole ID number or name.

    ID numbers and names are compared through their blind indexes (keyed hashes of the
    normalised value), so only a whole ID number or a whole name finds anyone. A name or an
    ID number may belong to several accounts: all of them come back (at most
    CUSTOMER_SEARCH_LIMIT), each with ``latest_name``, the name of its latest submission.
    """
    query = (query or "").strip()
    if not query:
        return []
    phone = parse_phone(query)
    if phone:
        user = User.objects.filter(phone=phone, is_staff=False).first()
        if user is not None:
            return _with_latest_names([user])
        line = Line.objects.filter(msisdn=phone).select_related("owner").order_by("-pk").first()
        if line is not None and line.owner is not None:
            return _with_latest_names([line.owner])
    number = query.upper()
    for model in (Order, Receipt):
        record = model.objects.filter(number=number).select_related("user").first()
        if record is not None:
            return _with_latest_names([record.user])
    certificate = Certificate.objects.filter(number=number).select_related("submission__user").first()
    if certificate is not None:
        return _with_latest_names([certificate.submission.user])
    id_number = pii.normalize_id_number(query)
    if pii.ID_NUMBER_SHAPE.fullmatch(id_number):
        condition = Q(submissions__id_number_index=pii.id_number_blind_index(id_number))
    else:
        name_index = pii.name_blind_index(query)
        if not name_index:
            return []
        condition = Q(submissions__full_name_index=name_index)
    users = User.objects.filter(condition, is_staff=False).distinct().order_by("pk")[:CUSTOMER_SEARCH_LIMIT]
    return _with_latest_names(list(users))


def _with_latest_names(users: list[User]) -> list[User]:
    """Set ``latest_name`` on each customer (their latest submission's name), in one query."""
    names = {}
    latest = (
        Submission.objects.filter(user__in=users)
        .order_by("user_id", "-attempt_number")
        .values_list("user_id", "full_name")
    )
    for user_id, name in latest:
        names.setdefault(user_id, name)
    for user in users:
        user.latest_name = names.get(user.pk, "")
    return users


def customer_overview(*, user_id: int) -> dict | None:
    """Everything support needs about one customer, in a fixed number of queries."""
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
        # From the daily totals, never the usage records (two queries however long the history).
        "usage_months": billing_selectors.usage_by_month(user=customer),
    }
