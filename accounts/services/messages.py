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

from accounts import message_kinds
from accounts.message_kinds import MessageKind
from accounts.models import Notification, NumberQuarantine, OutboundMessage, User
from accounts.outbox import outbox_send
from accounts.tasks import send_messages_queue
from heyon_site.bulk import rows_insert

logger = logging.getLogger(__name__)


def _kind(kind: MessageKind | str) -> MessageKind:
    found = message_kinds.KINDS.get(str(kind))
    if found is None:
        raise ValueError(f"unknown message kind {kind!r}")
    return found


def _outbound_rows(
    *, kind: MessageKind, params: dict, recipients: list[tuple[str, str]], language: str, pending_code: str = ""
) -> list[OutboundMessage]:
    """Unsaved outbox rows, one per (channel, recipient): the message rendered once in ``language``.

    A secret parameter (a one-time code) is left out of the stored parameters and masked in the text.
    """
    if not recipients:
        return []
    stored = {name: value for name, value in params.items() if name not in kind.secret_params}
    shown = {**stored, **dict.fromkeys(kind.secret_params, OutboundMessage.CODE_MASK)}
    rendered = message_kinds.render(kind.key, shown, language=language)
    rows = []
    for channel, recipient in recipients:
        if channel == OutboundMessage.Channel.SMS:
            subject, body = "", message_kinds.sms_text(kind, rendered, language=language)
        else:
            subject, body = rendered.subject[:200], rendered.body
        rows.append(
            OutboundMessage(
                channel=channel,
                recipient=recipient,
                kind=kind.key,
                params=stored,
                language=language,
                subject=subject,
                body=body,
                pending_code=pending_code,
            )
        )
    return rows


def outbox_queue(
    *,
    channel: str,
    recipient: str,
    kind: MessageKind | str,
    params: dict | None = None,
    language: str | None = None,
    redact_after_send: bool = False,
    pending_code: str = "",
) -> OutboundMessage:
    """Queue one SMS or email of ``kind`` to someone who may have no account; it leaves after the commit.

    ``language`` defaults to the site's. ``redact_after_send`` blanks the text once it is sent or
    given up on. ``pending_code`` is the one-time code of the kind's secret parameter: the stored
    text and parameters show it masked, and it is put in only as the message leaves, then blanked.
    """
    (message,) = _outbound_rows(
        kind=_kind(kind),
        params=message_kinds.encode_params(params),
        recipients=[(channel, recipient)],
        language=language or settings.LANGUAGE_CODE,
        pending_code=pending_code,
    )
    message.redact_after_send = redact_after_send
    message.save()
    if settings.OUTBOX_SEND_ON_COMMIT:
        transaction.on_commit(lambda: _send_after_commit([message.pk]))
    return message


def user_ids_with_numbers_given_up(users) -> set[int]:
    """The ids of these users whose number's line was cancelled after they confirmed the number.

    A cancelled number rests for NUMBER_QUARANTINE_DAYS and is then sold again, while the
    account that signed in with it lives on (its other lines, or the years its records are
    kept): a text to it would reach whoever holds the number now. One query for any number
    of users.
    """
    confirmed = [user for user in users if user.phone and user.phone_verified_at]
    if not confirmed:
        return set()
    rests_since = {
        number.as_e164: since
        for number, since in NumberQuarantine.objects.filter(msisdn__in=[user.phone for user in confirmed]).values_list(
            "msisdn", "created_at"
        )
    }
    return {
        user.pk
        for user in confirmed
        if (since := rests_since.get(user.phone.as_e164)) is not None and since > user.phone_verified_at
    }


def _messages_for(user, kind: MessageKind, params: dict, link: str, *, sms_too: bool, email_too: bool):
    """The inbox row and the SMS/email rows of one message; ``sms_too`` False for a number given up."""
    notification = Notification(user_id=user.pk, kind=kind.key, params=params, link=link)
    recipients = []
    if sms_too and user.phone:
        recipients.append((OutboundMessage.Channel.SMS, user.phone.as_e164))
    if email_too and user.email:
        recipients.append((OutboundMessage.Channel.EMAIL, user.email))
    outbound = _outbound_rows(kind=kind, params=params, recipients=recipients, language=user.message_language)
    return notification, outbound


def notify(
    *,
    user,
    kind: MessageKind | str,
    params: dict | None = None,
    link: str = "",
    sms_too: bool = True,
    email_too: bool = True,
) -> Notification:
    """Put a message of ``kind`` in the user's inbox and queue it by SMS and/or email.

    The inbox keeps the kind and parameters and renders them in the reader's language; the
    SMS and email are written in the user's chosen language. No SMS goes to a number the user
    gave up (``user_ids_with_numbers_given_up``).
    """
    sms_too = sms_too and bool(user.phone) and user.pk not in user_ids_with_numbers_given_up([user])
    notification, outbound = _messages_for(
        user, _kind(kind), message_kinds.encode_params(params), link, sms_too=sms_too, email_too=email_too
    )
    notification.save()
    # The SMS and the email in one INSERT, and handed on together after the commit.
    _send_after_commit_all(OutboundMessage.objects.bulk_create(outbound))
    return notification


def notify_many(items: Iterable[tuple[User, MessageKind | str, dict, str]], *, send_now: bool = True) -> int:
    """Bulk ``notify``: items are (user, kind, params, link) tuples; one INSERT per table (a batch job's by COPY).

    Numbers given up get no SMS, as in ``notify`` (one query for the whole batch).

    With ``send_now=False`` the messages wait for ``dispatch_messages`` instead of being
    sent right after commit (a batch of thousands should not be sent by the job itself).
    """
    items = list(items)
    given_up = user_ids_with_numbers_given_up([user for user, _kind_key, _params, _link in items])
    notifications, outbound = [], []
    for user, kind, params, link in items:
        notification, messages = _messages_for(
            user,
            _kind(kind),
            message_kinds.encode_params(params),
            link,
            sms_too=user.pk not in given_up,
            email_too=True,
        )
        notifications.append(notification)
        outbound.extend(messages)
    rows_insert(Notification, notifications)
    if send_now:
        # Sent right after the commit, by id: ids that only bulk_create gives back.
        _send_after_commit_all(OutboundMessage.objects.bulk_create(outbound, batch_size=1000))
    else:
        rows_insert(OutboundMessage, outbound)
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
