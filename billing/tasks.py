"""Celery tasks of the billing app; each calls the services its management command calls."""

from celery import shared_task

from billing import services


@shared_task(name="billing.tasks.run_autorenew", ignore_result=True)
def run_autorenew() -> dict:
    # Timed-out payments are settled by asking the provider before anything is retried,
    # so a charge whose answer was lost is never made again.
    settled = services.payments_settle_unknown()
    return {**services.autorenew_run(), "settled_unknown_payments": settled}


@shared_task(name="billing.tasks.expire_lines", ignore_result=True)
def expire_lines() -> dict:
    return services.expire_lines_run()
