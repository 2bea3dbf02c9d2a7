"""In-app messages and the outbox of SMS and email.

An event writes its Notification and OutboundMessage rows inside its own transaction,
so a rollback sends nothing. Right after the commit the rows are sent in-process, or
handed to a Celery worker when a broker is configured (``OUTBOX_SEND_VIA_QUEUE``); a
failure leaves the row pending with a backoff, and ``dispatch_messages`` retries it
(the sending itself is ``accounts.outbox``).
"""

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Notification, OutboundMessage, User
from accounts.outbox import outbox_send
from accounts.tasks import send_messages_queue

logger = logging.getLogger(__name__)


def outbox_queue(
    *,
    channel: str,
    recipient: str,
    body: str,
    subject: str = "",
    redact_after_send: bool = False,
    pending_code: str = "",
) -> OutboundMessage:
    """Queue one SMS or email; it leaves after the current transaction commits.

    ``redact_after_send`` blanks the text once it is sent or given up on. ``pending_code`` is a
    one-time code that ``body`` shows as ``OutboundMessage.CODE_MASK``: it is put in only as the
    message leaves, and blanked once the message is sent or given up on.
    """
    message = OutboundMessage.objects.create(
        channel=channel,
        recipient=recipient,
        subject=subject[:200],
        body=body,
        redact_after_send=redact_after_send,
        pending_code=pending_code,
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
        send_messages_queue(ids)
        return
    try:
        outbox_send(ids=ids)
    except Exception:
        logger.exception("Sending messages %s after commit failed; dispatch_messages will retry", ids)
