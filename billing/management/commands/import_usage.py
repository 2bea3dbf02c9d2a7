from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from billing import services


class Command(BaseCommand):
    help = (
        "Import a usage CSV from the network (columns msisdn, time, type, quantity, and optionally record_id). "
        "Each file and each record is imported once; bad rows are reported with their line number and skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        if not file.exists():
            raise CommandError(f"{file} does not exist.")
        try:
            report = services.usage_import(file_name=file.name, content=file.read_bytes())
        except (ValueError, UnicodeDecodeError) as error:
            raise CommandError(f"{file}: {error}") from error
        if report.already_imported:
            self.stdout.write(self.style.WARNING(f"{file.name} was imported before; nothing done."))
            return
        for problem in report.bad_rows:
            self.stderr.write(f"skipped {problem}")
        self.stdout.write(
            self.style.SUCCESS(
                f"imported={report.imported} duplicates={report.duplicates} skipped={len(report.bad_rows)}"
            )
        )
