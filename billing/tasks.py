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


@shared_task(name="billing.tasks.maintain_usage_partitions", ignore_result=True)
def maintain_usage_partitions() -> dict:
    return services.usage_partitions_maintain()


@shared_task(name="billing.tasks.import_usage_file", ignore_result=True)
def import_usage_file(name: str) -> dict:
    """Import one usage file from object storage (settings.USAGE_IMPORT_STORAGE): one file per task.

    The file is copied to a local temporary file first (the import reads it twice: for its
    digest, then row by row), a block at a time. Two workers given overlapping files, or
    the same file, still count each record once.
    """
    report = services.usage_import_stored(name=name)
    return {
        "file": name,
        "imported": report.imported,
        "duplicates": report.duplicates,
        "skipped": report.bad_row_count,
        "already_imported": report.already_imported,
    }


@shared_task(name="billing.tasks.reconcile_payments", ignore_result=True)
def reconcile_payments() -> dict:
    return services.reconcile_yesterday()
