"""Celery tasks of the reviews app; each calls the service its management command calls."""

from celery import shared_task

from reviews import selectors, services


@shared_task(name="reviews.tasks.release_expired_claims", ignore_result=True)
def release_expired_claims() -> int:
    return services.submissions_release_expired_claims()


@shared_task(name="reviews.tasks.refresh_dashboard", ignore_result=True)
def refresh_dashboard() -> str:
    """Keep the staff dashboard's past days counted in the shared cache."""
    return selectors.dashboard_cache_refresh()


@shared_task(name="reviews.tasks.purge_submission_drafts", ignore_result=True)
def purge_submission_drafts() -> int:
    return services.drafts_purge_expired()
