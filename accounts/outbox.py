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
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts import message_kinds, sms
from accounts.models import OutboundMessage, SmsDailyCount

logger = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=6)
REDACTED = "[redacted after sending]"
# Receipts are awaited this long after sending (providers keep them for a few days).
RECEIPT_WINDOW = timedelta(days=2)
# Staff read it in admin beside the providers' own (English) errors.
ERR_DAILY_CAP = "Daily cap reached: this number was already sent %(cap)s SMS today (SMS_DAILY_CAP_PER_NUMBER)."

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


def _sms_of(message: OutboundMessage) -> sms.Sms:
    """The SMS as it leaves: the text and the template parameters, the one-time code put back in."""
    params = dict(message.params)
    kind = message_kinds.KINDS.get(message.kind)
    if kind is not None and message.pending_code:
        params.update(dict.fromkeys(kind.secret_params, message.pending_code))
    language = message.language or settings.LANGUAGE_CODE
    return sms.Sms(
        id=message.pk,
        recipient=message.recipient,
        text=_text_to_send(message),
        kind=message.kind,
        template_params=message_kinds.sms_template_params(message.kind, params, language=language),
        language=language,
    )


def sms_daily_allowance_take(recipient: str, *, now=None) -> bool:
    """Count one more SMS to this number today (Asia/Shanghai); False when it already had its cap.

    The count is a database row, so every app server and worker shares it: a conditional
    UPDATE adds one only below the cap, and the day's first message creates the row (the
    unique constraint makes a second creator fall back to the UPDATE).
    """
    cap = settings.SMS_DAILY_CAP_PER_NUMBER
    if not cap:
        return True
    day = timezone.localdate(now or timezone.now())
    below_cap = SmsDailyCount.objects.filter(recipient=recipient, day=day, count__lt=cap)
    if below_cap.update(count=F("count") + 1):
        return True
    if SmsDailyCount.objects.filter(recipient=recipient, day=day).exists():
        return False
    try:
        with transaction.atomic():
            SmsDailyCount.objects.create(recipient=recipient, day=day, count=1)
        return True
    except IntegrityError:
        return bool(below_cap.update(count=F("count") + 1))


def _deliver(message: OutboundMessage) -> str:
    provider_message_id = ""
    try:
        if message.channel == OutboundMessage.Channel.SMS:
            if not sms_daily_allowance_take(message.recipient):
                return _fail(message, ERR_DAILY_CAP % {"cap": settings.SMS_DAILY_CAP_PER_NUMBER}, give_up=True)
            provider_message_id = sms.get_backend().send_sms(_sms_of(message)) or ""
        else:
            send_mail(message.subject, _text_to_send(message), None, [message.recipient], fail_silently=False)
    except sms.SmsSendError as exc:
        return _fail(message, _error_text(message, exc), give_up=not exc.retry)
    except Exception as exc:  # noqa: BLE001 - any other provider error is retried
        return _fail(message, _error_text(message, exc))
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=OutboundMessage.Status.SENT,
        sent_at=timezone.now(),
        claimed_until=None,
        last_error="",
        pending_code="",
        provider_message_id=provider_message_id[:64],
        **({"body": REDACTED} if message.redact_after_send else {}),
    )
    return "sent"


def _error_text(message: OutboundMessage, exc: Exception) -> str:
    # A provider may quote the text it refused: the code must not reach staff that way either.
    error = f"{type(exc).__name__}: {exc}"
    if message.pending_code:
        error = error.replace(message.pending_code, OutboundMessage.CODE_MASK)
    return error


def _fail(message: OutboundMessage, error: str, *, give_up: bool = False) -> str:
    """Leave the message pending with a backoff, or give up on it (attempts used up, or no retry can help)."""
    gave_up = give_up or message.attempts >= settings.OUTBOX_MAX_ATTEMPTS
    backoff = min(timedelta(seconds=30 * 2 ** (message.attempts - 1)), MAX_BACKOFF)
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=OutboundMessage.Status.FAILED if gave_up else OutboundMessage.Status.PENDING,
        next_attempt_at=timezone.now() + backoff,
        claimed_until=None,
        last_error=error[:2000],
        **({"pending_code": ""} if gave_up else {}),
        **({"body": REDACTED} if gave_up and message.redact_after_send else {}),
    )
    logger.warning(
        "Sending %s to %s failed (attempt %s%s): %s",
        message.channel,
        message.recipient,
        message.attempts,
        ", given up" if gave_up else "",
        error,
    )
    return "gave_up" if gave_up else "failed"


def outbox_poll_receipts(*, limit: int = 500, now=None) -> dict:
    """Ask the SMS provider which sent messages reached the handset, and record its answers.

    Looks at SMS sent in the last ``RECEIPT_WINDOW`` that have a provider id and no receipt
    yet; a receipt already recorded is never changed, so polling twice records once.
    """
    now = now or timezone.now()
    waiting = list(
        OutboundMessage.objects.filter(
            channel=OutboundMessage.Channel.SMS,
            status=OutboundMessage.Status.SENT,
            delivery="",
            sent_at__gte=now - RECEIPT_WINDOW,
        )
        .exclude(provider_message_id="")
        .order_by("sent_at", "pk")
        .values_list("pk", "recipient", "provider_message_id", "sent_at")[:limit]
    )
    sent = [sms.SentSms(id=pk, recipient=to, provider_message_id=ref, sent_at=at) for pk, to, ref, at in waiting]
    receipts = sms.get_backend().fetch_receipts(sent) if sent else []
    return outbox_record_receipts(receipts)


def outbox_record_receipts(receipts: list[sms.Receipt]) -> dict:
    """Record delivery receipts on their messages, found by the provider's id; each is recorded once."""
    counts = {"delivered": 0, "undelivered": 0, "unknown": 0}
    for receipt in receipts:
        if not receipt.provider_message_id:
            counts["unknown"] += 1
            continue
        updated = OutboundMessage.objects.filter(
            channel=OutboundMessage.Channel.SMS, provider_message_id=receipt.provider_message_id, delivery=""
        ).update(
            delivery=OutboundMessage.Delivery.DELIVERED if receipt.delivered else OutboundMessage.Delivery.UNDELIVERED,
            delivered_at=receipt.reported_at,
            delivery_error=receipt.error[:200],
        )
        if not updated:
            counts["unknown"] += 1
        else:
            counts["delivered" if receipt.delivered else "undelivered"] += 1
    return counts


def sms_daily_counts_purge(*, now=None) -> int:
    """Delete the per-number counts of days before yesterday (they limit nothing any more)."""
    yesterday = timezone.localdate(now or timezone.now()) - timedelta(days=1)
    return SmsDailyCount.objects.filter(day__lt=yesterday).delete()[0]
