from django.core.management.base import BaseCommand

from billing import services


class Command(BaseCommand):
    help = (
        "Expire lines past their validity plus LINE_EXPIRY_GRACE_DAYS, close unpaid orders past their time, "
        "and warn customers 7 days and 1 day before their lines end."
    )

    def handle(self, *args, **options):
        counts = services.expire_lines_run()
        self.stdout.write(
            f"expired={counts['expired']} orders_closed={counts['orders_closed']} warned={counts['warned']}"
        )
