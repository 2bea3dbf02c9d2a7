"""Celery tasks of the customer portal; each calls the service its management command calls."""

from celery import shared_task

from customers import services


@shared_task(name="customers.tasks.purge_personal_data", ignore_result=True)
def purge_personal_data() -> dict:
    return services.personal_data_purge()
