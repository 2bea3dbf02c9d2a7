from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from billing import services


class Command(BaseCommand):
    help = (
        "Import a usage CSV from the network (columns msisdn, time, type, quantity, and optionally record_id). "
        "The file is read as a stream, in bounded memory. Each file and each record is imported once; bad rows "
        "are reported with their line number and skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        if not file.is_file():
            raise CommandError(f"{file} does not exist.")
        try:
            with file.open("rb") as stream:
                report = services.usage_import(file_name=file.name, file=stream)
        except (ValueError, UnicodeDecodeError) as error:
            raise CommandError(f"{file}: {error}") from error
        if report.already_imported:
            self.stdout.write(self.style.WARNING(f"{file.name} was imported before; nothing done."))
            return
        for problem in report.bad_rows:
            self.stderr.write(f"skipped {problem}")
        if report.bad_row_count > len(report.bad_rows):
            self.stderr.write(f"… and {report.bad_row_count - len(report.bad_rows)} more skipped rows")
        self.stdout.write(
            self.style.SUCCESS(
                f"imported={report.imported} duplicates={report.duplicates} skipped={report.bad_row_count}"
            )
        )
