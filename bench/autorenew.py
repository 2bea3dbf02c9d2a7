"""Benchmark the auto-renew job against a per-line ORM loop, and check that a killed run resumes.

    createdb -h 127.0.0.1 -U postgres heyon_bench_autorenew
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/heyon_bench_autorenew \\
        .venv/bin/python bench/autorenew.py --lines 100000 --baseline-lines 5000 --kill-lines 30000

Each phase empties the bench database's users and everything that hangs off them
(TRUNCATE … CASCADE: use a database of its own), bulk-loads N verified customers with one
INSERT … SELECT FROM generate_series per table (a user, a wallet holding ¥100 with its
matching top-up ledger entry, an active line whose validity ends within
AUTORENEW_WINDOW_DAYS, and a LineService with auto-renew on, paid from the wallet), and
VACUUM ANALYZEs. Then:

1. the baseline: a straightforward per-line loop written here (for each due line, one
   transaction that locks the line's service and the wallet, creates the order, the
   payment, the ledger entry, moves the balance, extends the line, tops up the allowances,
   issues the receipt and tells the customer, one ORM call per row) over
   ``--baseline-lines`` lines;
2. ``billing.services.autorenew_run`` over ``--lines`` lines, in a subprocess of its own so
   that its peak memory (VmHWM) is the job's; then a second run, which must charge nothing;
3. the kill test: ``autorenew_run`` over ``--kill-lines`` fresh lines in a subprocess,
   SIGKILLed mid-chunk once a third of them are committed (``--kill-after`` seconds after
   that count is seen), then run again to the end;
   every line must be charged exactly once and every wallet must equal its ledger.

Lines per second is due lines renewed divided by the wall time of the job (Django is set
up before the clock starts).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# bench/queue.py would shadow the standard library's queue module: keep bench/ off the path.
sys.path[:] = [str(ROOT), *(entry for entry in sys.path if Path(entry or ".").resolve() != BENCH_DIR)]

TARGET_LINES_PER_S = 2000
TARGET_PEAK_MB = 150
TOP_UP = Decimal("100.00")
PRICE = Decimal("30.00")

LOAD_USERS = """
INSERT INTO accounts_user (id, password, is_superuser, phone, display_name, is_staff, is_active,
                           date_joined, phone_verified_at, real_name_verified_at, language, identity_index)
SELECT g, '!', false, '+86137' || lpad(g::text, 8, '0'), '', false, true,
       now() - interval '400 days', now() - interval '400 days', now() - interval '390 days', '', ''
FROM generate_series(1, %(n)s) AS g
"""

# Validity ends spread over the next 2.9 days (the window is 3), in line-id order with jitter.
LOAD_LINES = """
INSERT INTO accounts_line (id, msisdn, iccid, activation_code_hash, activation_code_hint,
                           activation_code_used_at, status, attached_at, activated_at, validity_end,
                           created_at, owner_id, plan_code)
SELECT g, '+86137' || lpad(g::text, 8, '0'), '8986' || lpad(g::text, 16, '0'), md5('bench-code-' || g),
       right(md5('bench-code-' || g), 4), now() - interval '390 days', 'active',
       now() - interval '390 days', now() - interval '390 days',
       now() + interval '10 minutes' + random() * interval '2.9 days', now() - interval '400 days', g, 'bench-basic'
FROM generate_series(1, %(n)s) AS g
"""

LOAD_SERVICES = """
INSERT INTO billing_lineservice (line_id, plan_id, data_left_mb, voice_left_minutes, sms_left, auto_renew,
                                 auto_renew_method, auto_renew_term_months, auto_renew_next_attempt_at,
                                 auto_renew_failures, expiry_warning_sent_for, updated_at)
SELECT g, %(plan)s, (random() * 2048)::int, (random() * 100)::int, (random() * 50)::int, true,
       'wallet', 1, NULL, 0, '', now() - interval '30 days'
FROM generate_series(1, %(n)s) AS g
"""

LOAD_WALLETS = """
INSERT INTO billing_wallet (id, user_id, balance, held, currency, updated_at)
SELECT g, g, %(amount)s, 0.00, 'CNY', now() - interval '40 days' FROM generate_series(1, %(n)s) AS g
"""

LOAD_TOP_UPS = """
INSERT INTO billing_ledgerentry (wallet_id, kind, amount, balance_after, reference, note, created_at)
SELECT g, 'topup', %(amount)s, %(amount)s, 'BENCHTOPUP' || g, '', now() - interval '40 days'
FROM generate_series(1, %(n)s) AS g
"""

TABLES = [
    "accounts_user",
    "accounts_line",
    "billing_lineservice",
    "billing_wallet",
    "billing_ledgerentry",
    "billing_order",
    "billing_payment",
    "billing_receipt",
]

COUNTS_SQL = {
    "auto orders": "SELECT count(*) FROM billing_order WHERE channel = 'auto'",
    "paid auto orders": "SELECT count(*) FROM billing_order WHERE channel = 'auto' AND status = 'paid'",
    "charges": "SELECT count(*) FROM billing_ledgerentry WHERE kind = 'charge'",
    "payments": "SELECT count(*) FROM billing_payment WHERE status = 'succeeded'",
    "receipts": "SELECT count(*) FROM billing_receipt",
}

INVARIANTS_SQL = {
    "lines with more than one auto order for a period": """
        SELECT count(*) FROM (SELECT line_id, renews_from FROM billing_order WHERE channel = 'auto'
                              GROUP BY 1, 2 HAVING count(*) > 1) AS twice""",
    "lines renewed more than once": """
        SELECT count(*) FROM (SELECT line_id FROM billing_order WHERE channel = 'auto'
                              GROUP BY 1 HAVING count(*) > 1) AS twice""",
    "lines not renewed": """
        SELECT count(*) FROM accounts_line l
        WHERE NOT EXISTS (SELECT 1 FROM billing_order o WHERE o.line_id = l.id AND o.status = 'paid')""",
    "wallets charged more than once": """
        SELECT count(*) FROM (SELECT wallet_id FROM billing_ledgerentry WHERE kind = 'charge'
                              GROUP BY 1 HAVING count(*) > 1) AS twice""",
    "wallets whose balance differs from their ledger": """
        SELECT count(*) FROM billing_wallet w
        WHERE w.balance <> (SELECT coalesce(sum(e.amount), 0) FROM billing_ledgerentry e WHERE e.wallet_id = w.id)""",
    "negative balances": "SELECT count(*) FROM billing_wallet WHERE balance < 0",
    "paid orders without exactly one successful payment": """
        SELECT count(*) FROM billing_order o WHERE o.status = 'paid'
          AND (SELECT count(*) FROM billing_payment p WHERE p.order_id = o.id AND p.status = 'succeeded') <> 1""",
    "lines whose validity end differs from their order's": """
        SELECT count(*) FROM billing_order o JOIN accounts_line l ON l.id = o.line_id
        WHERE o.status = 'paid' AND o.new_validity_end IS DISTINCT FROM l.validity_end""",
}


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heyon_site.settings.test")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database of its own, e.g. postgres://postgres@127.0.0.1/heyon_bench")
    import django

    django.setup()


def memory_mb(field: str) -> float:
    """VmHWM (peak) or VmRSS (now) of this process, in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def backend_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a PostgreSQL server process (it runs on this machine)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scalar(sql: str):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def bench_plan():
    from billing.models import Plan

    plan, _created = Plan.objects.update_or_create(
        code="bench-basic",
        is_current=True,
        defaults={
            "name_zh": "基础套餐",
            "name_en": "Basic",
            "monthly_price": PRICE,
            "data_mb": 10240,
            "voice_minutes": 300,
            "sms_count": 100,
            "is_active": True,
        },
    )
    return plan


def load(n: int) -> float:
    """Replace every customer, line, wallet and order with ``n`` due auto-renew lines; return seconds."""
    from django.db import connection

    plan = bench_plan()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE accounts_user, accounts_line RESTART IDENTITY CASCADE")
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SELECT setseed(0.42)")
        params = {"n": n, "plan": plan.pk, "amount": TOP_UP}
        for sql in (LOAD_USERS, LOAD_LINES, LOAD_SERVICES, LOAD_WALLETS, LOAD_TOP_UPS):
            cursor.execute(sql, params)
        for table in ("accounts_user", "accounts_line", "billing_wallet"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", [n])
        cursor.execute("SET synchronous_commit = on")
        for table in TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - started


def counts() -> dict:
    return {label: scalar(sql) for label, sql in COUNTS_SQL.items()}


def naive_autorenew(now) -> int:
    """What a first implementation would do: one line at a time, one ORM call per row."""
    from datetime import timedelta

    from django.conf import settings
    from django.db import transaction

    from accounts.models import AuditEvent, Notification, OutboundMessage
    from accounts.services.lines import add_months
    from billing.models import LedgerEntry, LineService, Order, Payment, Receipt, ReceiptSequence, Wallet
    from billing.services.orders import describe, fingerprint, new_order_number, new_out_trade_no, receipt_number

    window_end = now + timedelta(days=settings.AUTORENEW_WINDOW_DAYS)
    due = LineService.objects.filter(
        auto_renew=True, line__validity_end__lte=window_end, line__status="active"
    ).values_list("line_id", flat=True)
    renewed = 0
    for line_id in list(due.order_by("line_id")):
        with transaction.atomic():
            service = (
                LineService.objects.select_for_update(of=("self",))
                .select_related("line__owner", "plan")
                .get(line_id=line_id)
            )
            line, owner, plan = service.line, service.line.owner, service.plan
            if not owner.is_real_name_verified:
                continue
            period = line.validity_end
            if Order.objects.filter(channel="auto", line_id=line_id, renews_from=period).exists():
                continue
            wallet = Wallet.objects.select_for_update().get(user=owner)
            amount = plan.monthly_price * service.auto_renew_term_months
            if wallet.balance < amount:
                continue
            new_end = add_months(max(period, now), service.auto_renew_term_months)
            order = Order.objects.create(
                number=new_order_number(now),
                user=owner,
                kind="renewal",
                channel="auto",
                status="paid",
                line=line,
                plan=plan,
                term_months=service.auto_renew_term_months,
                amount=amount,
                idempotency_key=f"auto:{line_id}:{period.isoformat()}",
                request_fingerprint=fingerprint(kind="auto", line=line_id, period=period.isoformat()),
                renews_from=period,
                new_validity_end=new_end,
                created_at=now,
                paid_at=now,
                expires_at=period + timedelta(days=settings.LINE_EXPIRY_GRACE_DAYS),
            )
            Payment.objects.create(
                order=order, method="wallet", status="succeeded", amount=amount, out_trade_no=new_out_trade_no()
            )
            wallet.balance -= amount
            LedgerEntry.objects.create(
                wallet=wallet,
                kind="charge",
                amount=-amount,
                balance_after=wallet.balance,
                reference=order.number,
                note="auto-renew",
                created_at=now,
            )
            wallet.save(update_fields=["balance", "updated_at"])
            line.validity_end = new_end
            line.save(update_fields=["validity_end", "status"])
            service.data_left_mb += plan.data_mb
            service.voice_left_minutes += plan.voice_minutes
            service.sms_left += plan.sms_count
            service.save()
            AuditEvent.objects.create(
                verb="line.renewed",
                target_type="accounts.line",
                target_id=str(line_id),
                subject_user=owner,
                data={"validity_end": new_end.isoformat()},
            )
            sequence, _created = ReceiptSequence.objects.select_for_update().get_or_create(year=now.year)
            sequence.last_number += 1
            sequence.save(update_fields=["last_number"])
            Receipt.objects.create(
                number=receipt_number(now.year, sequence.last_number),
                year=now.year,
                sequence=sequence.last_number,
                order=order,
                user=owner,
                amount=amount,
                description=describe(order),
                payment_method="wallet",
                issued_at=now,
            )
            body = f"Line {line.msisdn.as_national} is renewed until {new_end:%Y-%m-%d}. ¥{amount} paid."
            # The baseline writes the message the way the product did before kinds: as finished text.
            Notification.objects.create(
                user=owner, legacy_subject="Renewal paid", legacy_body=body, link=f"/billing/orders/{order.number}/"
            )
            OutboundMessage.objects.create(channel="sms", recipient=owner.phone.as_e164, body=body)
            AuditEvent.objects.create(
                verb="order.paid",
                target_type="billing.order",
                target_id=str(order.pk),
                subject_user=owner,
                data={"method": "wallet", "amount": str(amount), "auto": True},
            )
            renewed += 1
    return renewed


def child_run(mode: str, chunk_size: int):
    """In a fresh process: run the job (or the baseline), print one JSON line with its figures."""
    setup_django()
    from django.utils import timezone

    from billing.services import autorenew_run

    backend = scalar("SELECT pg_backend_pid()")  # connect first: connection set-up is not the job's
    rss_before = memory_mb("VmRSS")
    print("READY", flush=True)
    started, cpu, server_cpu = time.perf_counter(), time.process_time(), backend_cpu_s(backend)
    if mode == "naive":
        result = {"renewed": naive_autorenew(timezone.now())}
    else:
        result = autorenew_run(chunk_size=chunk_size)
    figures = {
        "elapsed": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu,
        "server_cpu_s": backend_cpu_s(backend) - server_cpu,
        "result": result,
        "rss_before_mb": rss_before,
        "peak_mb": memory_mb("VmHWM"),
    }
    print(json.dumps(figures), flush=True)


def run_child(mode: str, chunk_size: int, kill_at: tuple[int, float] | None = None) -> dict:
    """Run the job in a fresh process; with ``kill_at=(lines, seconds)``, SIGKILL it that long after it has
    committed that many renewals (on a loaded machine a fixed delay may fall before the first commit)."""
    command = [sys.executable, __file__, "--child", mode, "--chunk-size", str(chunk_size)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "READY"
    if kill_at is not None:
        lines, delay = kill_at
        while scalar(COUNTS_SQL["auto orders"]) < lines and child.poll() is None:
            time.sleep(0.02)
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        return {"killed": child.returncode == -signal.SIGKILL}
    output = child.stdout.read()
    assert child.wait() == 0, output
    return json.loads(output.strip().splitlines()[-1])


def wait_for_backends_to_go():
    """A killed client's server process rolls back and leaves; wait until its locks are gone."""
    for _ in range(100):
        if not scalar(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'billing_wallet' AND l.pid <> pg_backend_pid()"
        ):
            return
        time.sleep(0.1)


def check_invariants(expected_lines: int) -> list[tuple[str, int, int]]:
    rows = [(label, scalar(sql), 0) for label, sql in INVARIANTS_SQL.items()]
    rows.append(("auto orders = lines", scalar(COUNTS_SQL["auto orders"]), expected_lines))
    rows.append(("charges = lines", scalar(COUNTS_SQL["charges"]), expected_lines))
    rows.append(("receipts = lines", scalar(COUNTS_SQL["receipts"]), expected_lines))
    expected_total = (TOP_UP - PRICE) * expected_lines
    rows.append(("sum of balances (¥)", scalar("SELECT sum(balance) FROM billing_wallet"), expected_total))
    return rows


def print_table(rows: list[tuple[str, dict]]):
    """Wall-clock rate, and the rate per CPU-second of the job plus its PostgreSQL server process.

    On a shared machine the wall-clock figure moves with the other processes' load; the
    CPU figure is what the job itself costs (one client and one server process, which on
    an idle machine run one after the other: the job waits for each query).
    """
    header = (
        f"{'':<42}{'lines':>8}{'wall s':>8}{'lines/s':>9}{'job CPU s':>10}{'PG CPU s':>9}"
        f"{'lines/CPU-s':>12}{'peak MB':>9}"
    )
    print("\n" + header)
    print("-" * len(header))
    for label, fig in rows:
        renewed = fig["result"]["renewed"]
        cpu = fig["cpu_s"] + fig["server_cpu_s"]
        rate = f"{renewed / fig['elapsed']:,.0f}" if renewed else "—"
        per_cpu = f"{renewed / cpu:,.0f}" if renewed else "—"
        print(
            f"{label:<42}{renewed:>8,}{fig['elapsed']:>8.2f}{rate:>9}{fig['cpu_s']:>10.2f}{fig['server_cpu_s']:>9.2f}"
            f"{per_cpu:>12}{fig['peak_mb']:>9.0f}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000, help="due lines for the job (default 100,000)")
    parser.add_argument("--baseline-lines", type=int, default=5_000, help="due lines for the per-line loop")
    parser.add_argument("--kill-lines", type=int, default=30_000, help="due lines for the kill test")
    parser.add_argument(
        "--kill-after", type=float, default=0.3, help="seconds after a third of the lines are committed (default 0.3)"
    )
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--child", choices=["job", "naive"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_run(args.child, args.chunk_size)

    setup_django()
    from django.conf import settings
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(
        f"PostgreSQL {scalar('SHOW server_version')} at {settings.DATABASES['default']['HOST']}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; "
        f"chunk size {args.chunk_size}, window {settings.AUTORENEW_WINDOW_DAYS} days"
    )

    print(f"\n== baseline: per-line ORM loop over {args.baseline_lines:,} due lines ==", flush=True)
    print(f"loaded in {load(args.baseline_lines):.1f} s", flush=True)
    naive = run_child("naive", args.chunk_size)
    naive_rate = naive["result"]["renewed"] / naive["elapsed"]
    print(
        f"renewed {naive['result']['renewed']:,} in {naive['elapsed']:.1f} s: {naive_rate:,.0f} lines/s, "
        f"peak {naive['peak_mb']:.0f} MB",
        flush=True,
    )
    naive_bad = [row for row in check_invariants(args.baseline_lines) if row[1] != row[2]]

    print(f"\n== autorenew_run over {args.lines:,} due lines ==", flush=True)
    print(f"loaded in {load(args.lines):.1f} s", flush=True)
    job = run_child("job", args.chunk_size)
    job_rate = job["result"]["renewed"] / job["elapsed"]
    print(
        f"first run: {job['result']} in {job['elapsed']:.1f} s: {job_rate:,.0f} lines/s; "
        f"RSS {job['rss_before_mb']:.0f} MB after set-up, peak (VmHWM) {job['peak_mb']:.0f} MB",
        flush=True,
    )
    before = counts()
    again = run_child("job", args.chunk_size)
    after = counts()
    charged_again = {label: after[label] - before[label] for label in before}
    print(f"second run: {again['result']} in {again['elapsed']:.2f} s; new rows: {charged_again}", flush=True)
    job_bad = [row for row in check_invariants(args.lines) if row[1] != row[2]]

    print(
        f"\n== kill test: {args.kill_lines:,} due lines, SIGKILL {args.kill_after} s after {args.kill_lines // 3:,} "
        "are committed, then run again =="
    )
    print(f"loaded in {load(args.kill_lines):.1f} s", flush=True)
    killed = run_child("job", args.chunk_size, kill_at=(args.kill_lines // 3, args.kill_after))
    wait_for_backends_to_go()
    at_kill = counts()
    print(f"killed: {killed['killed']}; committed before the kill: {at_kill}", flush=True)
    resumed = run_child("job", args.chunk_size)
    print(f"resumed run: {resumed['result']} in {resumed['elapsed']:.1f} s", flush=True)
    kill_rows = check_invariants(args.kill_lines)
    print("\nAfter the kill and the resumed run:")
    for label, value, expected in kill_rows:
        print(f"  {label:<55}{value!s:>14}   expected {expected}")
    kill_bad = [row for row in kill_rows if row[1] != row[2]]
    # Whole chunks only: the chunk in flight when the job died rolled back.
    partial = 0 < at_kill["auto orders"] < args.kill_lines and at_kill["auto orders"] % args.chunk_size == 0

    print_table(
        [
            ("per-line ORM loop (baseline)", naive),
            ("autorenew_run, first run", job),
            ("autorenew_run, second run (nothing due)", again),
            ("autorenew_run after SIGKILL (resumed)", resumed),
        ]
    )
    job_cpu_rate = job["result"]["renewed"] / (job["cpu_s"] + job["server_cpu_s"])
    naive_cpu_rate = naive["result"]["renewed"] / (naive["cpu_s"] + naive["server_cpu_s"])
    print(
        f"\nautorenew_run ÷ baseline: {job_rate / naive_rate:.1f}× the lines per second (wall clock), "
        f"{job_cpu_rate / naive_cpu_rate:.1f}× the lines per CPU-second"
    )

    print(f"\nTargets at {args.lines:,} lines:")
    checks = [
        (
            f"≥ {TARGET_LINES_PER_S:,} lines/s, wall clock ({job_rate:,.0f}; baseline {naive_rate:,.0f})",
            job_rate >= TARGET_LINES_PER_S,
        ),
        (
            f"≥ {TARGET_LINES_PER_S:,} lines per CPU-second of job + PostgreSQL ({job_cpu_rate:,.0f}; "
            f"baseline {naive_cpu_rate:,.0f})",
            job_cpu_rate >= TARGET_LINES_PER_S,
        ),
        (
            f"< {TARGET_PEAK_MB} MB peak memory ({job['peak_mb']:.0f} MB VmHWM, of which {job['rss_before_mb']:.0f} MB "
            "is Django before the job)",
            job["peak_mb"] < TARGET_PEAK_MB,
        ),
        (f"every due line renewed once and the books balance ({len(job_bad)} failed checks)", not job_bad),
        (
            "a second run charges nothing (no new order, payment, charge or receipt)",
            not any(charged_again.values()) and again["result"]["renewed"] == 0,
        ),
        (
            f"work done in batches that commit: {at_kill['auto orders']:,} of {args.kill_lines:,} lines were "
            f"committed when the job was killed",
            partial,
        ),
        (f"the killed run resumes without charging anyone twice ({len(kill_bad)} failed checks)", not kill_bad),
        (f"the baseline's own books balance ({len(naive_bad)} failed checks)", not naive_bad),
    ]
    for label, ok in checks:
        print(f"[{'met' if ok else 'MISSED'}] {label}")
    for label, value, expected in job_bad + kill_bad + naive_bad:
        print(f"    failed: {label}: {value} (expected {expected})")
    print(f"\nTotal run time {time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
