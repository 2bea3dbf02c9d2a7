"""Usage records from the network's CSV files: imported once per file and per record.

A file is read as a stream, twice: once for its digest (the same file again stops there),
once to parse it row by row in Python, with no ORM work per row. A row whose fields are all
in their usual spelling (a mainland mobile number, an ISO 8601 time, a plain decimal
quantity…) is checked by precompiled patterns and passed on as text; any other row goes
through the exact checks (phonenumbers, datetime, Decimal), which also say why a bad row is
bad. On PostgreSQL the parsed rows go by COPY into a temporary staging table, and
PostgreSQL parses the times and quantities; one INSERT … SELECT … ON CONFLICT DO NOTHING per
month moves the new ones into the records' partitions, and what it RETURNs, summed per line
and day, is what the daily totals and the lines' allowances are changed by
(billing.services.usage_pg). SQLite takes the rows in chunks through the ORM with the same
results. Memory stays bounded whatever the file's size: one chunk of rows, and at most
MAX_REPORTED_BAD_ROWS bad-row messages (the rest are counted).
"""

import codecs
import csv
import hashlib
import io
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import BinaryIO
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import Line
from accounts.phones import parse_phone
from billing.models import LineService, UsageDaily, UsageImport, UsageRecord
from billing.services import usage_pg

COLUMNS = ("msisdn", "time", "type", "quantity")
ALLOWANCE_FIELD = {
    UsageRecord.Kind.DATA: "data_left_mb",
    UsageRecord.Kind.VOICE: "voice_left_minutes",
    UsageRecord.Kind.SMS: "sms_left",
}
DAILY_FIELD = {
    UsageRecord.Kind.DATA: "data_mb",
    UsageRecord.Kind.VOICE: "voice_minutes",
    UsageRecord.Kind.SMS: "sms_count",
}
KINDS = {kind.value: kind.value for kind in UsageRecord.Kind}
MAX_REPORTED_BAD_ROWS = 1000
# quantity is numeric(12, 3): below 10^9, at most three decimals.
MAX_QUANTITY = Decimal(10) ** 9
CHUNK_ROWS = 5000
READ_BLOCK = 1 << 20


@dataclass
class ImportReport:
    file_name: str
    imported: int = 0
    duplicates: int = 0
    already_imported: bool = False
    # The first MAX_REPORTED_BAD_ROWS problems; bad_row_count counts them all.
    bad_rows: list[str] = field(default_factory=list)
    bad_row_count: int = 0

    def bad_row(self, line_number: int, reason: str) -> None:
        self.bad_row_count += 1
        if len(self.bad_rows) < MAX_REPORTED_BAD_ROWS:
            self.bad_rows.append(f"line {line_number}: {reason}")


# A parsed row, as parse_rows yields it: (line number, E.164 number, time, kind, quantity,
# record key). The time is ISO 8601 text with its UTC offset (a time written without one is
# given the local one); the quantity is decimal text. Both are text so that PostgreSQL's COPY
# parses them itself; the SQLite path makes datetime and Decimal of them.
ParsedRow = tuple[int, str, str, str, str, str]


# --- Phone numbers: mainland mobiles in their two usual spellings are checked against
# phonenumbers' own pattern for Chinese mobiles (same answer, no parse); anything else
# goes through accounts.phones.parse_phone.
_CN_METADATA = phonenumbers.PhoneMetadata.metadata_for_region("CN")
# "+86" or nothing, then 11 digits that match both the general and the mobile pattern.
_MAINLAND_MOBILE = re.compile(
    rf"(?:\+86)?(?=1\d{{10}}\Z)(?=(?:{_CN_METADATA.general_desc.national_number_pattern})\Z)"
    rf"((?:{_CN_METADATA.mobile.national_number_pattern}))"
)

# --- The usual spellings of the other fields, taken as written when they match (the fast path
# of parse_rows). Anything else goes through the exact checks below, which give the reasons.
# PostgreSQL takes offsets up to 15:59:59 from UTC (real zones stay within 14 hours).
MAX_UTC_OFFSET = timedelta(hours=16)
# ISO 8601 date and time, seconds at most to the microsecond, an offset PostgreSQL accepts or none.
_USUAL_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-](?:0\d|1[0-5]):[0-5]\d)?")
# Digits, at most nine before the point and three after, not all of them zero.
_USUAL_QUANTITY = re.compile(r"(?=[.\d]*[1-9])\d{1,9}(?:\.\d{1,3})?")
# At most 64 characters, none of them a space or a NUL.
_USUAL_RECORD_ID = re.compile(r"[^\s\x00]{1,64}")


class NumberNormaliser:
    """E.164 numbers from the file's spelling, remembering the unusual ones (a bounded memo)."""

    MEMO_SIZE = 10_000

    def __init__(self):
        self.memo: dict[str, str | None] = {}

    def __call__(self, raw: str) -> str | None:
        match = _MAINLAND_MOBILE.fullmatch(raw)
        if match is not None:
            return "+86" + match[1]
        try:
            return self.memo[raw]
        except KeyError:
            pass
        if len(self.memo) >= self.MEMO_SIZE:
            self.memo.clear()
        number = self.memo[raw] = parse_phone(raw)
        return number


def _parse_time(text: str, zone: ZoneInfo) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = parse_datetime(text)  # the other spellings Django accepts
        except ValueError:  # well formed, but no such day or hour (30 February)
            return None
        if moment is None:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    elif abs(moment.utcoffset()) >= MAX_UTC_OFFSET:
        return None  # PostgreSQL refuses it, and no zone is that far from UTC
    return moment


def _parse_quantity(text: str) -> Decimal | None:
    """A positive quantity below MAX_QUANTITY with at most three decimals (as written), else None."""
    try:
        quantity = Decimal(text)
    except InvalidOperation:
        return None
    if not quantity.is_finite() or not (0 < quantity < MAX_QUANTITY):
        return None
    point = text.find(".")
    if "e" in text or "E" in text:
        precise = quantity.as_tuple().exponent >= -3
    else:
        precise = point < 0 or len(text) - point <= 4
    return quantity if precise else None


def _content_key(msisdn: str, moment: datetime, kind: str, quantity: Decimal) -> str:
    """The key of a record without an id: a digest of what it says."""
    return hashlib.sha256(f"{msisdn}|{moment.isoformat()}|{kind}|{quantity}".encode()).hexdigest()[:40]


def parse_rows(stream: BinaryIO, report: ImportReport) -> Iterator[ParsedRow]:
    """The file's good rows (ParsedRow), one at a time; each bad row goes to ``report`` with its line number.

    A row whose fields are all in their usual spelling (see _USUAL_TIME and the others) is
    checked by those patterns and one datetime.fromisoformat, and its time and quantity are
    passed on as written. Any other row, a bad one included, is checked field by field with
    datetime, Decimal and phonenumbers, which also give the reason a row is bad.

    Raises ValueError (before yielding anything) if a required column is missing, and
    UnicodeDecodeError if the file is not UTF-8.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    header = [name.strip() for name in next(reader, [])]
    missing = set(COLUMNS) - set(header)
    if missing:
        raise ValueError(f"missing column(s): {', '.join(sorted(missing))}")
    at = {name: header.index(name) for name in (*COLUMNS, "record_id") if name in header}
    i_msisdn, i_time, i_type, i_quantity = at["msisdn"], at["time"], at["type"], at["quantity"]
    i_record = at.get("record_id")
    width = max(at.values()) + 1
    zone = ZoneInfo(settings.TIME_ZONE)
    latest = timezone.now() + timedelta(days=1)
    # A time in the usual spelling whose text sorts before this day (so written on the day
    # before yesterday or earlier) cannot be later than ``latest``, whatever its offset: only
    # the others need the comparison of two datetimes in different zones, which is slow.
    surely_past = (latest - timedelta(days=2)).date().isoformat()
    normalise = NumberNormaliser()
    usual_number, usual_time = _MAINLAND_MOBILE.fullmatch, _USUAL_TIME.fullmatch
    usual_quantity, usual_record_id = _USUAL_QUANTITY.fullmatch, _USUAL_RECORD_ID.fullmatch

    def usual(row: list[str], line_number: int) -> ParsedRow | None:
        """The row if every field is in its usual spelling and good, else None (for the exact checks)."""
        number, time, kind, quantity = usual_number(row[i_msisdn]), row[i_time], KINDS.get(row[i_type]), row[i_quantity]
        record_id = row[i_record] if i_record is not None else ""
        if (
            number is None
            or kind is None
            or usual_time(time) is None
            or usual_quantity(quantity) is None
            or (record_id and usual_record_id(record_id) is None)
        ):
            return None
        try:
            moment = datetime.fromisoformat(time)  # the date itself checked: no 30 February
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
            time = moment.isoformat()
        if time >= surely_past and moment > latest:
            return None
        msisdn = "+86" + number[1]
        return (
            line_number,
            msisdn,
            time,
            kind,
            quantity,
            record_id or _content_key(msisdn, moment, kind, Decimal(quantity)),
        )

    def exact(row: list[str], line_number: int) -> ParsedRow | None:
        """The row checked field by field; None if it is bad (reported)."""
        if len(row) < width:
            row = row + [""] * (width - len(row))
        raw_number = row[i_msisdn]
        msisdn = normalise(raw_number.strip())
        if msisdn is None:
            report.bad_row(line_number, f"invalid number {raw_number!r}")
            return None
        moment = _parse_time(row[i_time].strip(), zone)
        if moment is None:
            report.bad_row(line_number, f"invalid time {row[i_time]!r}")
            return None
        if moment > latest:
            report.bad_row(line_number, f"time in the future {row[i_time]!r}")
            return None
        kind = KINDS.get(row[i_type].strip().lower())
        if kind is None:
            report.bad_row(line_number, f"invalid type {row[i_type]!r} (data, voice or sms)")
            return None
        quantity = _parse_quantity(row[i_quantity].strip())
        if quantity is None:
            report.bad_row(line_number, f"invalid quantity {row[i_quantity]!r}")
            return None
        record_id = row[i_record].strip() if i_record is not None else ""
        if "\x00" in record_id:
            report.bad_row(line_number, f"invalid record id {record_id!r}")
            return None
        key = record_id[:64] if record_id else _content_key(msisdn, moment, kind, quantity)
        return (line_number, msisdn, moment.isoformat(), kind, f"{quantity:f}", key)

    for row in reader:
        # The line the row ends on (a quoted value may span lines), as a text editor counts.
        line_number = reader.line_num
        if not row:
            continue
        parsed = (usual(row, line_number) if len(row) >= width else None) or exact(row, line_number)
        if parsed is not None:
            yield parsed


def file_digest(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(READ_BLOCK), b""):
        digest.update(block)
    return digest.hexdigest()


def usage_import(*, file_name: str, content: bytes | None = None, file: BinaryIO | None = None) -> ImportReport:
    """Import one usage file, given as bytes or as a seekable binary file.

    Bad rows are reported by line number and skipped; the good rows go in together or not at
    all, with the lines' allowances and daily totals. The same file twice imports nothing;
    the same record (line and record key) in two files, or twice in one, is counted once,
    also when two imports run at once.
    """
    stream = io.BytesIO(content) if file is None else file
    report = ImportReport(file_name=file_name)
    digest = file_digest(stream)
    if UsageImport.objects.filter(sha256=digest).exists():
        report.already_imported = True
        return report
    stream.seek(0)
    _check_header(stream)
    stream.seek(0)
    with transaction.atomic():
        try:
            with transaction.atomic():
                batch = UsageImport.objects.create(file_name=file_name, sha256=digest)
        except IntegrityError:
            # The same file, imported at this very moment by another worker, committed first.
            report.already_imported = True
            return report
        rows = _csv_errors_refused(parse_rows(stream, report))
        if usage_pg.is_available():
            unknown = usage_pg.merge(batch_id=batch.pk, rows=rows, report=report, max_unknown=MAX_REPORTED_BAD_ROWS)
        else:
            unknown = _merge_in_chunks(batch_id=batch.pk, rows=rows, report=report)
        for line_number, msisdn in unknown:
            report.bad_row(line_number, f"no line has the number {msisdn!r}")
        batch.record_count = report.imported
        batch.skipped_rows = report.bad_rows
        batch.save(update_fields=["record_count", "skipped_rows"])
    return report


def _csv_errors_refused(rows: Iterator[ParsedRow]) -> Iterator[ParsedRow]:
    """The rows; a file the CSV reader cannot read on (a field past its size limit) is refused whole."""
    try:
        yield from rows
    except csv.Error as error:
        raise ValueError(f"unreadable CSV: {error}") from error


def _check_header(stream: BinaryIO) -> None:
    """Refuse a file without the required columns before anything is written."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    first_line = decoder.decode(stream.readline(READ_BLOCK))
    header = next(csv.reader([first_line]), [])
    missing = set(COLUMNS) - {name.strip() for name in header}
    if missing:
        raise ValueError(f"missing column(s): {', '.join(sorted(missing))}")


# --- SQLite (the embedded default): the same results through the ORM, a chunk at a time.


def lines_by_number(numbers) -> dict[str, int]:
    """The line each number belongs to: the one in service, else the newest (a number can be reissued)."""
    in_service_first = Case(
        When(status=Line.Status.CANCELLED, then=Value(1)), default=Value(0), output_field=IntegerField()
    )
    found: dict[str, int] = {}
    for msisdn, line_id in (
        Line.objects.filter(msisdn__in=numbers).order_by(in_service_first, "-pk").values_list("msisdn", "pk")
    ):
        found.setdefault(str(msisdn), line_id)
    return found


def _merge_in_chunks(*, batch_id: int, rows: Iterator[ParsedRow], report: ImportReport) -> list[tuple[int, str]]:
    zone = ZoneInfo(settings.TIME_ZONE)
    unknown: list[tuple[int, str]] = []
    daily: dict[tuple[int, date], dict] = {}
    chunk: list[ParsedRow] = []

    def flush():
        lines = lines_by_number({msisdn for _line_number, msisdn, *_rest in chunk})
        matched = []
        for line_number, msisdn, *rest in chunk:
            line_id = lines.get(msisdn)
            if line_id is None:
                if len(unknown) < MAX_REPORTED_BAD_ROWS:
                    unknown.append((line_number, msisdn))
                else:
                    report.bad_row_count += 1
            else:
                matched.append((line_id, *rest))
        existing = set(
            UsageRecord.objects.filter(
                line_id__in={line_id for line_id, *_rest in matched},
                record_key__in={record_key for *_rest, record_key in matched},
            ).values_list("line_id", "record_key")
        )
        fresh = []
        for line_id, time, kind, quantity_text, record_key in matched:
            identity = (line_id, record_key)
            if identity in existing:
                report.duplicates += 1
                continue
            existing.add(identity)
            occurred_at, quantity = datetime.fromisoformat(time), Decimal(quantity_text)
            fresh.append(
                UsageRecord(
                    line_id=line_id,
                    kind=kind,
                    quantity=quantity,
                    occurred_at=occurred_at,
                    record_key=record_key,
                    source_id=batch_id,
                )
            )
            totals = daily.setdefault((line_id, occurred_at.astimezone(zone).date()), {"record_count": 0})
            totals[DAILY_FIELD[kind]] = totals.get(DAILY_FIELD[kind], Decimal(0)) + quantity
            totals["record_count"] += 1
        UsageRecord.objects.bulk_create(fresh, batch_size=1000)
        report.imported += len(fresh)
        chunk.clear()

    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK_ROWS:
            flush()
    if chunk:
        flush()
    _daily_add(daily)
    _allowances_consume(daily)
    return unknown


def _daily_add(daily: dict[tuple[int, date], dict]) -> None:
    existing = {
        (row.line_id, row.day): row
        for row in UsageDaily.objects.filter(
            line_id__in={line_id for line_id, _day in daily}, day__in={day for _line_id, day in daily}
        )
    }
    new, changed = [], []
    for (line_id, day), totals in daily.items():
        row = existing.get((line_id, day))
        if row is None:
            new.append(UsageDaily(line_id=line_id, day=day, **totals))
            continue
        for name, value in totals.items():
            setattr(row, name, getattr(row, name) + value)
        changed.append(row)
    UsageDaily.objects.bulk_create(new, batch_size=1000)
    UsageDaily.objects.bulk_update(changed, ["data_mb", "voice_minutes", "sms_count", "record_count"], batch_size=1000)


def _allowances_consume(daily: dict[tuple[int, date], dict]) -> None:
    per_line: dict[int, dict[str, Decimal]] = {}
    for (line_id, _day), totals in daily.items():
        line_totals = per_line.setdefault(line_id, {})
        for name in DAILY_FIELD.values():
            line_totals[name] = line_totals.get(name, Decimal(0)) + totals.get(name, Decimal(0))
    allowance = {daily_name: ALLOWANCE_FIELD[kind] for kind, daily_name in DAILY_FIELD.items()}
    for line_id in sorted(per_line):
        # Rounded up to whole units, as the network bills: per line and file.
        used = {
            allowance[name]: F(allowance[name]) - int(quantity.to_integral_value(rounding="ROUND_CEILING"))
            for name, quantity in per_line[line_id].items()
            if quantity
        }
        LineService.objects.filter(line_id=line_id).update(**used)


def usage_import_stored(*, name: str) -> ImportReport:
    """Import the file ``name`` of the storage settings.USAGE_IMPORT_STORAGE (the Celery task's path)."""
    with storages[settings.USAGE_IMPORT_STORAGE].open(name, "rb") as stored, tempfile.TemporaryFile() as local:
        shutil.copyfileobj(stored, local, READ_BLOCK)
        local.seek(0)
        return usage_import(file_name=name.rsplit("/", 1)[-1], file=local)
