from django.core.management.base import BaseCommand

from reviews import services


class Command(BaseCommand):
    help = (
        "Run the machine checks (OCR, face match, document expiry) of submissions that no background "
        "thread or worker ran: never started, or started by a process that stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=50, help="At most this many checks in one run.")

    def handle(self, *args, **options):
        if options["limit"] < 1:
            self.stderr.write("--limit must be at least 1.")
            raise SystemExit(2)
        count = services.machine_checks_run_pending(limit=options["limit"])
        self.stdout.write(f"checked={count}")
