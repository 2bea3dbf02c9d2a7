"""Usage records from the network's CSV files: imported once per file and per record."""

import csv
import hashlib
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.backends import parse_phone
from accounts.models import Line
from billing.models import LineService, UsageImport, UsageRecord

COLUMNS = ("msisdn", "time", "type", "quantity")
ALLOWANCE_FIELD = {
    UsageRecord.Kind.DATA: "data_left_mb",
    UsageRecord.Kind.VOICE: "voice_left_minutes",
    UsageRecord.Kind.SMS: "sms_left",
}


@dataclass
class ImportReport:
    file_name: str
    imported: int = 0
    duplicates: int = 0
    already_imported: bool = False
    bad_rows: list[str] = field(default_factory=list)


def _parse_row(row: dict) -> tuple[str, object, str, Decimal]:
    msisdn = parse_phone(row.get("msisdn", ""))
    if msisdn is None:
        raise ValueError(f"invalid number {row.get('msisdn')!r}")
    moment = parse_datetime((row.get("time") or "").strip())
    if moment is None:
        raise ValueError(f"invalid time {row.get('time')!r}")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    kind = (row.get("type") or "").strip().lower()
    if kind not in ALLOWANCE_FIELD:
        raise ValueError(f"invalid type {row.get('type')!r} (data, voice or sms)")
    try:
        quantity = Decimal((row.get("quantity") or "").strip())
    except InvalidOperation as error:
        raise ValueError(f"invalid quantity {row.get('quantity')!r}") from error
    if quantity <= 0 or quantity.as_tuple().exponent < -3:
        raise ValueError(f"invalid quantity {row.get('quantity')!r}")
    return msisdn, moment, kind, quantity


def usage_import(*, file_name: str, content: bytes) -> ImportReport:
    """Import one usage file. Bad rows are reported by line number and skipped; the good rows
    go in together or not at all. The same file twice imports nothing; the same record in
    two files is counted once.
    """
    report = ImportReport(file_name=file_name)
    digest = hashlib.sha256(content).hexdigest()
    if UsageImport.objects.filter(sha256=digest).exists():
        report.already_imported = True
        return report
    reader = csv.DictReader(io.StringIO(content.decode("utf-8-sig")))
    missing = set(COLUMNS) - set(reader.fieldnames or [])
    if missing:
        raise ValueError(f"missing column(s): {', '.join(sorted(missing))}")
    parsed = []
    for line_number, row in enumerate(reader, start=2):
        try:
            parsed.append((line_number, row, *_parse_row(row)))
        except ValueError as error:
            report.bad_rows.append(f"line {line_number}: {error}")
    lines = dict(Line.objects.filter(msisdn__in={item[2] for item in parsed}).values_list("msisdn", "pk"))
    with transaction.atomic():
        batch = UsageImport.objects.create(file_name=file_name, sha256=digest)
        records = []
        for line_number, row, msisdn, moment, kind, quantity in parsed:
            line_id = lines.get(msisdn)
            if line_id is None:
                report.bad_rows.append(f"line {line_number}: no line has the number {row.get('msisdn')!r}")
                continue
            key = (row.get("record_id") or "").strip() or hashlib.sha256(
                f"{msisdn}|{moment.isoformat()}|{kind}|{quantity}".encode()
            ).hexdigest()[:40]
            records.append(
                UsageRecord(line_id=line_id, kind=kind, quantity=quantity, occurred_at=moment, record_key=key[:64])
            )
        existing = set(
            UsageRecord.objects.filter(
                line_id__in={record.line_id for record in records},
                record_key__in={record.record_key for record in records},
            ).values_list("line_id", "record_key")
        )
        fresh, seen = [], set()
        for record in records:
            identity = (record.line_id, record.record_key)
            if identity in existing or identity in seen:
                report.duplicates += 1
                continue
            seen.add(identity)
            record.source = batch
            fresh.append(record)
        UsageRecord.objects.bulk_create(fresh, batch_size=2000)
        _consume_allowances(fresh)
        batch.record_count = len(fresh)
        batch.skipped_rows = report.bad_rows
        batch.save(update_fields=["record_count", "skipped_rows"])
    report.imported = len(fresh)
    return report


def _consume_allowances(records: list[UsageRecord]) -> None:
    totals: dict[tuple[int, str], Decimal] = {}
    for record in records:
        key = (record.line_id, ALLOWANCE_FIELD[record.kind])
        totals[key] = totals.get(key, Decimal(0)) + record.quantity
    for (line_id, field_name), quantity in totals.items():
        # Round usage up to whole units, as the network bills.
        used = int(quantity.to_integral_value(rounding="ROUND_CEILING"))
        LineService.objects.filter(line_id=line_id).update(**{field_name: F(field_name) - used})
