"""Celery tasks of the accounts app; each calls the service its management command calls.

The outbox is its own retry mechanism (backoff, attempts, leases), so these tasks never
retry through Celery: a failed send stays pending for the next ``dispatch_messages``.
"""

from celery import shared_task

from accounts import services


@shared_task(name="accounts.tasks.send_messages", ignore_result=True)
def send_messages(message_ids: list[int] | None = None) -> dict:
    """Send what is pending now (queued right after a transaction committed messages).

    With ``message_ids`` (tasks an earlier release queued, met during an upgrade), only those rows.
    """
    if message_ids is not None:
        return services.outbox_send(ids=message_ids)
    return services.outbox_send_queued()


@shared_task(name="accounts.tasks.dispatch_messages", ignore_result=True)
def dispatch_messages() -> dict:
    """Send what is due: new rows nobody queued (broker was down) and earlier failures past their backoff."""
    return services.outbox_dispatch_due()
