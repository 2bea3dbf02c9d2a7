from django.core.management.base import BaseCommand

from api import idempotency, tokens


class Command(BaseCommand):
    help = (
        "Delete Idempotency-Key records older than API_IDEMPOTENCY_KEY_HOURS and refresh tokens past their "
        "expiry (the blacklist's own rows with them) and app sign-ins whose newest refresh token has expired. "
        "Idempotent; safe to run on several machines at once."
    )

    def handle(self, *args, **options):
        keys = idempotency.idempotency_keys_purge()
        expired = tokens.expired_tokens_purge()
        families = tokens.refresh_families_purge()
        self.stdout.write(f"idempotency_keys={keys} expired_tokens={expired} refresh_families={families}")
