"""Celery tasks of the reviews app; each calls the service its management command calls."""

from celery import shared_task

from reviews import services


@shared_task(name="reviews.tasks.release_expired_claims", ignore_result=True)
def release_expired_claims() -> int:
    return services.submissions_release_expired_claims()
