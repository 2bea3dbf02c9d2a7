"""The outbox's sending: SMS and email rows claimed, delivered and retried with a backoff.

Rows are written by ``accounts.services`` (``outbox_queue``, ``notify``) inside the
transaction of their event. This module only sends them; it sits outside the services
package so that the worker's tasks (``accounts.tasks``), which the services queue, can
import it without importing the services back. A row is claimed with a conditional
UPDATE before it is sent, so two dispatchers never send the same message.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db.models import F, Q
from django.utils import timezone

from accounts import sms
from accounts.models import OutboundMessage

logger = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=6)
REDACTED = "[redacted after sending]"

# Set while a send task waits in the queue; the task deletes it when it starts. It lives in
# the cache the web processes and the workers share (Redis): settings turn it off
# (OUTBOX_SEND_TASK_QUEUED_SECONDS = 0) where the cache is per process.
SEND_TASK_QUEUED_KEY = "outbox:send-task-queued"


# A queued send task sends at most this many messages, the newest first, and leaves the
# rest to the next task it queues: a one-time code just committed is not held up behind a
# batch job's backlog (those are sent oldest first by the minutely dispatch_messages).
SEND_TASK_BATCH = 100


def outbox_send_queued() -> dict:
    """What a queued send task does: clear the "task waiting" mark, then send what is due, newest first.

    At most ``SEND_TASK_BATCH`` messages; when that many went, the task queues the next one.
    """
    try:
        cache.delete(SEND_TASK_QUEUED_KEY)
    except Exception:  # noqa: BLE001 - with the cache down every commit queues its own task
        logger.warning("Cache unavailable: could not clear the send-task mark; it times out by itself")
    return _dispatch(OutboundMessage.objects.all(), limit=SEND_TASK_BATCH, newest_first=True)


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


def _text_to_send(message: OutboundMessage) -> str:
    """The body, with a one-time code put back where it is masked (it is stored apart, see the model)."""
    if not message.pending_code:
        return message.body
    return message.body.replace(OutboundMessage.CODE_MASK, message.pending_code)


def _deliver(message: OutboundMessage) -> str:
    text = _text_to_send(message)
    try:
        if message.channel == OutboundMessage.Channel.SMS:
            sms.get_backend().send(message.recipient, text)
        else:
            send_mail(message.subject, text, None, [message.recipient], fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any provider error is retried
        gave_up = message.attempts >= settings.OUTBOX_MAX_ATTEMPTS
        backoff = min(timedelta(seconds=30 * 2 ** (message.attempts - 1)), MAX_BACKOFF)
        # A provider may quote the text it refused: the code must not reach staff that way either.
        error = f"{type(exc).__name__}: {exc}"
        if message.pending_code:
            error = error.replace(message.pending_code, OutboundMessage.CODE_MASK)
        OutboundMessage.objects.filter(pk=message.pk).update(
            status=OutboundMessage.Status.FAILED if gave_up else OutboundMessage.Status.PENDING,
            next_attempt_at=timezone.now() + backoff,
            claimed_until=None,
            last_error=error[:2000],
            **({"pending_code": ""} if gave_up else {}),
            **({"body": REDACTED} if gave_up and message.redact_after_send else {}),
        )
        logger.warning(
            "Sending %s to %s failed (attempt %s): %s", message.channel, message.recipient, message.attempts, error
        )
        return "gave_up" if gave_up else "failed"
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=OutboundMessage.Status.SENT,
        sent_at=timezone.now(),
        claimed_until=None,
        last_error="",
        pending_code="",
        **({"body": REDACTED} if message.redact_after_send else {}),
    )
    return "sent"
