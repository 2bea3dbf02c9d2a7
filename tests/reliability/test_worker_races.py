"""Two copies of a scheduled task at the same moment, as on several machines: PostgreSQL only.

A worker with two threads runs both copies at once against the real Redis; the
services' row claims (conditional updates, SKIP LOCKED) must share the work so that
nothing is sent, charged or warned twice. SQLite has no row locks, so these are
skipped there; CI runs them on PostgreSQL.
"""

import contextlib
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts import outbox, sms
from accounts import services as account_services
from accounts.models import Line, Notification, OutboundMessage
from accounts.tasks import dispatch_messages
from billing import services as billing_services
from billing.models import Order
from billing.services import autorenew
from heyon_site.celery import app as celery_app
from tests.billing.conftest import verified_customer
from tests.factories import CustomerFactory
from tests.reliability.test_worker import _line_due_for_autorenew

NEEDS_POSTGRESQL = "two tasks at once need PostgreSQL's row locks (set DATABASE_URL=postgres://…)"

pytestmark = [
    pytest.mark.postgres,
    # Decided before the (slow) transactional database set-up, so that SQLite runs stay fast.
    pytest.mark.skipif(connection.vendor != "postgresql", reason=NEEDS_POSTGRESQL),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def meet_in(monkeypatch, module, name: str, *, parties: int = 2, timeout: float = 3.0) -> None:
    """Make ``module.name`` wait until ``parties`` threads are inside it, so the two runs really overlap.

    A run that never gets there (it found nothing to do) lets the other go on after ``timeout``.
    """
    barrier = threading.Barrier(parties)
    real = getattr(module, name)

    def meeting(*args, **kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=timeout)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, meeting)


def test_two_dispatchers_at_once_send_every_message_exactly_once(two_workers, settings, monkeypatch):
    settings.OUTBOX_SEND_ON_COMMIT = False
    customers = [CustomerFactory(email=None) for _ in range(30)]
    for customer in customers:
        account_services.notify(user=customer, kind="support.answered", params={"text": "提醒"}, email_too=False)

    # Each dispatcher has claimed a message before either sends: they work side by side.
    meet_in(monkeypatch, outbox, "_deliver")
    dispatch_messages.delay()
    dispatch_messages.delay()

    results = two_workers.finished.wait_for("accounts.tasks.dispatch_messages", count=2)
    assert sum(result["sent"] for result in results) == 30
    assert all(result["sent"] > 0 for result in results)  # both did part of the work
    assert sorted(message["to"] for message in sms.outbox) == sorted(c.phone.as_e164 for c in customers)
    assert set(OutboundMessage.objects.values_list("status", "attempts")) == {(OutboundMessage.Status.SENT, 1)}


def test_two_autorenew_runs_at_once_charge_each_line_once(two_workers, settings, monkeypatch):
    checks = [_line_due_for_autorenew(settings) for _ in range(5)]
    task = settings.CELERY_BEAT_SCHEDULE["run-autorenew"]["task"]
    # The first run holds its lines' locks while the second looks for due lines.
    meet_in(monkeypatch, autorenew, "_write_paid")  # where a PostgreSQL run writes its chunk's renewals

    celery_app.send_task(task)
    celery_app.send_task(task)

    results = two_workers.finished.wait_for(task, count=2)
    assert sum(result["renewed"] for result in results) == 5
    for check in checks:
        check({"renewed": 1})
    assert Order.objects.filter(channel=Order.Channel.AUTO).count() == 5


def test_two_expiry_runs_at_once_warn_each_customer_once(two_workers, settings, monkeypatch):
    owners = []
    for _ in range(5):
        user, line = verified_customer()
        billing_services.autorenew_set(actor=user, line_id=line.pk, enabled=False, method="wallet")
        Line.objects.filter(pk=line.pk).update(validity_end=timezone.now() + timedelta(days=5))
        owners.append(user)
    task = settings.CELERY_BEAT_SCHEDULE["expire-lines"]["task"]
    # Both runs have read their candidates before either writes its warnings.
    meet_in(monkeypatch, account_services, "notify_many")

    celery_app.send_task(task)
    celery_app.send_task(task)

    results = two_workers.finished.wait_for(task, count=2)
    assert sum(result["warned"] for result in results) == 5
    for user in owners:
        assert Notification.objects.filter(user=user, link="/billing/renew/").count() == 1
