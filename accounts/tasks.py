"""Celery tasks of the accounts app; each calls the service its management command calls.

The outbox is its own retry mechanism (backoff, attempts, leases), so these tasks never
retry through Celery: a failed send stays pending for the next ``dispatch_messages``.
"""

import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from accounts import outbox

logger = logging.getLogger(__name__)


@shared_task(name="accounts.tasks.send_messages", ignore_result=True)
def send_messages(message_ids: list[int] | None = None) -> dict:
    """Send what is pending now (queued right after a transaction committed messages).

    With ``message_ids`` (tasks an earlier release queued, met during an upgrade), only those rows.
    """
    if message_ids is not None:
        return outbox.outbox_send(ids=message_ids)
    counts = outbox.outbox_send_queued()
    if sum(counts.values()) >= outbox.SEND_TASK_BATCH:
        send_messages_queue([])  # more may be waiting: the next task takes them
    return counts


@shared_task(name="accounts.tasks.dispatch_messages", ignore_result=True)
def dispatch_messages() -> dict:
    """Send what is due: new rows nobody queued (broker was down) and earlier failures past their backoff."""
    return outbox.outbox_dispatch_due()


@shared_task(name="accounts.tasks.poll_sms_receipts", ignore_result=True)
def poll_sms_receipts() -> dict:
    """Record the SMS provider's delivery receipts (every 5 minutes), and drop old per-number daily counts."""
    counts = outbox.outbox_poll_receipts()
    outbox.sms_daily_counts_purge()
    return counts


def send_messages_queue(ids) -> None:
    """Have a worker send what is pending: at most one send task waiting in the queue at a time.

    Under load many transactions a second commit messages; one task each would cost
    every request a broker round trip and the worker a task per message. Instead a commit
    queues a task only if none is waiting: the waiting one will see these rows, because it
    clears the mark *before* it reads what is pending (``outbox_send_queued``), so a row
    committed after that read finds the mark gone and queues the next task. If the mark
    outlives a lost task, ``OUTBOX_SEND_TASK_QUEUED_SECONDS`` ends it, and dispatch_messages
    (every minute) sends what waited.
    """
    if settings.OUTBOX_SEND_TASK_QUEUED_SECONDS:
        try:
            if not cache.add(outbox.SEND_TASK_QUEUED_KEY, 1, timeout=settings.OUTBOX_SEND_TASK_QUEUED_SECONDS):
                return  # a task is waiting and will send these
        except Exception:  # noqa: BLE001 - a cache outage must not stop the messages
            logger.warning("Cache unavailable: queueing a send task for messages %s anyway", ids)
    try:
        send_messages.delay()
    except Exception:
        logger.exception("Queueing messages %s failed (broker down?); dispatch_messages will send them", ids)
        try:
            cache.delete(outbox.SEND_TASK_QUEUED_KEY)  # no task is waiting after all
        except Exception:  # noqa: BLE001, S110 - the mark then simply times out
            pass
