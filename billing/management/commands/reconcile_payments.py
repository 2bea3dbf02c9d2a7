from datetime import date, timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing import services
from billing.gateways import gateway_named


class Command(BaseCommand):
    help = (
        "Match a provider's statement of one day (downloaded from it, or read from --file) against our payments "
        "and refunds, and record what is missing on either side or differs. Without --provider: every real "
        "provider, yesterday. Safe to re-run: the day's open discrepancies are replaced."
    )

    def add_arguments(self, parser):
        parser.add_argument("--provider", help="The gateway name, e.g. alipay or wechat.")
        parser.add_argument("--day", type=date.fromisoformat, help="YYYY-MM-DD (default: yesterday).")
        parser.add_argument("--file", type=Path, help="A statement file as the provider publishes it.")

    def handle(self, *args, provider, day, file, **options):
        day = day or timezone.localdate() - timedelta(days=1)
        if provider is None:
            if file is not None:
                raise CommandError("--file needs --provider.")
            for name, result in services.reconcile_yesterday(today=day + timedelta(days=1)).items():
                self.stdout.write(f"{name} {day}: {result}")
            return
        try:
            gateway = gateway_named(provider)
        except KeyError as error:
            raise CommandError(f"Unknown provider {provider!r}.") from error
        try:
            if file is not None:
                lines = gateway.parse_statement(file.read_bytes())
                report = services.reconcile(provider=provider, day=day, lines=lines, source=file.name)
            else:
                report = services.reconcile(provider=provider, day=day)
        except (OSError, ValueError, NotImplementedError) as error:
            raise CommandError(str(error)) from error
        open_count = report.discrepancies.filter(resolved_at__isnull=True).count()
        self.stdout.write(
            f"{provider} {day}: lines={report.line_count} matched={report.matched_count} discrepancies={open_count}"
        )
