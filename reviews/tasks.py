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


@shared_task(name="reviews.tasks.run_machine_check", ignore_result=True)
def run_machine_check(check_id: int) -> str:
    """Run one submission's machine checks (queued when the submission commits)."""
    check = services.machine_check_run(check_id=check_id)
    return check.status if check else "taken"


@shared_task(name="reviews.tasks.run_machine_checks", ignore_result=True)
def run_machine_checks() -> int:
    """Run what a lost task or a restart left pending."""
    return services.machine_checks_run_pending()


@shared_task(name="reviews.tasks.purge_submission_drafts", ignore_result=True)
def purge_submission_drafts() -> int:
    return services.drafts_purge_expired()
