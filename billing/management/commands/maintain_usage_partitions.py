from django.core.management.base import BaseCommand

from billing import services


class Command(BaseCommand):
    help = (
        "On PostgreSQL, make the usage tables' monthly partitions USAGE_PARTITIONS_AHEAD_MONTHS ahead, and detach "
        "and drop those past USAGE_RETENTION_MONTHS (records) and USAGE_ROLLUP_RETENTION_MONTHS (daily totals). "
        "Run daily; on SQLite it does nothing."
    )

    def handle(self, *args, **options):
        result = services.usage_partitions_maintain()
        for name in result["created"]:
            self.stdout.write(f"created {name}")
        for name in result["dropped"]:
            self.stdout.write(f"dropped {name}")
        self.stdout.write(self.style.SUCCESS(f"created={len(result['created'])} dropped={len(result['dropped'])}"))
