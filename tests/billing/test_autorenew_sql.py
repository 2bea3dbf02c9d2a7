"""Auto-renew's PostgreSQL writes (COPY, UPDATE … FROM VALUES), its own and accounts', leave what Django's leave.

Both ways run on the same due lines, from the same state, with the same order and
out-trade numbers; every row they leave behind is compared, column by column.
"""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import AuditEvent, Line, Notification, OutboundMessage, User
from billing import selectors, services
from billing.models import LedgerEntry, LineService, Order, Payment, Receipt, ReceiptSequence, SavedCard, Wallet
from billing.services import autorenew, autorenew_pg
from billing.services.orders import NUMBER_ALPHABET, new_order_number
from heyon_site import bulk
from tests.billing.conftest import fund, verified_customer

NEEDS_POSTGRESQL = "COPY is PostgreSQL's (set DATABASE_URL=postgres://…)"

pytestmark = pytest.mark.django_db

# Written with timezone.now() of their own moment by either path: compared for presence only.
MOMENTS = {
    Payment: {"created_at", "updated_at", "provider_transaction_id"},
    Notification: {"created_at"},
    OutboundMessage: {"created_at", "next_attempt_at"},
    AuditEvent: {"created_at"},
    LineService: {"updated_at"},  # the saved card's renewal is settled at its own moment
}
MODELS = [Order, Payment, LedgerEntry, Wallet, Line, LineService, Receipt, ReceiptSequence, Notification,
          OutboundMessage, AuditEvent]  # fmt: skip


class Rollback(Exception):
    pass


def due_lines(now):
    """Lines that take every branch of a chunk: paid, shared wallets, failures, card, skipped, an open order."""

    def due(user, line, *, days=2, method="wallet", term=1):
        services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method=method, term_months=term)
        Line.objects.filter(pk=line.pk).update(validity_end=now + timedelta(days=days))

    user, line = verified_customer()
    due(user, line)
    fund(user, "100")
    user, line = verified_customer(email=None)  # SMS only
    due(user, line, term=3)
    fund(user, "100")
    user, line = verified_customer()  # two lines, one wallet, a balance that runs down
    due(user, line)
    # An ICCID ending in 0: make_line's end in 1, whatever its counter has reached in this process.
    second = Line.objects.create(
        msisdn="+85291234567", iccid="89860000000000000990", activation_code_hash="x" * 64,
        activation_code_hint="0000", activation_code_used_at=now, status=Line.Status.ACTIVE, owner=user,
    )  # fmt: skip
    due(user, second, days=1)  # not a mainland mobile number: formatted by the phone number library
    fund(user, "70")
    user, line = verified_customer()  # a lapsed line comes back from now on
    due(user, line, days=-1)
    Line.objects.filter(pk=line.pk).update(status=Line.Status.EXPIRED)
    fund(user, "30")
    user, line = verified_customer()  # wallet short, a saved card pays
    due(user, line, method="wallet_then_card")
    SavedCard.objects.create(user=user, token="tok_sql_path", last4="4242")
    user, line = verified_customer()  # wallet short, no card: fails and is told
    due(user, line)
    fund(user, "10")
    user, line = verified_customer()  # not verified any more: skipped
    due(user, line)
    fund(user, "100")
    User.objects.filter(pk=user.pk).update(real_name_verified_at=None)
    user, line = verified_customer()  # this period is paid already: skipped
    due(user, line)
    fund(user, "100")
    Order.objects.create(
        number="RSETTLED0001", user=user, kind="renewal", channel="auto", status="paid", line=line,
        plan=LineService.objects.get(line=line).plan, term_months=1, amount=Decimal("30.00"),
        idempotency_key="settled", request_fingerprint="f", renews_from=now + timedelta(days=2),
        expires_at=now + timedelta(days=9), paid_at=now,
    )  # fmt: skip
    user, line = verified_customer()  # an earlier attempt left its order open: that order is paid
    due(user, line)
    fund(user, "100")
    Order.objects.create(
        number="ROPEN0000001", user=user, kind="renewal", channel="auto", line=line,
        plan=LineService.objects.get(line=line).plan, term_months=1, amount=Decimal("30.00"),
        idempotency_key="open", request_fingerprint="f", renews_from=now + timedelta(days=2),
        expires_at=now + timedelta(days=9),
    )  # fmt: skip
    for index in range(5):  # a chunk of plain renewals after the open order's
        user, line = verified_customer()
        due(user, line, days=2 + index / 10)
        fund(user, "100")


def snapshot(now) -> dict:
    """Every row of the tables the job writes, in insertion order, orders named by number instead of id."""
    numbers = dict(Order.objects.values_list("pk", "number"))
    rows = {}
    for model in MODELS:
        moments = MOMENTS.get(model, set())
        table = []
        for row in model.objects.order_by("pk").values():
            if model not in (Line, LineService, Wallet, ReceiptSequence):
                row.pop("id")  # new rows' ids differ between the runs; they are compared by what refers to them
            for name in moments:
                assert row.pop(name) is not None
            for name in ("paid_at", "issued_at"):
                if row.get(name) is not None and row[name] > now:
                    row[name] = "later"  # the saved card's charge is settled at its own moment
            if "order_id" in row:
                row["order_id"] = numbers[row["order_id"]]
            if model is AuditEvent and row["target_type"] == "billing.order":
                row["target_id"] = numbers[int(row["target_id"])]
            table.append(row)
        rows[model.__name__] = table
    return rows


def run(monkeypatch, *, set_based: bool, now) -> tuple[dict, dict, dict]:
    """Run the job one way or the other with the same numbers; return its counts, the rows and the COPY calls."""
    order_numbers = (f"RSQL{index:08d}" for index in itertools.count(1))
    trade_numbers = (f"PSQL{index:012d}" for index in itertools.count(1))
    monkeypatch.setattr(autorenew, "new_order_number", lambda now=None: next(order_numbers))
    monkeypatch.setattr(autorenew, "new_out_trade_no", lambda: next(trade_numbers))
    monkeypatch.setattr(autorenew, "_set_based", lambda: set_based)
    # accounts' rows of the job (lines, audit events, messages) by COPY too, however few here.
    monkeypatch.setattr(bulk, "SET_BASED_FROM", 1 if set_based else 10**9)
    calls = {"orders_create": 0, "rows_create": 0, "rows_update": 0}
    for name in calls:
        real = getattr(autorenew_pg, name)
        real = getattr(real, "__wrapped__", real)  # the first run's spy

        def spy(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        spy.__wrapped__ = real
        monkeypatch.setattr(autorenew_pg, name, spy)
    result = {}
    try:
        with transaction.atomic():
            result["counts"] = services.autorenew_run(now=now, chunk_size=4)
            result["rows"] = snapshot(now)
            raise Rollback
    except Rollback:
        pass
    return result["counts"], result["rows"], calls


@pytest.mark.skipif(connection.vendor != "postgresql", reason=NEEDS_POSTGRESQL)
def test_the_postgresql_writes_leave_the_same_rows_as_bulk_create_and_bulk_update(monkeypatch, plans):
    now = timezone.now()
    due_lines(now)
    before = snapshot(now)

    portable_counts, portable, portable_calls = run(monkeypatch, set_based=False, now=now)
    assert snapshot(now) == before  # rolled back: the second run starts from the same state
    fast_counts, fast, fast_calls = run(monkeypatch, set_based=True, now=now)

    assert portable_counts == fast_counts == {"renewed": 11, "card_renewed": 1, "failed": 1, "skipped": 2}
    assert portable_calls == {"orders_create": 0, "rows_create": 0, "rows_update": 0}
    # Four chunks of four lines, each with renewals: orders, then payments and ledger entries, by COPY.
    assert fast_calls["orders_create"] == 4
    assert fast_calls["rows_create"] == 4 * 3  # orders_create's own COPY, payments, ledger entries
    for table in portable:
        assert fast[table] == portable[table], table
    assert len(fast["Order"]) > len(before["Order"])


def test_wallets_and_balances_after_the_set_based_path_match_their_ledgers(plans):
    # The autouse ledger check runs after this test too; here: the shared wallet paid twice, in order.
    now = timezone.now()
    due_lines(now)

    services.autorenew_run(now=now, chunk_size=4)

    shared = Wallet.objects.get(user__lines__msisdn="+85291234567")
    charges = list(LedgerEntry.objects.filter(wallet=shared, kind="charge").values_list("amount", "balance_after"))
    assert charges == [(Decimal("-30.00"), Decimal("40.00")), (Decimal("-30.00"), Decimal("10.00"))]
    assert shared.balance == Decimal("10.00")


def test_order_numbers_are_the_date_and_eight_characters_of_the_alphabet():
    now = timezone.now()
    numbers = {new_order_number(now) for _ in range(2000)}

    stamp = "R" + timezone.localtime(now).strftime("%Y%m%d")
    assert all(len(number) == 17 and number.startswith(stamp) for number in numbers)
    assert len(numbers) == 2000
    characters = "".join(number[9:] for number in numbers)
    assert set(characters) == set(NUMBER_ALPHABET)  # 16,000 draws reach all 31 characters


def test_due_line_ids_are_the_due_lines_after_the_last_one_in_id_order(settings):
    now = timezone.now()
    lines = []
    for _ in range(6):
        user, line = verified_customer()
        services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet")
        Line.objects.filter(pk=line.pk).update(validity_end=now + timedelta(days=1))
        lines.append(line.pk)
    Line.objects.filter(pk=lines[1]).update(validity_end=now + timedelta(days=settings.AUTORENEW_WINDOW_DAYS + 1))
    Line.objects.filter(pk=lines[2]).update(status=Line.Status.CANCELLED, cancelled_at=now)
    LineService.objects.filter(line_id=lines[3]).update(auto_renew_failures=selectors.MAX_AUTORENEW_FAILURES)
    LineService.objects.filter(line_id=lines[4]).update(auto_renew_next_attempt_at=now + timedelta(hours=1))

    assert selectors.due_line_ids(now=now, after_id=0, limit=10) == [lines[0], lines[5]]
    assert selectors.due_line_ids(now=now, after_id=lines[0], limit=10) == [lines[5]]
    assert selectors.due_line_ids(now=now, after_id=0, limit=1) == [lines[0]]
    assert selectors.due_line_ids(now=now + timedelta(hours=2), after_id=lines[0], limit=10) == [lines[4], lines[5]]
