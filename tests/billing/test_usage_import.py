"""The streaming usage import: daily totals, number spellings, limits, the task, the admin (SQLite and PostgreSQL)."""

import io
import random
from datetime import UTC, date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone

from accounts.phones import parse_phone
from billing import selectors, services, tasks
from billing.models import LineService, Plan, UsageDaily, UsageImport, UsageRecord
from billing.services.usage import MAX_REPORTED_BAD_ROWS, ImportReport, NumberNormaliser, parse_rows
from tests.billing.conftest import fund, renewal_order, verified_customer
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

HEADER = "msisdn,time,type,quantity,record_id\n"


@pytest.fixture
def served():
    """A verified customer whose line has a month of Basic allowances: (user, line)."""
    user, line = verified_customer()
    fund(user, "30")
    order = renewal_order(user, line, Plan.objects.get(code="basic", is_current=True))
    services.order_pay(order_id=order.pk, method="wallet", actor=user)
    return user, line


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return (header + "".join(row + "\n" for row in rows)).encode()


def allowances(line) -> tuple[int, int, int]:
    service = LineService.objects.get(line=line)
    return service.data_left_mb, service.voice_left_minutes, service.sms_left


def daily(line) -> dict[date, tuple]:
    return {
        row.day: (row.data_mb, row.voice_minutes, row.sms_count, row.record_count)
        for row in UsageDaily.objects.filter(line=line)
    }


def test_the_daily_totals_follow_the_local_day_and_count_each_record_once(served):
    _user, line = served
    number = line.msisdn.as_e164
    services.usage_import(
        file_name="1.csv",
        content=csv_bytes(
            f"{number},2026-11-01T23:30:00+08:00,data,100.5,a",
            f"{number},2026-11-01T16:30:00Z,data,1,b",  # 00:30 on the 2nd in Beijing
            f"{number},2026-11-02 09:00:00,voice,3.2,c",  # no offset: local time
            f"{number},2026-11-02 09:30:00,sms,1,d",
        ),
    )
    report = services.usage_import(
        file_name="2.csv",
        content=csv_bytes(
            f"{number},2026-11-01T23:30:00+08:00,data,100.5,a",  # already counted
            f"{number},2026-11-02T10:00:00+08:00,data,2,e",
        ),
    )

    assert (report.imported, report.duplicates) == (1, 1)
    assert daily(line) == {
        date(2026, 11, 1): (Decimal("100.500"), Decimal("0"), Decimal("0"), 1),
        date(2026, 11, 2): (Decimal("3.000"), Decimal("3.200"), Decimal("1.000"), 4),
    }
    assert UsageRecord.objects.count() == 5


def test_a_file_object_is_read_as_a_stream_with_the_same_result(served):
    _user, line = served
    content = csv_bytes(*(f"{line.msisdn.as_e164},2026-11-0{1 + n % 9}T10:00:00+08:00,data,1,s{n}" for n in range(50)))
    before = allowances(line)

    report = services.usage_import(file_name="stream.csv", file=io.BytesIO(content))

    assert (report.imported, report.bad_row_count) == (50, 0)
    assert allowances(line)[0] == before[0] - 50
    assert services.usage_import(file_name="again.csv", content=content).already_imported is True


def test_usual_and_unusual_spellings_of_a_number_find_the_same_line(served):
    _user, line = served
    national = line.msisdn.as_national.replace(" ", "")
    spellings = [line.msisdn.as_e164, national, f"+86 {national[:3]} {national[3:7]} {national[7:]}", f"0086{national}"]

    report = services.usage_import(
        file_name="spellings.csv",
        content=csv_bytes(*(f"{s},2026-11-01T10:00:00+08:00,sms,1,n{i}" for i, s in enumerate(spellings))),
    )

    assert (report.imported, report.bad_rows) == (4, [])
    assert set(UsageRecord.objects.values_list("line_id", flat=True)) == {line.pk}


def test_the_fast_path_for_numbers_answers_as_phonenumbers_does():
    normalise = NumberNormaliser()
    rng = random.Random(19)
    samples = [f"1{rng.randrange(10**10):010d}" for _ in range(3000)]
    samples += [f"+86{number}" for number in samples[:500]]
    samples += ["13800138000", "+8613800138000", "12345", "10086", "+8617099999999", "19999999999", "14012345678"]

    assert [normalise(sample) for sample in samples] == [parse_phone(sample) for sample in samples]


def _random_row(rng: random.Random, n: int) -> str:
    """A row in the usual spelling, sometimes with a value that is wrong in a way only the value shows."""
    number = rng.choice(["+86", ""]) + rng.choice(["13800138000", "19999999999", "10000000000", "14012345678"])
    year, month, day = rng.choice([2024, 2025, 2026]), rng.randint(1, 12), rng.randint(1, 31)
    time = f"{year}-{month:02d}-{day:02d}{rng.choice('T ')}{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00"
    time += rng.choice(["", ".5", "Z", "+08:00", "-05:30", "+14:00"])
    kind = rng.choice(["data", "voice", "sms"])
    quantity = rng.choice(["1", "0", "0.000", "12.5", "007.250", "999999999.999", "3.14159", "0.001"])
    record_id = rng.choice(["", f"r{n}", f"r{n}\\x", "r" * 64])
    return f"{number},{time},{kind},{quantity},{record_id}"


def _parsed(content: bytes):
    report = ImportReport(file_name="x.csv")
    rows = [
        (line_number, msisdn, datetime.fromisoformat(time), kind, Decimal(quantity), key)
        for line_number, msisdn, time, kind, quantity, key in parse_rows(io.BytesIO(content), report)
    ]
    # The reason without the value it quotes (the value is quoted as written).
    reasons = [problem.split(" '")[0] for problem in report.bad_rows]
    return rows, reasons


def test_rows_in_the_usual_spelling_parse_as_the_exact_checks_parse_them():
    """A space before each value sends every row through the exact checks: same rows, same reasons."""
    rng = random.Random(20261203)
    rows = [_random_row(rng, n) for n in range(2000)]
    # Times around the limit for the future (a day from now), in offsets far apart.
    now = timezone.now()
    for hours in (-60, -49, -47, -25, -1, 0, 23, 24, 25, 47):
        for minutes in (-15 * 60 - 30, 0, 14 * 60):
            moment = now + timedelta(hours=hours)
            written = moment.astimezone(dt_timezone(timedelta(minutes=minutes))).replace(microsecond=0)
            rows.append(f"+8613800138000,{written.isoformat()},sms,1,h{hours}m{minutes}")
    padded = [",".join(" " + value for value in row.split(",")) for row in rows]

    usual, usual_reasons = _parsed(csv_bytes(*rows))
    exact, exact_reasons = _parsed(csv_bytes(*padded))

    assert usual == exact
    assert usual_reasons == exact_reasons
    assert 500 < len(usual) < 1500  # both good and bad rows were drawn
    assert sum(reason.endswith("in the future") for reason in usual_reasons) > 10


def test_a_bad_value_in_the_usual_spelling_gets_the_usual_reason(served):
    _user, line = served
    number = line.msisdn.as_e164
    future = (timezone.now() + timedelta(days=2)).replace(microsecond=0).isoformat()

    report = services.usage_import(
        file_name="usual-but-bad.csv",
        content=csv_bytes(
            f"{number},2026-02-29T10:00:00+08:00,data,1,b1",
            f"{number},{future},data,1,b2",
            f"{number},2026-11-01T10:00:00+08:00,data,0.000,b3",
            "+8610000000000,2026-11-01T10:00:00+08:00,data,1,b4",
            f"{number},2026-11-01T10:00:00+08:00,data,1,{'x' * 64}",
        ),
    )

    assert report.bad_rows == [
        "line 2: invalid time '2026-02-29T10:00:00+08:00'",
        f"line 3: time in the future '{future}'",
        "line 4: invalid quantity '0.000'",
        "line 5: invalid number '+8610000000000'",
    ]
    assert report.imported == 1


def test_a_time_offset_no_zone_has_is_a_bad_row_and_the_rest_of_the_file_goes_in(served):
    # Python reads offsets up to 23:59; PostgreSQL refuses 16:00 and more, which failed the whole file.
    _user, line = served
    number = line.msisdn.as_e164

    report = services.usage_import(
        file_name="far-offsets.csv",
        content=csv_bytes(
            f"{number},2026-11-01T10:00:00+16:00,data,1,east",
            f"{number},2026-11-01T10:00:00-23:59,data,1,west",
            f"{number},2026-11-01T10:00:00+15:59,data,1,far-but-taken",
            f"{number},2026-11-01T10:00:00+08:00,data,1,home",
        ),
    )

    assert report.bad_rows == [
        "line 2: invalid time '2026-11-01T10:00:00+16:00'",
        "line 3: invalid time '2026-11-01T10:00:00-23:59'",
    ]
    assert report.imported == 2
    assert sorted(UsageRecord.objects.filter(line=line).values_list("record_key", flat=True)) == [
        "far-but-taken",
        "home",
    ]


def test_unusual_spellings_of_a_time_and_a_quantity_import_as_the_usual_ones(served):
    _user, line = served
    number = line.msisdn.as_e164
    before = allowances(line)

    report = services.usage_import(
        file_name="unusual.csv",
        content=csv_bytes(
            f"{number},2026-11-01T10:00:00+08:00,data,100,usual",
            f"{number},20261101T100000+0800,data,1e2,basic-format",
            f"{number},2026-11-01T10:00+08:00,data, 100.0 ,no-seconds",
            f"{number},2026-11-01T02:00:00Z,DATA,100,zulu",
            f"{number},2026-11-01T10:00:00+08:00,data,100,\ttab and space\\ ",
        ),
    )

    assert (report.imported, report.bad_rows) == (5, [])
    records = UsageRecord.objects.order_by("record_key")
    assert {record.occurred_at for record in records} == {datetime(2026, 11, 1, 2, 0, tzinfo=UTC)}
    assert {record.quantity for record in records} == {Decimal("100")}
    assert "tab and space\\" in {record.record_key for record in records}
    assert allowances(line)[0] == before[0] - 500


def test_a_time_without_a_zone_is_local_time_in_either_spelling(served):
    _user, line = served
    number = line.msisdn.as_e164

    report = services.usage_import(
        file_name="local.csv",
        content=csv_bytes(
            f"{number},2026-11-02 09:00:00,voice,1,usual",  # the usual spelling, no zone
            f"{number},2026-11-02T09:00,voice,1,unusual",  # no seconds: the exact checks
            f"{number},2026-11-01T23:30:00.25,voice,1,late",
        ),
    )

    assert report.imported == 3
    moments = dict(UsageRecord.objects.values_list("record_key", "occurred_at"))
    assert moments["usual"] == moments["unusual"] == datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    assert moments["late"] == datetime(2026, 11, 1, 15, 30, 0, 250000, tzinfo=UTC)
    assert set(daily(line)) == {date(2026, 11, 1), date(2026, 11, 2)}


def test_a_record_without_an_id_is_the_same_record_in_either_spelling(served):
    _user, line = served
    number = line.msisdn.as_e164
    services.usage_import(file_name="1.csv", content=csv_bytes(f"{number},2026-11-01T10:00:00+08:00,sms,2,"))

    report = services.usage_import(
        file_name="2.csv", content=csv_bytes(f" {number} ,2026-11-01T10:00+08:00,sms,2.0,", header=HEADER)
    )

    assert (report.imported, report.duplicates) == (1, 0)
    report = services.usage_import(file_name="3.csv", content=csv_bytes(f" {number} ,2026-11-01T10:00+08:00,sms,2,"))
    assert (report.imported, report.duplicates) == (0, 1)


def test_a_time_in_the_future_and_an_oversized_quantity_are_bad_rows(served):
    _user, line = served
    number = line.msisdn.as_e164
    tomorrow_and_more = (timezone.now() + timedelta(days=2)).isoformat()
    before = allowances(line)

    report = services.usage_import(
        file_name="limits.csv",
        content=csv_bytes(
            f"{number},{tomorrow_and_more},data,1,f1",
            f"{number},2026-11-01T10:00:00+08:00,data,1000000000,f2",
            f"{number},2026-11-01T10:00:00+08:00,data,999999999.999,f3",
            f"{number},2026-11-01T10:00:00+08:00,data,1,\x00",
            f"{number},2026-11-01T10:00:00+08:00,data,NaN,f5",
            f"{number},2026-11-01T10:00:00+08:00,data,Infinity,f6",
            f"{number},2026-11-01T10:00:00+08:00,data,1e-4,f7",
            f"{number},2026-11-01T10:00:00+08:00,data,1.0000,f8",
        ),
    )

    bad_lines = ["line 2", "line 3", "line 5", "line 6", "line 7", "line 8", "line 9"]
    assert [problem.split(":")[0] for problem in report.bad_rows] == bad_lines
    assert "time in the future" in report.bad_rows[0]
    assert report.imported == 1
    assert allowances(line)[0] == before[0] - 1_000_000_000


def test_a_file_of_bad_rows_reports_a_bounded_list_and_counts_them_all(served):
    _user, line = served
    number = line.msisdn.as_e164
    rows = [f"{number},2026-11-01T10:00:00+08:00,data,x,bad{n}" for n in range(MAX_REPORTED_BAD_ROWS + 5)]
    rows += [f"+8617099999999,2026-11-01T10:00:00+08:00,data,1,nobody{n}" for n in range(3)]
    rows.append(f"{number},2026-11-01T10:00:00+08:00,data,1,good")

    report = services.usage_import(file_name="bad.csv", content=csv_bytes(*rows))

    assert report.imported == 1
    assert report.bad_row_count == MAX_REPORTED_BAD_ROWS + 8
    assert len(report.bad_rows) == MAX_REPORTED_BAD_ROWS
    assert report.bad_rows[0] == "line 2: invalid quantity 'x'"
    assert UsageImport.objects.get().skipped_rows == report.bad_rows


def test_a_header_without_required_columns_writes_nothing(served):
    with pytest.raises(ValueError, match="missing column"):
        services.usage_import(file_name="bad.csv", file=io.BytesIO(b"msisdn,type\n+8613800138000,data\n"))
    assert not UsageImport.objects.exists()
    assert not UsageDaily.objects.exists()


def test_usage_by_month_reads_the_daily_totals_in_two_queries(served, django_assert_num_queries):
    user, line = served
    today = timezone.localdate()
    services.usage_import(
        file_name="m.csv", content=csv_bytes(f"{line.msisdn.as_e164},{today.isoformat()}T00:00:01+08:00,data,7,m1")
    )
    # The records themselves are not read: without them the totals still show.
    UsageRecord.objects.all().delete()

    with django_assert_num_queries(2):
        rows = selectors.usage_by_month(user=user)

    this_month = [row for row in rows if row["month"].date() == today.replace(day=1)]
    assert this_month[0]["data"] == Decimal("7")


def test_the_task_imports_a_file_from_object_storage(served, settings):
    _user, line = served
    storage = storages[settings.USAGE_IMPORT_STORAGE]
    name = storage.save(
        "usage-inbox/usage-2026-11-01.csv",
        ContentFile(csv_bytes(f"{line.msisdn.as_e164},2026-11-01T10:00:00+08:00,voice,2,t1")),
    )

    result = tasks.import_usage_file(name)
    again = tasks.import_usage_file(name)

    assert (result["imported"], result["already_imported"]) == (1, False)
    assert again["already_imported"] is True
    assert UsageImport.objects.get().file_name == name.rsplit("/", 1)[-1]


def test_the_admin_lists_one_month_the_current_one_by_default(served, client, django_assert_max_num_queries):
    _user, line = served
    number = line.msisdn.as_e164
    now = timezone.localtime()
    last_month = (now.replace(day=1) - timedelta(days=1)).replace(hour=12)
    services.usage_import(
        file_name="admin.csv",
        content=csv_bytes(
            f"{number},{now.replace(microsecond=0).isoformat()},data,1,now1",
            f"{number},{now.replace(microsecond=0).isoformat()},data,2,now2",
            f"{number},{last_month.replace(microsecond=0).isoformat()},voice,3,old1",
        ),
    )
    client.force_login(make_staff("admin"))

    with django_assert_max_num_queries(12) as captured:
        current = client.get("/admin/billing/usagerecord/")
    # Every read of the records, the count included, is bounded to the month (one partition).
    record_reads = [query["sql"] for query in captured.captured_queries if "billing_usagerecord" in query["sql"]]
    earlier = client.get(f"/admin/billing/usagerecord/?month={last_month:%Y-%m}")
    nonsense = client.get("/admin/billing/usagerecord/?month=not-a-month")

    assert current.status_code == 200
    assert current.context["cl"].result_count == 2
    assert {record.record_key for record in current.context["cl"].result_list} == {"now1", "now2"}
    assert [record.record_key for record in earlier.context["cl"].result_list] == ["old1"]
    assert nonsense.status_code == 200
    assert nonsense.context["cl"].result_count == 2
    assert record_reads
    assert all("occurred_at" in sql for sql in record_reads)


def test_support_sees_the_customers_usage_by_month_from_the_daily_totals(served, client):
    user, line = served
    today = timezone.localdate()
    services.usage_import(
        file_name="s.csv", content=csv_bytes(f"{line.msisdn.as_e164},{today.isoformat()}T00:00:01+08:00,voice,9,s1")
    )
    UsageRecord.objects.all().delete()
    client.force_login(make_staff("support"))

    response = client.get(f"/staff/customers/{user.pk}/")

    usage = response.content.decode().split('data-testid="customer-usage"')[1].split("</table>")[0]
    assert f"<td>{today:%Y-%m}</td><td>0</td><td>9</td>" in usage
