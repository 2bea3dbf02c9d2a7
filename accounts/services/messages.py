"""In-app messages and the outbox of SMS and email.

An event writes its Notification and OutboundMessage rows inside its own transaction,
so a rollback sends nothing. Right after the commit the rows are sent in-process, or
handed to a Celery worker when a broker is configured (``OUTBOX_SEND_VIA_QUEUE``); a
failure leaves the row pending with a backoff, and ``dispatch_messages`` retries it.
A row is claimed with a conditional UPDATE before it is sent, so two dispatchers never
send the same message.
"""

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts import sms, tasks
from accounts.models import Notification, OutboundMessage, User

logger = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=6)


REDACTED = "[redacted after sending]"


def outbox_queue(
    *, channel: str, recipient: str, body: str, subject: str = "", redact_after_send: bool = False
) -> OutboundMessage:
    """Queue one SMS or email; it leaves after the current transaction commits.

    ``redact_after_send`` blanks the text once it is sent or given up on (one-time codes).
    """
    message = OutboundMessage.objects.create(
        channel=channel, recipient=recipient, subject=subject[:200], body=body, redact_after_send=redact_after_send
    )
    if settings.OUTBOX_SEND_ON_COMMIT:
        transaction.on_commit(lambda: _send_after_commit([message.pk]))
    return message


def notify(
    *, user, subject: str, body: str, link: str = "", sms_too: bool = True, email_too: bool = True
) -> Notification:
    """Put a message in the user's inbox and queue it by SMS and/or email."""
    notification = Notification.objects.create(user=user, subject=subject, body=body, link=link)
    outbound = []
    if sms_too and user.phone:
        outbound.append(
            OutboundMessage(
                channel=OutboundMessage.Channel.SMS, recipient=user.phone.as_e164, body=f"【Heyon】{subject}：{body}"
            )
        )
    if email_too and user.email:
        outbound.append(
            OutboundMessage(
                channel=OutboundMessage.Channel.EMAIL, recipient=user.email, subject=subject[:200], body=body
            )
        )
    # The SMS and the email in one INSERT, and handed on together after the commit.
    _send_after_commit_all(OutboundMessage.objects.bulk_create(outbound))
    return notification


def notify_many(items: Iterable[tuple[User, str, str, str]], *, send_now: bool = True) -> int:
    """Bulk ``notify``: items are (user, subject, body, link) tuples; one INSERT per table.

    With ``send_now=False`` the messages wait for ``dispatch_messages`` instead of being
    sent right after commit (a batch of thousands should not be sent by the job itself).
    """
    notifications, outbound = [], []
    for user, subject, body, link in items:
        notifications.append(Notification(user_id=user.pk, subject=subject, body=body, link=link))
        if user.phone:
            outbound.append(
                OutboundMessage(
                    channel=OutboundMessage.Channel.SMS,
                    recipient=user.phone.as_e164,
                    body=f"【Heyon】{subject}：{body}",
                )
            )
        if user.email:
            outbound.append(
                OutboundMessage(
                    channel=OutboundMessage.Channel.EMAIL, recipient=user.email, subject=subject[:200], body=body
                )
            )
    Notification.objects.bulk_create(notifications, batch_size=1000)
    created = OutboundMessage.objects.bulk_create(outbound, batch_size=1000)
    if send_now:
        _send_after_commit_all(created)
    return len(notifications)


def _send_after_commit_all(messages):
    """Send these new outbox rows right after the commit, as one batch (one task for a worker)."""
    _send_after_commit_ids([message.pk for message in messages if message.pk])


def _send_after_commit_ids(ids):
    if ids and settings.OUTBOX_SEND_ON_COMMIT:
        transaction.on_commit(lambda: _send_after_commit(ids))


def notification_mark_all_read(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


def _send_after_commit(ids):
    # Runs after the response's transaction committed; a provider or broker outage must
    # never turn the customer's successful action into an error page. Whatever fails
    # here, the rows are still pending and dispatch_messages sends them later.
    if settings.OUTBOX_SEND_VIA_QUEUE:
        _queue_send_task(ids)
        return
    try:
        outbox_send(ids=ids)
    except Exception:
        logger.exception("Sending messages %s after commit failed; dispatch_messages will retry", ids)


# Set while a send task waits in the queue; the task deletes it when it starts. It lives in
# the cache the web processes and the workers share (Redis): settings turn it off
# (OUTBOX_SEND_TASK_QUEUED_SECONDS = 0) where the cache is per process.
SEND_TASK_QUEUED_KEY = "outbox:send-task-queued"


def _queue_send_task(ids):
    """Have a worker send what is pending: at most one send task waiting in the queue at a time.

    Under load hundreds of transactions a second commit messages; one task each would cost
    every request a broker round trip and the worker a task per message. Instead a commit
    queues a task only if none is waiting: the waiting one will see these rows, because it
    clears the mark *before* it reads what is pending (``outbox_send_queued``), so a row
    committed after that read finds the mark gone and queues the next task. If the mark
    outlives a lost task, ``OUTBOX_SEND_TASK_QUEUED_SECONDS`` ends it, and dispatch_messages
    (every minute) sends what waited.
    """
    if settings.OUTBOX_SEND_TASK_QUEUED_SECONDS:
        try:
            if not cache.add(SEND_TASK_QUEUED_KEY, 1, timeout=settings.OUTBOX_SEND_TASK_QUEUED_SECONDS):
                return  # a task is waiting and will send these
        except Exception:  # noqa: BLE001 - a cache outage must not stop the messages
            logger.warning("Cache unavailable: queueing a send task for messages %s anyway", ids)
    try:
        tasks.send_messages.delay()
    except Exception:
        logger.exception("Queueing messages %s failed (broker down?); dispatch_messages will send them", ids)
        try:
            cache.delete(SEND_TASK_QUEUED_KEY)  # no task is waiting after all
        except Exception:  # noqa: BLE001, S110 - the mark then simply times out
            pass


# A queued send task sends at most this many messages, the newest first, and leaves the
# rest to the next task it queues: a one-time code just committed is not held up behind a
# batch job's backlog (those are sent oldest first by the minutely dispatch_messages).
SEND_TASK_BATCH = 100


def outbox_send_queued() -> dict:
    """What a queued send task does: clear the "task waiting" mark, then send what is due, newest first."""
    try:
        cache.delete(SEND_TASK_QUEUED_KEY)
    except Exception:  # noqa: BLE001 - with the cache down every commit queues its own task
        logger.warning("Cache unavailable: could not clear the send-task mark; it times out by itself")
    counts = _dispatch(OutboundMessage.objects.all(), limit=SEND_TASK_BATCH, newest_first=True)
    if sum(counts.values()) >= SEND_TASK_BATCH:
        _queue_send_task([])  # more may be waiting: the next task takes them
    return counts


def outbox_send(*, ids) -> dict:
    """Send these outbox rows now if they are still due (a worker's task, or in-process after commit).

    A row another dispatcher has claimed, or already sent, is skipped: sending the same
    ids twice sends each message once.
    """
    return _dispatch(OutboundMessage.objects.filter(pk__in=ids))


def outbox_dispatch_due(*, limit: int = 500) -> dict:
    """Send messages that are due (new, or failed earlier and past their backoff)."""
    return _dispatch(OutboundMessage.objects.all(), limit=limit)


def _dispatch(candidates, limit: int | None = None, newest_first: bool = False) -> dict:
    now = timezone.now()
    due = candidates.filter(
        Q(status=OutboundMessage.Status.PENDING) | Q(status=OutboundMessage.Status.SENDING, claimed_until__lt=now),
        next_attempt_at__lte=now,
    ).order_by(*(("-pk",) if newest_first else ("next_attempt_at", "pk")))
    if limit is not None:
        # Slice after filtering: a sliced queryset cannot be filtered.
        due = due[:limit]
    counts = {"sent": 0, "failed": 0, "gave_up": 0}
    for message_id in list(due.values_list("pk", flat=True)):
        message = _claim(message_id)
        if message is None:
            continue  # another dispatcher has it
        outcome = _deliver(message)
        counts[outcome] += 1
    return counts


def _claim(message_id):
    now = timezone.now()
    claimed = (
        OutboundMessage.objects.filter(pk=message_id, next_attempt_at__lte=now)
        .filter(
            Q(status=OutboundMessage.Status.PENDING) | Q(status=OutboundMessage.Status.SENDING, claimed_until__lt=now)
        )
        .update(status=OutboundMessage.Status.SENDING, claimed_until=now + CLAIM_LEASE, attempts=F("attempts") + 1)
    )
    return OutboundMessage.objects.get(pk=message_id) if claimed else None


def _deliver(message: OutboundMessage) -> str:
    try:
        if message.channel == OutboundMessage.Channel.SMS:
            sms.get_backend().send(message.recipient, message.body)
        else:
            send_mail(message.subject, message.body, None, [message.recipient], fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any provider error is retried
        gave_up = message.attempts >= settings.OUTBOX_MAX_ATTEMPTS
        backoff = min(timedelta(seconds=30 * 2 ** (message.attempts - 1)), MAX_BACKOFF)
        OutboundMessage.objects.filter(pk=message.pk).update(
            status=OutboundMessage.Status.FAILED if gave_up else OutboundMessage.Status.PENDING,
            next_attempt_at=timezone.now() + backoff,
            claimed_until=None,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            **({"body": REDACTED} if gave_up and message.redact_after_send else {}),
        )
        logger.warning(
            "Sending %s to %s failed (attempt %s): %s", message.channel, message.recipient, message.attempts, exc
        )
        return "gave_up" if gave_up else "failed"
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=OutboundMessage.Status.SENT,
        sent_at=timezone.now(),
        claimed_until=None,
        last_error="",
        **({"body": REDACTED} if message.redact_after_send else {}),
    )
    return "sent"
