from django.core.management.base import BaseCommand, CommandError

from billing import services


class Command(BaseCommand):
    help = (
        "Ask the payment provider how every attempt that may have reached it ended (timed out, left 'created' "
        "by a worker that died during the provider call, or pending at a cashier past the order's time) and "
        "record the answer, so that nothing is charged twice and such orders can close; then the same for "
        "refunds not yet confirmed. "
        "Safe to run on several machines at once and to re-run after being killed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=500)

    def handle(self, *args, limit, **options):
        if limit < 1:
            raise CommandError("--limit must be 1 or more.")
        counts = services.payments_settle(limit=limit)
        refunds = services.refunds_settle(limit=limit)
        self.stdout.write(
            f"checked={counts['checked']} settled={counts['settled']} "
            f"refunds_checked={refunds['checked']} refunds_settled={refunds['settled']}"
        )
