"""Expiry: warn before a line's validity ends, expire it after the grace period."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts import message_kinds
from accounts import services as account_services
from accounts.models import Line
from billing.models import LineService, Plan

from .orders import orders_expire_stale


def _warned_within(marker: str, *, period: str, days: int) -> bool:
    """Whether this warning, or a closer one, already went out for this validity period.

    The marker is "<validity end date>:<days before>" of the last warning sent.
    """
    sent_period, _sep, sent_days = marker.partition(":")
    return sent_period == period and sent_days.isdigit() and int(sent_days) <= days


def _services_create_for_lines_ending(*, before: datetime, now: datetime) -> None:
    """Give a service row to active lines that never had one, so their warning can be remembered.

    A line that was never renewed and never had auto-renew touched runs on the plan it was
    sold with and has no row yet; it gets the same default plan auto-renew would choose.
    """
    line_ids = list(
        Line.objects.filter(status="active", validity_end__gt=now, validity_end__lte=before, service__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not line_ids:
        return
    plan = Plan.objects.filter(is_current=True, is_active=True).order_by("monthly_price").first()
    if plan is None:
        return
    LineService.objects.bulk_create(
        [LineService(line_id=line_id, plan=plan) for line_id in line_ids], batch_size=1000, ignore_conflicts=True
    )


def expiry_warnings_send(*, now: datetime | None = None) -> int:
    """Tell customers 7 days and 1 day before a line ends (once per line, period and warning).

    The service rows are locked with SKIP LOCKED and each marker is written in the same
    transaction as its message, so two copies of the job (or a killed one) never warn twice.
    """
    now = now or timezone.now()
    _services_create_for_lines_ending(before=now + timedelta(days=max(settings.EXPIRY_WARNING_DAYS)), now=now)
    lock = {"skip_locked": True, "of": ("self",)} if connection.features.has_select_for_update_skip_locked else {}
    return sum(
        _expiry_warnings_send_for(days=days, now=now, lock=lock) for days in sorted(settings.EXPIRY_WARNING_DAYS)
    )


@transaction.atomic
def _expiry_warnings_send_for(*, days: int, now: datetime, lock: dict) -> int:
    candidates = (
        LineService.objects.select_for_update(**lock)
        .select_related("line__owner")
        .filter(
            auto_renew=False,
            line__status="active",
            line__validity_end__gt=now,
            line__validity_end__lte=now + timedelta(days=days),
        )
        .order_by("line_id")
    )
    messages, touched = [], []
    for service in candidates.iterator(chunk_size=1000):
        period = service.line.validity_end.date().isoformat()
        if _warned_within(service.expiry_warning_sent_for, period=period, days=days):
            continue
        service.expiry_warning_sent_for = f"{period}:{days}"
        touched.append(service)
        messages.append(
            (
                service.line.owner,
                message_kinds.LINE_ENDS_SOON,
                {"number": service.line.msisdn.as_national, "end": message_kinds.date_param(service.line.validity_end)},
                "/billing/renew/",
            )
        )
    LineService.objects.bulk_update(touched, ["expiry_warning_sent_for"], batch_size=1000)
    account_services.notify_many(messages, send_now=False)
    return len(messages)


def expire_lines_run(*, now: datetime | None = None) -> dict:
    """Expire lapsed lines in batches, close stale orders, and send the expiry warnings."""
    now = now or timezone.now()
    grace = timedelta(days=settings.LINE_EXPIRY_GRACE_DAYS)
    expired = 0
    while True:
        batch = account_services.lines_expire_lapsed(grace=grace, now=now)
        if batch:
            account_services.notify_many(
                [
                    (line.owner, message_kinds.LINE_EXPIRED, {"number": line.msisdn.as_national}, "/billing/renew/")
                    for line in batch
                ],
                send_now=False,
            )
        expired += len(batch)
        if len(batch) < 1000:
            break
    return {"expired": expired, "orders_closed": orders_expire_stale(now=now), "warned": expiry_warnings_send(now=now)}
