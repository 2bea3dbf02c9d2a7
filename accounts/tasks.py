"""Celery tasks of the accounts app; each calls the service its management command calls.

The outbox is its own retry mechanism (backoff, attempts, leases), so these tasks never
retry through Celery: a failed send stays pending for the next ``dispatch_messages``.
"""

from celery import shared_task

from accounts import services


@shared_task(name="accounts.tasks.send_messages", ignore_result=True)
def send_messages(message_ids: list[int]) -> dict:
    """Send these outbox rows now (queued right after their transaction committed)."""
    return services.outbox_send(ids=message_ids)


@shared_task(name="accounts.tasks.dispatch_messages", ignore_result=True)
def dispatch_messages() -> dict:
    """Send what is due: new rows nobody queued (broker was down) and earlier failures past their backoff."""
    return services.outbox_dispatch_due()


@shared_task(name="accounts.tasks.purge_personal_data", ignore_result=True)
def purge_personal_data() -> dict:
    return services.personal_data_purge()
