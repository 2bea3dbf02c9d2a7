"""import_lines: a supplier's CSV of lines and activation codes, each code sent to its buyer."""

import csv
import functools
import re
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import translation

from accounts.models import Line, OutboundMessage
from tests.factories import CustomerFactory, make_line

pytestmark = pytest.mark.django_db

HEADER = ["msisdn", "iccid", "activation_code", "buyer_phone", "buyer_email"]
ROWS = [
    ["17088880001", "89861100000000000011", "HY7K-29QD-M4XP-81ZT", "13800138001", "buyer1@example.com"],
    ["+86 170 8888 0002", "89861100000000000012", "a1b2c3d4e5f6g7", "138 0013 8002", ""],
    ["17088880003", "89861100000000000013", "", "", "buyer3@example.com"],
]


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """Context manager that runs the block's on-commit callbacks (sends the queued SMS and email)."""
    return functools.partial(django_capture_on_commit_callbacks, execute=True)


@pytest.fixture
def write_csv(tmp_path):
    def write(rows, header=HEADER, name="lines.csv"):
        path = tmp_path / name
        with path.open("w", newline="", encoding="utf-8-sig") as handle:  # suppliers' Excel adds a BOM
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        return path

    return write


def run(path) -> str:
    out = StringIO()
    with translation.override("en"):
        call_command("import_lines", str(path), stdout=out)
    return out.getvalue()


def codes_in(text: str) -> list[str]:
    return re.findall(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{1,4})+\b", text)


def test_import_creates_unattached_lines_and_texts_or_mails_each_buyer_their_code(write_csv, sent, sms_outbox):
    path = write_csv(ROWS)

    with sent():
        output = run(path)

    assert "created=3 skipped=0" in output
    lines = {str(line.msisdn): line for line in Line.objects.all()}
    assert set(lines) == {"+8617088880001", "+8617088880002", "+8617088880003"}
    assert all(line.owner is None and line.status == Line.Status.INACTIVE for line in lines.values())
    assert lines["+8617088880001"].iccid == "89861100000000000011"
    assert lines["+8617088880001"].activation_code_hint == "81ZT"
    assert lines["+8617088880002"].activation_code_hint == "E5F6G7"[-4:]

    texts = {message["to"]: message["text"] for message in sms_outbox}
    assert set(texts) == {"+8613800138001", "+8613800138002"}
    assert "HY7K-29QD-M4XP-81ZT" in texts["+8613800138001"]
    assert "A1B2-C3D4-E5F6-G7" in texts["+8613800138002"]
    emails = {email.to[0]: email for email in mail.outbox}
    assert set(emails) == {"buyer1@example.com", "buyer3@example.com"}
    assert "HY7K-29QD-M4XP-81ZT" in emails["buyer1@example.com"].body
    assert codes_in(emails["buyer3@example.com"].body)  # no supplier code: a generated one is sent


def test_codes_are_sent_only_after_the_import_commits(write_csv, sms_outbox, django_capture_on_commit_callbacks):
    path = write_csv(ROWS)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run(path)

    assert sms_outbox == [] and mail.outbox == []
    assert OutboundMessage.objects.filter(status=OutboundMessage.Status.PENDING).count() == 4
    for callback in callbacks:
        callback()
    assert len(sms_outbox) == 2 and len(mail.outbox) == 2


@pytest.mark.parametrize(
    ("msisdn", "typed_code"),
    [
        ("+8617088880001", "hy7k29qdm4xp81zt"),  # typed without dashes, in lower case
        ("+8617088880002", "A1B2-C3D4-E5F6-G7"),
    ],
)
def test_imported_supplier_codes_attach_lines_at_account_lines_add(client, write_csv, msisdn, typed_code):
    run(write_csv(ROWS))
    customer = CustomerFactory()
    client.force_login(customer)

    response = client.post("/account/lines/add/", {"activation_code": typed_code})

    assert response.status_code == 302
    line = Line.objects.get(msisdn=msisdn)
    assert line.owner == customer and line.status == Line.Status.INACTIVE


def test_generated_code_mailed_to_the_buyer_attaches_the_line(client, write_csv, sent):
    with sent():
        run(write_csv(ROWS))
    (code,) = codes_in(next(email.body for email in mail.outbox if email.to == ["buyer3@example.com"]))
    customer = CustomerFactory()
    client.force_login(customer)

    response = client.post("/account/lines/add/", {"activation_code": code})

    assert response.status_code == 302
    assert Line.objects.get(msisdn="+8617088880003").owner == customer


def test_importing_the_same_file_twice_skips_existing_lines_and_sends_nothing_again(write_csv, sent, sms_outbox):
    path = write_csv(ROWS)
    with sent():
        run(path)
    messages = OutboundMessage.objects.count()

    with sent():
        output = run(path)

    assert "created=0 skipped=3" in output
    assert Line.objects.count() == 3
    assert OutboundMessage.objects.count() == messages
    assert len(sms_outbox) == 2 and len(mail.outbox) == 2


def test_lines_already_present_are_skipped_and_the_rest_imported(write_csv):
    existing, _code = make_line()
    rows = [[existing.msisdn.as_e164, "89861100000000000099", "ZZZZ-ZZZZ-ZZZZ", "", ""], ROWS[0]]

    output = run(write_csv(rows))

    assert "created=1 skipped=1" in output
    existing.refresh_from_db()
    assert existing.iccid != "89861100000000000099"


BAD = "17088880002"


@pytest.mark.parametrize(
    ("bad_row", "words"),
    [
        pytest.param(
            ["12345", "89861100000000000012", "A1B2-C3D4-E5F6", "", ""], "invalid number '12345'", id="msisdn"
        ),
        pytest.param([BAD, "89861100000000000012", "ABC-123", "", ""], "at least 12", id="short-code"),
        pytest.param([BAD, "89861100000000000012", "A1B2-C3D4-E5F6", "555", ""], "invalid buyer phone", id="phone"),
        pytest.param([BAD, "89861100000000000012", "A1B2-C3D4-E5F6", "", "not-an-email"], "valid email", id="email"),
        pytest.param([BAD, "89861100000000000011", "A1B2-C3D4-E5F6", "", ""], "ICCID already exists", id="dup-iccid"),
        pytest.param([BAD, "89861100000000000012", "hy7k29qdm4xp81zt", "", ""], "activation code", id="dup-code"),
    ],
)
def test_one_bad_row_refuses_the_whole_file_naming_its_line(write_csv, sent, sms_outbox, bad_row, words):
    path = write_csv([ROWS[0], bad_row, ROWS[2]])

    with sent(), pytest.raises(CommandError) as refused:
        run(path)

    message = str(refused.value)
    assert "Nothing imported" in message
    assert re.search(r"^line 3: ", message, re.MULTILINE), message  # header is line 1, the bad row line 3
    assert "line 2" not in message and "line 4" not in message
    assert words.lower() in message.lower(), message
    assert not Line.objects.exists()
    assert not OutboundMessage.objects.exists()
    assert sms_outbox == [] and mail.outbox == []


def test_every_bad_row_is_named(write_csv):
    rows = [["12345", "1", "A1B2C3D4E5F6", "", ""], ROWS[0], ["17088880009", "2", "short", "", ""]]

    with pytest.raises(CommandError) as refused:
        run(write_csv(rows))

    assert re.search(r"^line 2: invalid number", str(refused.value), re.MULTILINE)
    assert re.search(r"^line 4: ", str(refused.value), re.MULTILINE)
    assert not Line.objects.exists()


@pytest.mark.parametrize("header", [["msisdn", "activation_code"], ["number", "iccid"], []])
def test_a_missing_column_is_refused(write_csv, header):
    path = write_csv([], header=header)

    with pytest.raises(CommandError, match="Missing column"):
        run(path)

    assert not Line.objects.exists()


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        run(tmp_path / "nowhere.csv")
