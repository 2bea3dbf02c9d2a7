"""Import a supplier's batch of eSIM lines and activation codes, and send each code to its buyer."""

import csv
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from accounts import services
from accounts.models import Line
from accounts.phones import parse_phone

COLUMNS = {"msisdn", "iccid"}


class Command(BaseCommand):
    help = (
        "Import lines from a CSV with columns msisdn, iccid and optionally activation_code, buyer_phone, "
        "buyer_email and plan (the code of the plan the line was sold with; empty: DEFAULT_LINE_PLAN). "
        "Lines already present (same number) are skipped, so a batch can be imported twice. "
        "The whole file is refused if any row is invalid."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        if not file.exists():
            raise CommandError(f"{file} does not exist.")
        with file.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = COLUMNS - set(reader.fieldnames or [])
            if missing:
                raise CommandError(f"Missing column(s): {', '.join(sorted(missing))}")
            rows = list(reader)
        created, skipped, errors = 0, 0, []
        with transaction.atomic():
            for number, row in enumerate(rows, start=2):  # line 1 is the header
                msisdn = parse_phone(row["msisdn"])
                if msisdn is None:
                    errors.append(f"line {number}: invalid number {row['msisdn']!r}")
                    continue
                if Line.objects.filter(msisdn=msisdn).exists():
                    skipped += 1
                    continue
                raw_phone = (row.get("buyer_phone") or "").strip()
                buyer_phone = parse_phone(raw_phone) if raw_phone else None
                if raw_phone and buyer_phone is None:
                    # Dropping it silently would leave the buyer without their code.
                    errors.append(f"line {number}: invalid buyer phone {raw_phone!r}")
                    continue
                buyer_email = (row.get("buyer_email") or "").strip() or None
                try:
                    if buyer_email:
                        validate_email(buyer_email)
                    services.line_create(
                        msisdn=msisdn,
                        iccid=(row["iccid"] or "").strip(),
                        activation_code=(row.get("activation_code") or "").strip() or None,
                        buyer_phone=buyer_phone,
                        buyer_email=buyer_email,
                        plan_code=(row.get("plan") or "").strip(),
                    )
                except (ValidationError, services.LineError) as error:
                    errors.append(f"line {number}: {'; '.join(getattr(error, 'messages', [str(error)]))}")
                    continue
                created += 1
            if errors:
                transaction.set_rollback(True)
        if errors:
            raise CommandError("Nothing imported. Fix these rows:\n" + "\n".join(errors))
        self.stdout.write(self.style.SUCCESS(f"created={created} skipped={skipped}"))
