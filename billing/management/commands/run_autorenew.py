from django.core.management.base import BaseCommand

from billing import services


class Command(BaseCommand):
    help = (
        "Renew lines with auto-renew on whose validity ends within AUTORENEW_WINDOW_DAYS, wallet first. "
        "Safe to run on several machines at once and to re-run after being killed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=500)

    def handle(self, *args, chunk_size, **options):
        settled = services.payments_settle()["settled"]
        counts = services.autorenew_run(chunk_size=chunk_size)
        self.stdout.write(
            f"renewed={counts['renewed']} card_renewed={counts['card_renewed']} failed={counts['failed']} "
            f"skipped={counts['skipped']} settled_unknown_payments={settled}"
        )
