from django.core.management.base import BaseCommand

from customers import services


class Command(BaseCommand):
    help = (
        "Erase names, ID numbers, contact details, photos and saved cards of customers whose last line was cancelled "
        "more than PERSONAL_DATA_RETENTION_DAYS ago, keeping amounts, dates and receipt numbers. "
        "Idempotent; safe to run on several machines at once."
    )

    def handle(self, *args, **options):
        totals = services.personal_data_purge()
        self.stdout.write(
            f"erased_customers={totals['users']} submissions={totals['submissions']} photos={totals['photos']} "
            f"messages={totals['notifications']} saved_cards={totals['saved_cards']}"
        )
