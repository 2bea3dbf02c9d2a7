"""Benchmark the daily reconciliation: one provider's statement of N lines against N payments of that day.

    createdb -h 127.0.0.1 -U postgres heyon_bench_reconcile
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/heyon_bench_reconcile \\
        .venv/bin/python bench/reconcile.py --payments 100000

The script migrates the database, empties its users and everything hanging off them
(TRUNCATE … CASCADE: use a database of its own), bulk-loads one customer with
``--payments`` paid Alipay top-ups recorded today, and builds Alipay's statement of today
in memory: every payment, except one left out, one with another amount, and one trade we
never made. It then times ``billing.services.reconcile`` (the service the command and the
daily task call) and, as the baseline in the same run, the plain way: one query per
statement line by out-trade number. Both must find the same three discrepancies. Printed
beside them: the host's speed (seconds for a plain Python loop of 10 million additions).
"""

import argparse
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT), *(entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench")]

LOAD_ORDERS = """
INSERT INTO billing_order (id, number, user_id, kind, channel, status, amount, currency, idempotency_key,
                           request_fingerprint, created_at, expires_at, paid_at, last_failure)
SELECT g, 'T' || lpad(g::text, 12, '0'), %(user)s, 'topup', 'online', 'paid', 50.00, 'CNY', 'bench-' || g, '',
       now(), now() + interval '30 minutes', now(), ''
FROM generate_series(1, %(n)s) AS g
"""
LOAD_PAYMENTS = """
INSERT INTO billing_payment (id, order_id, method, status, amount, out_trade_no, provider_transaction_id,
                             failure_reason, card_last4, created_at, updated_at)
SELECT g, g, 'alipay', 'succeeded', 50.00, 'P' || lpad(g::text, 16, '0'), '2026' || lpad(g::text, 24, '0'),
       '', '', now(), now()
FROM generate_series(1, %(n)s) AS g
"""


def host_speed() -> float:
    started = time.perf_counter()
    total = 0
    for number in range(10_000_000):
        total += number
    return time.perf_counter() - started


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heyon_site.settings.test")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database of its own, e.g. postgres://postgres@127.0.0.1/heyon_bench")
    import django

    django.setup()
    from django.conf import settings

    settings.PAYMENT_METHOD_GATEWAYS = {**settings.PAYMENT_METHOD_GATEWAYS, "alipay": "alipay"}


def load(n: int):
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE accounts_user RESTART IDENTITY CASCADE")
    user = User.objects.create_user(phone="+8613900000001", password=None)
    with connection.cursor() as cursor:
        cursor.execute(LOAD_ORDERS, {"n": n, "user": user.pk})
        cursor.execute(LOAD_PAYMENTS, {"n": n})
        cursor.execute("VACUUM ANALYZE billing_payment")


def statement(n: int):
    from billing.gateways import StatementLine

    lines = [
        StatementLine(
            kind="payment", out_trade_no=f"P{g:016d}", transaction_id=f"2026{g:024d}", amount=Decimal("50.00")
        )
        for g in range(2, n + 1)  # payment 1 is missing from the statement
    ]
    lines[0] = StatementLine(
        kind="payment", out_trade_no=lines[0].out_trade_no, transaction_id="x", amount=Decimal("5")
    )
    lines.append(StatementLine(kind="payment", out_trade_no="P-NOT-OURS", transaction_id="y", amount=Decimal("9.90")))
    return lines


def baseline(lines, day) -> int:
    """One query per statement line, then one for the day's payments: the plain way."""
    from billing.models import Payment
    from billing.services.reconciliation import _day_bounds

    found = 0
    for line in lines:
        payment = Payment.objects.filter(out_trade_no=line.out_trade_no, status="succeeded").first()
        if payment is None or payment.amount != line.amount:
            found += 1
    start, end = _day_bounds(day)
    listed = {line.out_trade_no for line in lines}
    for out_trade_no in Payment.objects.filter(updated_at__gte=start, updated_at__lt=end).values_list(
        "out_trade_no", flat=True
    ):
        if out_trade_no not in listed:
            found += 1
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    setup_django()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from billing import services
    from billing.models import Discrepancy

    speed = host_speed()
    load(args.payments)
    lines = statement(args.payments)
    day = timezone.localdate()
    ours, plain = [], []
    for _round in range(args.rounds):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            report = services.reconcile(provider="alipay", day=day, lines=lines, source="bench")
            ours.append(time.perf_counter() - started)
        assert Discrepancy.objects.filter(reconciliation=report).count() == 3, "expected exactly three"
        started = time.perf_counter()
        assert baseline(lines, day) == 3
        plain.append(time.perf_counter() - started)
    print(f"host speed: {speed:.2f} s for 10M additions")
    print(f"statement lines: {len(lines)}, payments that day: {args.payments}")
    print(f"reconcile (service): median {statistics.median(ours):.2f} s, {len(queries)} queries")
    print(f"baseline (a query per line): median {statistics.median(plain):.2f} s, {len(lines) + 1} queries")


if __name__ == "__main__":
    main()
