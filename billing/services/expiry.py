"""Expiry: warn before a line's validity ends, expire it after the grace period."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import services as account_services
from billing.models import LineService

from .orders import orders_expire_stale


def _warned_within(marker: str, *, period: str, days: int) -> bool:
    """Whether this warning, or a closer one, already went out for this validity period.

    The marker is "<validity end date>:<days before>" of the last warning sent.
    """
    sent_period, _sep, sent_days = marker.partition(":")
    return sent_period == period and sent_days.isdigit() and int(sent_days) <= days


def expiry_warnings_send(*, now: datetime | None = None) -> int:
    """Tell customers 7 days and 1 day before a line ends (once per line, period and warning)."""
    now = now or timezone.now()
    sent = 0
    for days in sorted(settings.EXPIRY_WARNING_DAYS):
        candidates = (
            LineService.objects.select_related("line__owner")
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
            end = timezone.localtime(service.line.validity_end).strftime("%Y-%m-%d")
            messages.append(
                (
                    service.line.owner,
                    _("Your line ends soon"),
                    _("Line %(number)s is valid until %(end)s. Renew now to keep your number.")
                    % {"number": service.line.msisdn.as_national, "end": end},
                    "/billing/renew/",
                )
            )
        LineService.objects.bulk_update(touched, ["expiry_warning_sent_for"], batch_size=1000)
        account_services.notify_many(messages, send_now=False)
        sent += len(messages)
    return sent


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
                    (
                        line.owner,
                        _("Your line has expired"),
                        _("Line %(number)s has expired. Renew it to bring it back into service.")
                        % {"number": line.msisdn.as_national},
                        "/billing/renew/",
                    )
                    for line in batch
                ],
                send_now=False,
            )
        expired += len(batch)
        if len(batch) < 1000:
            break
    return {"expired": expired, "orders_closed": orders_expire_stale(now=now), "warned": expiry_warnings_send(now=now)}
