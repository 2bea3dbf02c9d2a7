"""Usage records from the network's CSV files: once per file, once per record, bad rows reported."""

import io
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from billing import selectors, services
from billing.models import LineService, Plan, UsageImport, UsageRecord
from tests.billing.conftest import fund, renewal_order, verified_customer

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


def allowances(line) -> tuple[int, int, int]:
    service = LineService.objects.get(line=line)
    return service.data_left_mb, service.voice_left_minutes, service.sms_left


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return (header + "".join(row + "\n" for row in rows)).encode()


def test_a_file_is_imported_and_the_allowances_go_down(served):
    _user, line = served
    number = line.msisdn.as_e164
    before = allowances(line)

    report = services.usage_import(
        file_name="usage-1.csv",
        content=csv_bytes(
            f"{number},2026-11-01T10:00:00+08:00,data,100.5,r1",
            f"{number},2026-11-01T11:00:00+08:00,data,200,r2",
            f"{number},2026-11-02 09:00:00,voice,3.2,r3",
            f"{line.msisdn.as_national},2026-11-02 09:30:00,SMS,1,r4",
        ),
    )

    assert (report.imported, report.duplicates, report.bad_rows, report.already_imported) == (4, 0, [], False)
    assert UsageRecord.objects.filter(line=line).count() == 4
    # Rounded up to whole units as the network bills: 300.5 MB → 301, 3.2 minutes → 4.
    assert allowances(line) == (before[0] - 301, before[1] - 4, before[2] - 1)
    batch = UsageImport.objects.get()
    assert (batch.file_name, batch.record_count) == ("usage-1.csv", 4)


def test_the_same_file_twice_imports_nothing_the_second_time(served):
    _user, line = served
    content = csv_bytes(f"{line.msisdn.as_e164},2026-11-01T10:00:00+08:00,data,100,r1")
    services.usage_import(file_name="a.csv", content=content)
    after_first = allowances(line)

    again = services.usage_import(file_name="a-renamed.csv", content=content)

    assert again.already_imported is True
    assert again.imported == 0
    assert allowances(line) == after_first
    assert UsageRecord.objects.count() == 1
    assert UsageImport.objects.count() == 1


def test_a_record_repeated_in_a_later_file_is_counted_once(served):
    _user, line = served
    number = line.msisdn.as_e164
    services.usage_import(file_name="1.csv", content=csv_bytes(f"{number},2026-11-01T10:00:00+08:00,data,100,r1"))
    after_first = allowances(line)

    report = services.usage_import(
        file_name="2.csv",
        content=csv_bytes(
            f"{number},2026-11-01T10:00:00+08:00,data,100,r1",
            f"{number},2026-11-03T10:00:00+08:00,data,50,r9",
        ),
    )

    assert (report.imported, report.duplicates) == (1, 1)
    assert allowances(line)[0] == after_first[0] - 50
    assert UsageRecord.objects.count() == 2


def test_records_without_an_id_are_recognised_by_their_content(served):
    _user, line = served
    row = f"{line.msisdn.as_e164},2026-11-01T10:00:00+08:00,voice,5,"
    services.usage_import(file_name="1.csv", content=csv_bytes(row))

    report = services.usage_import(file_name="2.csv", content=csv_bytes(row, row.replace("voice,5", "voice,6")))

    assert (report.imported, report.duplicates) == (1, 1)
    assert UsageRecord.objects.count() == 2


def test_a_record_twice_in_one_file_is_counted_once(served):
    _user, line = served
    row = f"{line.msisdn.as_e164},2026-11-01T10:00:00+08:00,data,10,dup"
    before = allowances(line)

    report = services.usage_import(file_name="1.csv", content=csv_bytes(row, row))

    assert (report.imported, report.duplicates) == (1, 1)
    assert allowances(line)[0] == before[0] - 10


def test_bad_rows_are_reported_with_their_line_numbers_and_the_good_rows_imported(served):
    _user, line = served
    number = line.msisdn.as_e164
    before = allowances(line)

    report = services.usage_import(
        file_name="mixed.csv",
        content=csv_bytes(
            f"{number},2026-11-01T10:00:00+08:00,data,10,g1",  # line 2: good
            f"{number},2026-11-01T10:00:00+08:00,data,lots,b1",  # line 3: quantity
            f"{number},2026-11-01T10:00:00+08:00,fax,1,b2",  # line 4: type
            f"{number},yesterday,data,1,b3",  # line 5: time
            "12345,2026-11-01T10:00:00+08:00,data,1,b4",  # line 6: not a mobile number
            "+8617099999999,2026-11-01T10:00:00+08:00,data,1,b5",  # line 7: nobody's number
            f"{number},2026-11-01T10:00:00+08:00,data,-5,b6",  # line 8: negative
            f"{number},2026-11-01T10:00:00+08:00,data,1.0001,b7",  # line 9: too precise
            f"{number},2026-11-01T12:00:00+08:00,voice,2,g2",  # line 10: good
        ),
    )

    assert report.imported == 2
    assert [problem.split(":")[0] for problem in report.bad_rows] == [
        "line 3",
        "line 4",
        "line 5",
        "line 6",
        "line 8",
        "line 9",
        "line 7",
    ]
    assert "no line has the number '+8617099999999'" in report.bad_rows[-1]
    assert set(UsageRecord.objects.values_list("record_key", flat=True)) == {"g1", "g2"}
    assert allowances(line) == (before[0] - 10, before[1] - 2, before[2])
    assert UsageImport.objects.get().skipped_rows == report.bad_rows


def test_a_file_without_the_required_columns_is_refused_whole(served):
    _user, line = served

    with pytest.raises(ValueError, match="missing column"):
        services.usage_import(
            file_name="bad.csv",
            content=csv_bytes(f"{line.msisdn.as_e164},data,1", header="msisdn,type,quantity\n"),
        )

    assert not UsageImport.objects.exists()


def test_the_command_imports_and_reports_skipped_rows(served, tmp_path):
    _user, line = served
    path = tmp_path / "usage.csv"
    path.write_bytes(
        csv_bytes(
            f"{line.msisdn.as_e164},2026-11-01T10:00:00+08:00,data,10,c1",
            f"{line.msisdn.as_e164},2026-11-01T10:00:00+08:00,data,x,c2",
        )
    )
    out, err = io.StringIO(), io.StringIO()

    call_command("import_usage", str(path), stdout=out, stderr=err)
    again_out = io.StringIO()
    call_command("import_usage", str(path), stdout=again_out, stderr=io.StringIO())

    assert "imported=1 duplicates=0 skipped=1" in out.getvalue()
    assert "skipped line 3: invalid quantity 'x'" in err.getvalue()
    assert "was imported before; nothing done." in again_out.getvalue()
    assert UsageRecord.objects.count() == 1


def test_the_command_refuses_a_missing_or_malformed_file(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("import_usage", str(tmp_path / "nope.csv"))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"number,when\n1,2\n")
    with pytest.raises(CommandError, match="missing column"):
        call_command("import_usage", str(bad))
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CommandError):
        call_command("import_usage", str(binary))


def test_usage_is_summed_by_month_for_the_account_centre(english, served):
    user, line = served
    number = line.msisdn.as_e164
    services.usage_import(
        file_name="months.csv",
        content=csv_bytes(
            f"{number},2026-10-31T23:30:00+08:00,data,100,m1",
            f"{number},2026-11-01T00:30:00+08:00,data,40,m2",
            f"{number},2026-11-15T12:00:00+08:00,data,2,m3",
            f"{number},2026-11-15T12:00:00+08:00,voice,7,m4",
        ),
    )
    english.force_login(user)

    rows = selectors.usage_by_month(user=user)
    response = english.get("/account/")

    by_month = {timezone_month(row["month"]): row for row in rows}
    assert by_month["2026-10"]["data"] == Decimal("100")
    assert by_month["2026-11"]["data"] == Decimal("42")
    assert by_month["2026-11"]["voice"] == Decimal("7")
    assert response.status_code == 200
    usage_section = response.content.decode().split('data-testid="usage"')[1]
    assert "<td>2026-10</td><td>100</td>" in usage_section
    assert "<td>2026-11</td><td>42</td><td>7</td>" in usage_section


def timezone_month(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")


def test_another_customers_usage_is_not_shown(served):
    _user, line = served
    services.usage_import(
        file_name="x.csv", content=csv_bytes(f"{line.msisdn.as_e164},2026-11-01T10:00:00+08:00,data,5,z1")
    )
    stranger, _their_line = verified_customer()

    assert selectors.usage_by_month(user=stranger) == []
