"""Benchmark the usage import at an operator's scale, beside the import it replaced.

    createdb -h 127.0.0.1 -U postgres heyon_bench_usage
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/heyon_bench_usage \\
        .venv/bin/python bench/usage_import.py --lines 200000 --records 5000000 --file-records 500000

The script empties the bench database's users, lines and usage (TRUNCATE … CASCADE: use a
database of its own), bulk-loads ``--lines`` active lines with their owners and allowances
(INSERT … SELECT FROM generate_series), makes the usage partitions, and writes CSV files
(``--file-records`` records each, ``--records`` in all; each record on a random line, at a
random time of the current local month so far, with a unique record id; one row in 2,000
has an unknown number). Then:

1. a small file of ``--small-records`` records is imported, and the pages are timed at that
   size: the account centre's usage section (``billing.selectors.usage_by_month`` for a
   customer, and the whole ``/account/`` page with the cache emptied before each request)
   and the admin's usage changelist (its default, the current month, and a search by
   number), through Django's test client;
2. the baseline: the import as it was before issue 19 (``billing/services/usage.py`` at
   ``--baseline-commit``, read from git) on the first ``--baseline-records`` rows of the first
   file, in a subprocess of its own, rolled back at the end;
3. ``billing.services.usage_import`` on every file in turn, then the first file again, in
   one subprocess of its own (its peak memory, VmHWM, is the imports');
4. the pages again at full size.

Records per second is the file's records divided by the wall time of ``usage_import``
(digest, parse, COPY, merge, daily totals and allowances), Django set up before the clock.
"""

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# bench/queue.py would shadow the standard library's queue module: keep bench/ off the path.
sys.path[:] = [str(ROOT), *(entry for entry in sys.path if Path(entry or ".").resolve() != BENCH_DIR)]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import secrets  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from datetime import timedelta  # noqa: E402

TARGET_RECORDS_PER_S = 150_000
TARGET_PEAK_MB = 200
TARGET_REIMPORT_SHARE = 0.10
TARGET_LAST_VS_FIRST = 0.20
BASELINE_COMMIT = "d05426c"  # main before issue 19

LOAD_USERS = """
INSERT INTO accounts_user (id, password, is_superuser, phone, display_name, is_staff, is_active,
                           date_joined, phone_verified_at, real_name_verified_at, identity_index, language)
SELECT g, '!', false, '+86137' || lpad(g::text, 8, '0'), '', false, true,
       now() - interval '400 days', now() - interval '400 days', now() - interval '390 days', '', ''
FROM generate_series(1, %(n)s) AS g
"""

LOAD_LINES = """
INSERT INTO accounts_line (id, msisdn, iccid, activation_code_hash, activation_code_hint,
                           activation_code_used_at, status, attached_at, activated_at, validity_end,
                           created_at, owner_id, plan_code)
SELECT g, '+86137' || lpad(g::text, 8, '0'), '8986' || lpad(g::text, 16, '0'), md5('bench-code-' || g),
       right(md5('bench-code-' || g), 4), now() - interval '390 days', 'active',
       now() - interval '390 days', now() - interval '390 days', now() + interval '300 days',
       now() - interval '400 days', g, 'bench-basic'
FROM generate_series(1, %(n)s) AS g
"""

LOAD_SERVICES = """
INSERT INTO billing_lineservice (line_id, plan_id, data_left_mb, voice_left_minutes, sms_left, auto_renew,
                                 auto_renew_method, auto_renew_term_months, auto_renew_next_attempt_at,
                                 auto_renew_failures, expiry_warning_sent_for, updated_at)
SELECT g, %(plan)s, 1000000, 100000, 10000, false, 'wallet', 1, NULL, 0, '', now() - interval '30 days'
FROM generate_series(1, %(n)s) AS g
"""


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heyon_site.settings.test")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database of its own, e.g. postgres://postgres@127.0.0.1/heyon_bench")
    import django

    django.setup()


def host_speed() -> float:
    """Seconds a plain Python loop of 10 million additions takes: how fast the host is right now."""
    started = time.perf_counter()
    total = 0
    for number in range(10_000_000):
        total += number
    return time.perf_counter() - started


def memory_mb(field: str) -> float:
    """VmHWM (peak) or VmRSS (now) of this process, in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def load(lines: int) -> float:
    """Replace every customer, line and usage row with ``lines`` active lines; return seconds."""
    from django.db import connection

    from accounts.services import staff_user_create
    from billing import services
    from billing.models import Plan

    started = time.perf_counter()
    plan, _created = Plan.objects.update_or_create(
        code="bench-basic",
        is_current=True,
        defaults={"name_zh": "基础套餐", "name_en": "Basic", "monthly_price": 30, "data_mb": 10240,
                  "voice_minutes": 300, "sms_count": 100, "is_active": True},
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE billing_usagerecord, billing_usagedaily, billing_usageimport")
        cursor.execute("TRUNCATE accounts_user, accounts_line RESTART IDENTITY CASCADE")
        cursor.execute("SET synchronous_commit = off")
        for sql in (LOAD_USERS, LOAD_LINES, LOAD_SERVICES):
            cursor.execute(sql, {"n": lines, "plan": plan.pk})
        for table in ("accounts_user", "accounts_line", "billing_lineservice"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('accounts_user', 'id'), (SELECT max(id) FROM accounts_user))"
        )
    services.usage_partitions_maintain()
    staff_user_create(login="bench-admin", role="admin", password=secrets.token_urlsafe())
    return time.perf_counter() - started


def write_file(path: Path, *, first_record: int, records: int, lines: int, seed: int) -> None:
    """``records`` rows on random lines at random times of this local month so far (kept if already there)."""
    from django.utils import timezone

    if path.exists():
        return
    rng = random.Random(seed)
    now = timezone.localtime()
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    span = max(int((now - month_start).total_seconds()) - 60, 60)
    kinds = ("data", "data", "data", "voice", "sms")
    with path.open("w") as out:
        out.write("msisdn,time,type,quantity,record_id\n")
        rows = []
        for number in range(first_record, first_record + records):
            line = rng.randint(1, lines)
            msisdn = f"+86137{line:08d}" if number % 2000 else "+8617099999999"
            moment = month_start + timedelta(seconds=rng.randrange(span))
            kind = kinds[number % 5]
            quantity = f"{rng.randint(1, 50000) / 1000:.3f}" if kind == "data" else str(rng.randint(1, 30))
            rows.append(f"{msisdn},{moment:%Y-%m-%dT%H:%M:%S+08:00},{kind},{quantity},R{number}\n")
            if len(rows) >= 10_000:
                out.write("".join(rows))
                rows.clear()
        out.write("".join(rows))


def child_import(paths: list[str]) -> None:
    """Import each file in turn and print one JSON line per file, then the peak memory."""
    from billing import services

    print(json.dumps({"rss_after_setup_mb": memory_mb("VmRSS")}), flush=True)
    for path in paths:
        started = time.perf_counter()
        with open(path, "rb") as stream:
            report = services.usage_import(file_name=Path(path).name, file=stream)
        seconds = time.perf_counter() - started
        print(json.dumps({"file": Path(path).name, "seconds": seconds, "imported": report.imported,
                          "duplicates": report.duplicates, "skipped": report.bad_row_count,
                          "already": report.already_imported, "peak_mb": memory_mb("VmHWM")}), flush=True)  # fmt: skip


class Rollback(Exception):
    pass


def child_baseline(path: str, rows: int, commit: str) -> None:
    """The import before issue 19 on the first ``rows`` rows of ``path``, rolled back; print JSON."""
    from django.db import transaction

    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{commit}:billing/services/usage.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    legacy = types.ModuleType("legacy_usage")
    exec(compile(source, f"{commit}:billing/services/usage.py", "exec"), legacy.__dict__)  # noqa: S102
    with open(path, "rb") as stream:
        content = b"".join(line for _number, line in zip(range(rows + 1), stream, strict=False))
    print(json.dumps({"rss_after_setup_mb": memory_mb("VmRSS")}), flush=True)
    started = time.perf_counter()
    try:
        with transaction.atomic():
            report = legacy.usage_import(file_name="baseline.csv", content=content)
            seconds = time.perf_counter() - started
            raise Rollback
    except Rollback:
        pass
    print(json.dumps({"rows": rows, "seconds": seconds, "imported": report.imported,
                      "peak_mb": memory_mb("VmHWM")}), flush=True)  # fmt: skip


def run_child(*arguments: str, env: dict | None = None) -> list[dict]:
    command = [sys.executable, __file__, "--child", *arguments]
    output = subprocess.run(command, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})})
    if output.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{output.stderr[-4000:]}")
    return [json.loads(line) for line in output.stdout.splitlines() if line.startswith("{")]


def measure(client, url: str, requests: int, prepare=None) -> float:
    """Median milliseconds of ``requests`` GETs after two warm-ups."""
    for _ in range(2):
        if prepare:
            prepare()
        assert client.get(url).status_code == 200, url
    times = []
    for _ in range(requests):
        if prepare:
            prepare()
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    return statistics.median(times)


def measure_selector(requests: int) -> float:
    from accounts.models import User
    from billing import selectors

    customer = User.objects.get(pk=1)
    times = []
    for _ in range(requests + 2):
        started = time.perf_counter()
        selectors.usage_by_month(user=customer)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[2:])


def measure_pages(requests: int) -> dict:
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    from accounts.models import User

    with connection.cursor() as cursor:
        for table in ("billing_usagerecord", "billing_usagedaily"):
            cursor.execute(f"ANALYZE {table}")
    customer, admin_user = Client(), Client()
    customer.force_login(User.objects.get(pk=1))
    admin_user.force_login(User.objects.get(username="bench-admin"))
    return {
        "usage_by_month (selector)": measure_selector(requests),
        "/account/ (cache emptied)": measure(customer, "/account/", requests, prepare=cache.clear),
        "admin usage changelist": measure(admin_user, "/admin/billing/usagerecord/", requests),
        "admin usage search by number": measure(admin_user, "/admin/billing/usagerecord/?q=%2B8613700000001", requests),
    }


def table_mb(table: str) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits "
            "WHERE inhparent = CAST(%s AS regclass)",
            [table],
        )
        return cursor.fetchone()[0] / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--file-records", type=int, default=500_000)
    parser.add_argument("--small-records", type=int, default=50_000)
    parser.add_argument("--baseline-records", type=int, default=None, help="default: a whole file")
    parser.add_argument("--baseline-commit", default=BASELINE_COMMIT)
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--files-dir", help="keep the CSV files here and reuse those already written (same sizes)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    setup_django()
    if args.child:
        mode, *rest = args.child
        if mode == "import":
            child_import(rest)
        else:
            child_baseline(rest[0], int(rest[1]), rest[2])
        return

    speed_start = host_speed()
    print(f"Host speed: a plain Python loop of 10 million additions takes {speed_start:.2f} s", flush=True)
    print(f"Loading {args.lines:,} lines… {load(args.lines):.1f} s", flush=True)
    workdir = Path(args.files_dir or tempfile.mkdtemp(prefix="usage-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    files = []
    started = time.perf_counter()
    small = workdir / "usage-small.csv"
    write_file(small, first_record=10**9, records=args.small_records, lines=args.lines, seed=0)
    for index, first in enumerate(range(0, args.records, args.file_records), start=1):
        path = workdir / f"usage-{index:03d}.csv"
        write_file(path, first_record=first, records=min(args.file_records, args.records - first), lines=args.lines,
                   seed=index)  # fmt: skip
        files.append(path)
    size_mb = files[0].stat().st_size / 2**20
    print(f"Wrote {len(files)} files of {args.file_records:,} records ({size_mb:.0f} MB each) in "
          f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip

    run_child("import", str(small))
    small_pages = measure_pages(args.requests)
    print(f"Pages at {args.small_records:,} records: {small_pages}", flush=True)

    baseline_rows = args.baseline_records or args.file_records
    # The old path puts every record key of the file in one query's parameters: with PostgreSQL
    # binding them (the default, DATABASE_SERVER_SIDE_BINDING) a file of more than 65,535 keys
    # fails outright, so the baseline runs with Django's client-side binding.
    baseline = run_child(
        "baseline",
        str(files[0]),
        str(baseline_rows),
        args.baseline_commit,
        env={"DATABASE_SERVER_SIDE_BINDING": "false"},
    )[-1]
    print(f"Baseline ({args.baseline_commit}, client-side binding) on {baseline_rows:,} rows of the first file: "
          f"{baseline}", flush=True)  # fmt: skip

    results = run_child("import", *map(str, files), str(files[0]))
    setup_rss, per_file, again = results[0], results[1:-1], results[-1]
    for result in per_file:
        print(f"  {result['file']}: {result['seconds']:.2f} s, {args.file_records / result['seconds']:,.0f} records/s, "
              f"imported {result['imported']:,}, duplicates {result['duplicates']:,}, skipped {result['skipped']:,}, "
              f"peak {result['peak_mb']:.0f} MB", flush=True)  # fmt: skip
    full_pages = measure_pages(args.requests)
    speed_end = host_speed()

    total_records = sum(result["imported"] for result in per_file)
    total_seconds = sum(result["seconds"] for result in per_file)
    first, last = per_file[0], per_file[-1]
    first_rate = (first["imported"] + first["duplicates"] + first["skipped"]) / first["seconds"]
    last_rate = (last["imported"] + last["duplicates"] + last["skipped"]) / last["seconds"]
    rate = sum(result["imported"] + result["duplicates"] + result["skipped"] for result in per_file) / total_seconds
    baseline_rate = baseline["rows"] / baseline["seconds"]
    peak = max(result["peak_mb"] for result in results[1:])

    print("\n== Usage import ==")
    print(f"{'':44} {'this import':>16} {'baseline':>16}")
    print(f"{'records/s (first file)':44} {first_rate:16,.0f} {baseline_rate:16,.0f}")
    print(f"{'records/s (all files)':44} {rate:16,.0f} {'':>16}")
    print(f"{'peak memory (VmHWM, MB)':44} {peak:16.0f} {baseline['peak_mb']:16.0f}")
    print(f"{'memory after Django set-up (MB)':44} {setup_rss['rss_after_setup_mb']:16.0f}")
    print(f"records imported: {total_records:,} in {len(per_file)} files; the first file again: "
          f"{again['seconds']:.2f} s ({again['seconds'] / first['seconds']:.1%} of the first import), "
          f"already imported: {again['already']}")  # fmt: skip
    print(f"last file vs first: {last_rate:,.0f} vs {first_rate:,.0f} records/s ({last_rate / first_rate - 1:+.1%})")
    print(f"usage records on disk: {table_mb('billing_usagerecord'):.0f} MB, daily totals "
          f"{table_mb('billing_usagedaily'):.0f} MB (tables and indexes)")  # fmt: skip
    print(f"\n{'page (median ms)':44} {args.small_records:>14,} {total_records + args.small_records:>14,}")
    for name in small_pages:
        print(f"{name:44} {small_pages[name]:14.1f} {full_pages[name]:14.1f}")
    print(f"\nHost speed: {speed_start:.2f} s at the start, {speed_end:.2f} s at the end")
    print("\n== Targets ==")
    verdicts = [
        (f"≥ {TARGET_RECORDS_PER_S:,} records/s end to end", rate >= TARGET_RECORDS_PER_S, f"{rate:,.0f}"),
        (f"peak memory < {TARGET_PEAK_MB} MB", peak < TARGET_PEAK_MB, f"{peak:.0f} MB"),
        ("same file again < 10 % of the first, nothing added",
         again["seconds"] < TARGET_REIMPORT_SHARE * first["seconds"] and again["imported"] == 0,
         f"{again['seconds'] / first['seconds']:.1%}"),
        ("last file within 20 % of the first", last_rate >= (1 - TARGET_LAST_VS_FIRST) * first_rate,
         f"{last_rate / first_rate - 1:+.1%}"),
    ]  # fmt: skip
    for name, met, figure in verdicts:
        print(f"{'met   ' if met else 'MISSED'} {name}: {figure}")


if __name__ == "__main__":
    main()
