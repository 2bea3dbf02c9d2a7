"""Usage on PostgreSQL: monthly partitions made ahead and on demand, retention by whole partitions, imports at once.

Run with ``DATABASE_URL=postgres://… pytest -m postgres``; on SQLite these are skipped.
"""

from datetime import date, datetime
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from billing import services
from billing.models import LineService, Plan, UsageDaily, UsageImport, UsageRecord
from billing.services.usage_partitions import partitions
from tests.billing.conftest import fund, renewal_order, verified_customer
from tests.races import NEEDS_POSTGRESQL, RACE_MARKS, errors, run_together, values

ON_POSTGRESQL = [pytest.mark.postgres, pytest.mark.skipif(connection.vendor != "postgresql", reason=NEEDS_POSTGRESQL)]
pytestmark = ON_POSTGRESQL

HEADER = "msisdn,time,type,quantity,record_id\n"
RECORDS, DAILY = UsageRecord._meta.db_table, UsageDaily._meta.db_table
BEIJING = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=BEIJING)


def served_line():
    user, line = verified_customer()
    fund(user, "30")
    order = renewal_order(user, line, Plan.objects.get(code="basic", is_current=True))
    services.order_pay(order_id=order.pk, method="wallet", actor=user)
    return line


def csv_bytes(rows) -> bytes:
    return (HEADER + "".join(row + "\n" for row in rows)).encode()


def partition_of(record_key: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT CAST(tableoid AS regclass) FROM {RECORDS} WHERE record_key = %s", [record_key])  # noqa: S608
        return str(cursor.fetchone()[0])


@pytest.mark.django_db
def test_the_scheduled_run_makes_the_months_ahead_once(settings):
    settings.USAGE_PARTITIONS_AHEAD_MONTHS = 3

    first = services.usage_partitions_maintain(now=NOW)
    second = services.usage_partitions_maintain(now=NOW)

    months = [date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)]
    for table in (RECORDS, DAILY):
        assert set(months) <= set(partitions(table))
        assert date(2027, 4, 1) not in partitions(table)
    assert second == {"created": [], "dropped": []}
    assert set(first["created"]) <= {f"{table}_p{month:%Y_%m}" for table in (RECORDS, DAILY) for month in months}


@pytest.mark.django_db
def test_an_import_makes_a_missing_month_and_each_record_lands_in_its_local_month():
    line = served_line()
    number = line.msisdn.as_e164
    services.usage_import(
        file_name="old.csv",
        content=csv_bytes(
            [
                f"{number},2021-03-31T23:30:00+08:00,data,1,late-march",
                f"{number},2021-03-31T16:30:00Z,data,1,early-april",  # 00:30 on 1 April in Beijing
            ]
        ),
    )

    assert partition_of("late-march") == f"{RECORDS}_p2021_03"
    assert partition_of("early-april") == f"{RECORDS}_p2021_04"
    assert {date(2021, 3, 1), date(2021, 4, 1)} <= set(partitions(DAILY))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT indexdef FROM pg_indexes WHERE indexname = '{RECORDS}_p2021_03_once'")  # noqa: S608
        assert "UNIQUE" in cursor.fetchone()[0]


@pytest.mark.django_db
def test_retention_drops_exactly_the_months_past_the_limits(settings):
    settings.USAGE_RETENTION_MONTHS = 24  # from 2 Dec 2026: records of Dec 2024 on are kept
    settings.USAGE_ROLLUP_RETENTION_MONTHS = 36  # daily totals of Dec 2023 on are kept
    line = served_line()
    number = line.msisdn.as_e164
    keys = {
        "2023-11-20T12:00:00+08:00": "nov23",
        "2023-12-05T12:00:00+08:00": "dec23",
        "2024-10-15T12:00:00+08:00": "oct24",
        "2024-11-30T23:59:59+08:00": "nov24-last-second",
        "2024-12-01T00:30:00+08:00": "dec24-first-hour",  # 30 November in UTC
        "2025-06-01T12:00:00+08:00": "jun25",
    }
    services.usage_import(
        file_name="years.csv", content=csv_bytes(f"{number},{moment},sms,1,{key}" for moment, key in keys.items())
    )

    dropped = services.usage_partitions_drop_expired(now=NOW)

    assert sorted(dropped) == sorted(
        [
            f"{RECORDS}_p2023_11",
            f"{RECORDS}_p2023_12",
            f"{RECORDS}_p2024_10",
            f"{RECORDS}_p2024_11",
            f"{DAILY}_p2023_11",
        ]
    )
    assert set(UsageRecord.objects.values_list("record_key", flat=True)) == {"dec24-first-hour", "jun25"}
    assert set(UsageDaily.objects.filter(line=line).values_list("day", flat=True)) == {
        date(2023, 12, 5),
        date(2024, 10, 15),
        date(2024, 11, 30),
        date(2024, 12, 1),
        date(2025, 6, 1),
    }
    assert date(2024, 12, 1) in partitions(RECORDS)
    assert services.usage_partitions_drop_expired(now=NOW) == []


@pytest.mark.django_db
def test_daily_totals_are_kept_for_ever_when_their_retention_is_zero(settings):
    settings.USAGE_RETENTION_MONTHS = 24
    settings.USAGE_ROLLUP_RETENTION_MONTHS = 0
    line = served_line()
    services.usage_import(
        file_name="old.csv", content=csv_bytes([f"{line.msisdn.as_e164},2020-01-10T12:00:00+08:00,data,5,ancient"])
    )

    dropped = services.usage_partitions_drop_expired(now=NOW)

    assert f"{RECORDS}_p2020_01" in dropped
    assert not any(name.startswith(DAILY) for name in dropped)
    assert UsageDaily.objects.get(line=line, day=date(2020, 1, 10)).data_mb == Decimal("5.000")


@pytest.mark.django_db
def test_the_command_makes_this_month_and_says_so():
    out = StringIO()
    call_command("maintain_usage_partitions", stdout=out)
    again = StringIO()
    call_command("maintain_usage_partitions", stdout=again)

    this_month = timezone.localdate().replace(day=1)
    assert this_month in partitions(RECORDS)
    assert "created=0 dropped=0" in again.getvalue()


# --- Two imports at once: real threads, each with its own connection (committed data).


def race(test):
    for mark in RACE_MARKS:
        test = mark(test)
    return test


def _allowance_and_totals(line):
    service = LineService.objects.get(line=line)
    totals = UsageDaily.objects.filter(line=line).aggregate(data=Sum("data_mb"), records=Sum("record_count"))
    return service.data_left_mb, totals["data"], totals["records"]


@race
def test_two_imports_of_overlapping_files_at_once_count_each_record_once():
    lines = [served_line() for _ in range(3)]
    before = {line.pk: LineService.objects.get(line=line).data_left_mb for line in lines}

    def rows(first, last):
        return [
            f"{lines[n % 3].msisdn.as_e164},2026-11-{1 + n % 28:02d}T10:00:00+08:00,data,2,rec{n}"
            for n in range(first, last)
        ]

    file_a, file_b = csv_bytes(rows(0, 3000)), csv_bytes(rows(1500, 4500))

    results = run_together(
        lambda: services.usage_import(file_name="a.csv", content=file_a),
        lambda: services.usage_import(file_name="b.csv", content=file_b),
    )

    assert errors(results) == []
    reports = values(results)
    assert sum(report.imported for report in reports) == 4500
    assert sum(report.duplicates for report in reports) == 1500
    assert UsageRecord.objects.count() == 4500
    for line in lines:
        left, data, records = _allowance_and_totals(line)
        assert records == 1500
        assert data == Decimal("3000.000")
        assert left == before[line.pk] - 3000


@race
def test_the_same_file_imported_twice_at_once_goes_in_once():
    line = served_line()
    before = LineService.objects.get(line=line).data_left_mb
    content = csv_bytes(f"{line.msisdn.as_e164},2026-11-02T10:00:00+08:00,data,1,same{n}" for n in range(2000))

    results = run_together(
        lambda: services.usage_import(file_name="x.csv", content=content),
        lambda: services.usage_import(file_name="x-copy.csv", content=content),
    )

    assert errors(results) == []
    reports = sorted(values(results), key=lambda report: report.already_imported)
    assert [(report.imported, report.already_imported) for report in reports] == [(2000, False), (0, True)]
    assert UsageImport.objects.count() == 1
    assert UsageRecord.objects.count() == 2000
    assert _allowance_and_totals(line) == (before - 2000, Decimal("2000.000"), 2000)
