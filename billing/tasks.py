"""Celery tasks of the billing app; each calls the services its management command calls."""

from celery import shared_task

from billing import services


@shared_task(name="billing.tasks.run_autorenew", ignore_result=True)
def run_autorenew() -> dict:
    # Payments whose answer was lost are settled by asking the provider before anything is
    # retried, so a charge that went through is never made again.
    settled = services.payments_settle()["settled"]
    return {**services.autorenew_run(), "settled_unknown_payments": settled}


@shared_task(name="billing.tasks.settle_payments", ignore_result=True)
def settle_payments() -> dict:
    # Refunds whose answer was lost or that the provider is still processing are asked about too.
    return {**services.payments_settle(), "refunds": services.refunds_settle()}


@shared_task(name="billing.tasks.expire_lines", ignore_result=True)
def expire_lines() -> dict:
    return services.expire_lines_run()


@shared_task(name="billing.tasks.reconcile_payments", ignore_result=True)
def reconcile_payments() -> dict:
    return services.reconcile_yesterday()
