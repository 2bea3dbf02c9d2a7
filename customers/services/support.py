"""Support conversations (客服留言): customers write, support answers, the customer is nudged."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from accounts import message_kinds
from accounts.models import User
from accounts.services import audit_record, notify
from customers.models import SupportMessage, SupportThread

ERR_THREAD_CLOSED = gettext_lazy("This conversation is closed. Start a new one.")
ERR_EMPTY = gettext_lazy("Write a message first.")


class SupportError(Exception):
    pass


def support_thread_open(*, actor: User, topic: str, body: str) -> SupportThread:
    """Open a conversation: the customer (``actor``) writes the first message."""
    customer = actor
    body = (body or "").strip()
    if not body:
        raise SupportError(ERR_EMPTY)
    now = timezone.now()
    with transaction.atomic():
        thread = SupportThread.objects.create(
            customer=customer, topic=topic, created_at=now, waiting_since=now, last_message_at=now
        )
        SupportMessage.objects.create(thread=thread, author=customer, body=body, created_at=now)
        audit_record(actor=customer, verb="support.thread_opened", target=thread, subject_user=customer)
    return thread


def support_message_add(*, thread_id: int, actor: User, body: str) -> SupportMessage:
    """Add the customer's or support's message (``actor``) to a conversation.

    From staff: the thread is answered and the customer is told (in-app, SMS, email).
    """
    author = actor
    body = (body or "").strip()
    if not body:
        raise SupportError(ERR_EMPTY)
    now = timezone.now()
    with transaction.atomic():
        thread = SupportThread.objects.select_for_update().select_related("customer").get(pk=thread_id)
        if thread.status == SupportThread.Status.CLOSED:
            raise SupportError(ERR_THREAD_CLOSED)
        from_staff = author.is_staff
        message = SupportMessage.objects.create(
            thread=thread, author=author, from_staff=from_staff, body=body, created_at=now
        )
        thread.last_message_at = now
        if from_staff:
            thread.status = SupportThread.Status.ANSWERED
            thread.waiting_since = None
            if thread.assignee_id is None:
                thread.assignee = author
            notify(
                user=thread.customer,
                kind=message_kinds.SUPPORT_ANSWERED,
                params={"text": body[:300]},
                link=f"/support/{thread.pk}/",
            )
            audit_record(actor=author, verb="support.answered", target=thread, subject_user=thread.customer)
        else:
            thread.status = SupportThread.Status.OPEN
            thread.waiting_since = thread.waiting_since or now
        thread.save(update_fields=["status", "waiting_since", "last_message_at", "assignee"])
    return message


def support_thread_assign(*, thread_id: int, assignee: User, actor: User) -> SupportThread:
    """Give an open or answered conversation to ``assignee``."""
    with transaction.atomic():
        thread = SupportThread.objects.select_for_update().get(pk=thread_id)
        if thread.status == SupportThread.Status.CLOSED:
            raise SupportError(ERR_THREAD_CLOSED)
        thread.assignee = assignee
        thread.save(update_fields=["assignee"])
        audit_record(actor=actor, verb="support.assigned", target=thread, subject_user=thread.customer,
                     data={"assignee": assignee.pk})  # fmt: skip
    return thread


def support_thread_close(*, thread_id: int, actor: User) -> SupportThread:
    """Close a conversation; closing it twice is refused (one event per close)."""
    with transaction.atomic():
        thread = SupportThread.objects.select_for_update().get(pk=thread_id)
        if thread.status == SupportThread.Status.CLOSED:
            raise SupportError(ERR_THREAD_CLOSED)
        thread.status = SupportThread.Status.CLOSED
        thread.waiting_since = None
        thread.save(update_fields=["status", "waiting_since"])
        audit_record(actor=actor, verb="support.closed", target=thread, subject_user=thread.customer)
    return thread
