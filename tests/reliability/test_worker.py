"""The worker path against a real Redis: messages queued on commit, and every scheduled task.

A real Celery worker runs in a thread of the test process and takes tasks from the
test Redis (see conftest.py). The worker has its own database connection, so these
are transactional tests: the rows must really be committed for it to see them.
"""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from accounts import services as account_services
from accounts import sms
from accounts.models import Line, OutboundMessage, User
from accounts.tasks import dispatch_messages, send_messages
from billing import services as billing_services
from billing.models import LedgerEntry, Order
from heyon_site.celery import app as celery_app
from reviews import services as review_services
from reviews.models import Submission
from tests.accounts.sms_backends import FAILING
from tests.billing.conftest import fund, ledger_problems, verified_customer
from tests.conftest import last_code_sent_to
from tests.factories import CustomerFactory, make_staff
from tests.reviews.conftest import unique_id_number

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PHONE = "+8613800138000"


def texts_to(number: str) -> list[str]:
    return [message["text"] for message in sms.outbox if message["to"] == number]


def test_an_sms_queued_on_commit_is_delivered_by_the_worker_exactly_once(worker):
    user = CustomerFactory(phone=PHONE, email=None)

    with transaction.atomic():
        account_services.notify(user=user, kind="support.answered", params={"text": "线路已开通"}, email_too=False)
        assert texts_to(PHONE) == []  # nothing leaves before the commit

    assert worker.finished.wait_for("accounts.tasks.send_messages") == [{"sent": 1, "failed": 0, "gave_up": 0}]
    assert texts_to(PHONE) == ["【Heyon】客服已回复您的留言：线路已开通"]
    row = OutboundMessage.objects.get(recipient=PHONE)
    assert (row.status, row.attempts) == (OutboundMessage.Status.SENT, 1)

    # A redelivered task and the minutely dispatcher find nothing left to send.
    send_messages.delay([row.pk])
    dispatch_messages.delay()
    assert worker.finished.wait_for("accounts.tasks.send_messages", count=2)[1] == {
        "sent": 0,
        "failed": 0,
        "gave_up": 0,
    }
    assert worker.finished.wait_for("accounts.tasks.dispatch_messages") == [{"sent": 0, "failed": 0, "gave_up": 0}]
    assert texts_to(PHONE) == ["【Heyon】客服已回复您的留言：线路已开通"]


@pytest.mark.skipif(
    connection.vendor == "sqlite", reason="PostgreSQL only: SQLite's shared-cache table locks fail sends mid-burst"
)
def test_a_burst_of_commits_is_sent_by_few_tasks_each_message_once(worker, settings, redis_cache):
    """With the shared "send task waiting" mark (Redis), commits while a task waits queue none."""
    settings.OUTBOX_SEND_TASK_QUEUED_SECONDS = 30
    users = [CustomerFactory(phone=f"+86138001380{n:02d}", email=None) for n in range(20)]
    sms.outbox.clear()

    for n, user in enumerate(users):
        with transaction.atomic():
            account_services.notify(user=user, kind="support.answered", params={"text": f"第{n}条"}, email_too=False)

    deadline = time.monotonic() + 30
    while sum(result["sent"] for result in worker.finished.wait_for("accounts.tasks.send_messages")) < 20:
        assert time.monotonic() < deadline, "the worker did not send every message within 30 s"
        time.sleep(0.05)
    results = worker.finished.wait_for("accounts.tasks.send_messages")
    assert sum(result["sent"] for result in results) == 20
    assert len(results) < 20  # tasks, for twenty commits
    assert not OutboundMessage.objects.exclude(status=OutboundMessage.Status.SENT).exists()
    assert sorted(message["to"] for message in sms.outbox) == sorted(user.phone.as_e164 for user in users)


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="PostgreSQL only: on SQLite's shared in-memory database the worker's send and the request's "
    "session write meet table locks, which fail at once (the request or the send, as timing has it)",
)
def test_a_registration_code_reaches_the_customer_through_the_worker(worker):
    client = Client()
    response = client.post(
        "/accounts/register/",
        {"phone": "138 0013 8000", "password1": "a-long-secret-42", "password2": "a-long-secret-42"},
    )
    assert response.status_code == 302

    assert worker.finished.wait_for("accounts.tasks.send_messages") == [{"sent": 1, "failed": 0, "gave_up": 0}]
    assert len(texts_to(PHONE)) == 1
    code = last_code_sent_to(PHONE)
    assert client.post("/accounts/verify/", {"code": code}).status_code == 302
    assert User.objects.get(phone=PHONE).is_active


def test_an_sms_the_provider_refuses_in_the_worker_stays_pending_and_is_sent_once_later(worker, settings, travel):
    settings.SMS_BACKEND = FAILING
    user = CustomerFactory(phone=PHONE, email=None)

    with transaction.atomic():
        account_services.notify(user=user, kind="support.answered", params={"text": "线路已开通"}, email_too=False)

    assert worker.finished.wait_for("accounts.tasks.send_messages") == [{"sent": 0, "failed": 1, "gave_up": 0}]
    row = OutboundMessage.objects.get(recipient=PHONE)
    assert (row.status, row.attempts) == (OutboundMessage.Status.PENDING, 1)
    assert "provider unreachable" in row.last_error

    settings.SMS_BACKEND = "locmem"  # the provider is back
    travel(timedelta(minutes=1))  # past the first backoff (30 s)
    dispatch_messages.delay()
    dispatch_messages.delay()

    results = worker.finished.wait_for("accounts.tasks.dispatch_messages", count=2)
    assert sorted(result["sent"] for result in results) == [0, 1]
    assert texts_to(PHONE) == ["【Heyon】客服已回复您的留言：线路已开通"]
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboundMessage.Status.SENT, 2)


# --- each scheduled task runs its service -----------------------------------------------


def _pending_message(settings):
    settings.OUTBOX_SEND_ON_COMMIT = False  # left for the dispatcher, as a broker outage would
    user = CustomerFactory(phone=PHONE, email=None)
    account_services.notify(user=user, kind="support.answered", params={"text": "提醒"}, email_too=False)

    def check(result):
        assert result == {"sent": 1, "failed": 0, "gave_up": 0}
        assert texts_to(PHONE) == ["【Heyon】客服已回复您的留言：提醒"]
        assert OutboundMessage.objects.get(recipient=PHONE).status == OutboundMessage.Status.SENT

    return check


def _verified_customer_set_up_in_process(settings):
    """A verified customer whose set-up messages are sent in this thread, not by the worker.

    On SQLite the worker's connection and the test's share one in-memory database with
    table locks: the worker sending the set-up's SMS while the set-up writes the next
    ones fails with "database table is locked". The task under test runs on the worker.
    """
    settings.OUTBOX_SEND_VIA_QUEUE = False
    try:
        return verified_customer()
    finally:
        settings.OUTBOX_SEND_VIA_QUEUE = True


def _line_due_for_autorenew(settings):
    user, line = _verified_customer_set_up_in_process(settings)
    billing_services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet")
    Line.objects.filter(pk=line.pk).update(validity_end=timezone.now() + timedelta(days=2))
    fund(user, "100")
    old_end = Line.objects.get(pk=line.pk).validity_end

    def check(result):
        assert result["renewed"] == 1
        assert Order.objects.get(line=line, channel=Order.Channel.AUTO).status == Order.Status.PAID
        assert LedgerEntry.objects.filter(wallet__user=user, kind="charge").count() == 1
        assert Line.objects.get(pk=line.pk).validity_end > old_end
        assert ledger_problems() == []

    return check


def _lapsed_line(settings):
    _user, line = _verified_customer_set_up_in_process(settings)
    lapsed = timezone.now() - timedelta(days=settings.LINE_EXPIRY_GRACE_DAYS + 1)
    Line.objects.filter(pk=line.pk).update(validity_end=lapsed)

    def check(result):
        assert result["expired"] == 1
        assert Line.objects.get(pk=line.pk).status == Line.Status.EXPIRED

    return check


def _expired_review_claim(settings):
    customer = CustomerFactory()
    submission = review_services.submission_create(
        user=customer,
        full_name="王小明",
        id_number=unique_id_number(),
        contact_phone=customer.phone.as_e164,
        photos=None,
        actor=customer,
    )
    review_services.submission_claim(submission_id=submission.pk, actor=make_staff("reviewer"))
    Submission.objects.filter(pk=submission.pk).update(claim_expires_at=timezone.now() - timedelta(seconds=1))

    def check(result):
        assert result == 1
        released = Submission.objects.get(pk=submission.pk)
        assert (released.status, released.claimed_by) == (Submission.Status.PENDING, None)

    return check


def _customer_past_retention(settings):
    ended = timezone.now() - timedelta(days=settings.PERSONAL_DATA_RETENTION_DAYS + 1)
    customer = CustomerFactory(service_ended_at=ended)

    def check(result):
        assert result["users"] == 1
        assert User.objects.get(pk=customer.pk).personal_data_erased_at is not None

    return check


def _submission_decided_yesterday(settings):
    from django.core.cache import cache

    customer = CustomerFactory()
    submission = review_services.submission_create(
        user=customer,
        full_name="王小明",
        id_number=unique_id_number(),
        contact_phone=customer.phone.as_e164,
        photos=None,
        actor=customer,
    )
    yesterday = timezone.now() - timedelta(days=1)
    Submission.objects.filter(pk=submission.pk).update(submitted_at=yesterday)
    cache.clear()

    def check(key):
        figures = cache.get(key)
        assert figures is not None, "the task stored the past days' figures"
        assert figures["submitted"] == {timezone.localtime(yesterday).date(): 1}

    return check


SCHEDULED = {
    "dispatch-messages": _pending_message,
    "run-autorenew": _line_due_for_autorenew,
    "expire-lines": _lapsed_line,
    "release-expired-claims": _expired_review_claim,
    "purge-personal-data": _customer_past_retention,
    "refresh-dashboard": _submission_decided_yesterday,
}


@pytest.mark.parametrize("entry", list(SCHEDULED))
def test_each_scheduled_task_runs_its_service_on_the_worker(worker, settings, entry):
    check = SCHEDULED[entry](settings)
    task = settings.CELERY_BEAT_SCHEDULE[entry]["task"]

    celery_app.send_task(task)  # what beat does when the entry is due

    (result,) = worker.finished.wait_for(task)
    check(result)


def test_the_autorenew_task_sent_twice_charges_once(worker, settings):
    check = _line_due_for_autorenew(settings)
    task = settings.CELERY_BEAT_SCHEDULE["run-autorenew"]["task"]

    celery_app.send_task(task)
    celery_app.send_task(task)  # a redelivery, or a second beat

    results = worker.finished.wait_for(task, count=2)
    assert sorted(result["renewed"] for result in results) == [0, 1]
    check({"renewed": 1})
    assert Order.objects.filter(channel=Order.Channel.AUTO, amount=Decimal("30.00")).count() == 1
