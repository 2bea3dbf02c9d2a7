"""Celery tasks of the app's API; each calls what its management command calls."""

from celery import shared_task

from api import idempotency, tokens


@shared_task(name="api.tasks.purge_api_records", ignore_result=True)
def purge_api_records() -> dict:
    return {
        "idempotency_keys": idempotency.idempotency_keys_purge(),
        "expired_tokens": tokens.expired_tokens_purge(),
        "refresh_families": tokens.refresh_families_purge(),
    }
