from django.core.management.base import BaseCommand

from accounts import services


class Command(BaseCommand):
    help = "Send SMS and email from the outbox that are due, retrying earlier failures with backoff."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=500)

    def handle(self, *args, limit, **options):
        counts = services.outbox_dispatch_due(limit=limit)
        self.stdout.write(f"sent={counts['sent']} failed={counts['failed']} gave_up={counts['gave_up']}")
