from django.core.management.base import BaseCommand

from accounts import services


class Command(BaseCommand):
    help = "Ask the SMS provider which sent messages reached the handset, and record its receipts."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=500)

    def handle(self, *args, limit, **options):
        counts = services.outbox_poll_receipts(limit=limit)
        purged = services.sms_daily_counts_purge()
        self.stdout.write(
            f"delivered={counts['delivered']} undelivered={counts['undelivered']} unknown={counts['unknown']} "
            f"old_daily_counts_removed={purged}"
        )
