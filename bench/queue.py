"""Benchmark the staff review queue against Django admin's default changelist.

    createdb -h 127.0.0.1 -U postgres heyon_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/heyon_bench \\
        .venv/bin/python bench/queue.py --sizes 10000 100000 1000000

For each size the script empties the bench database's users and submissions
(TRUNCATE … CASCADE: use a database of its own), bulk-loads N submissions with one
INSERT … SELECT FROM generate_series, VACUUM ANALYZEs, and then requests, through
Django's test client with the queries captured:

- ``/staff/reviews/`` as a reviewer: the first page, and the page 200,000 open
  submissions deep (its keyset cursor read straight from the database; the last page
  when the queue is shorter); then the flagged filter, a search by a whole name (its blind
  index), the "waiting longest" and "most attempts" sorts and the photo-hints filter, each
  on its first page;
- the baseline: a plain ``admin.ModelAdmin`` for Submission on its own AdminSite
  (default paginator, COUNT(*) and OFFSET paging) as a superuser: its first page and
  ``?p=4000`` (the last page when there are fewer).

Time is the wall time of the whole request in-process (middleware, view, queries,
template), median and p90 of ``--requests`` requests after two warm-up requests.
"""

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# This file shares its name with the standard library's queue module, which Django's
# dependencies import: keep bench/ off the import path and the project root on it.
sys.path[:] = [str(ROOT), *(entry for entry in sys.path if Path(entry or ".").resolve() != BENCH_DIR)]

import argparse  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402

QUEUE_DEPTH = 200_000
ADMIN_PAGE = 4000
OPEN_SHARE = 0.92  # the rest are earlier, decided attempts of the same customers
# The session, the reviewer, their permissions (two), the page, its photos' hints, the
# queue's counts and the business-day calendar's warning.
TARGET_QUERIES = 8
SEARCHED_CUSTOMER = 123
TARGET_MS = 30
TARGET_SPEEDUP = 10

LOAD_CUSTOMERS = """
INSERT INTO accounts_user (id, password, is_superuser, phone, display_name, is_staff, is_active,
                           date_joined, phone_verified_at, identity_index, language)
SELECT g, '!', false, '+86139' || lpad(g::text, 8, '0'), '', false, true,
       now() - interval '90 days', now() - interval '90 days', '', ''
FROM generate_series(1, %(customers)s) AS g
"""

# Rows 1..closed: a decided first attempt of customer g (older). Rows closed+1..N: the open
# submission of customer g-closed (attempt 2 when that customer also has a decided one).
# submitted_at grows with the row number, as ids do in production, with jitter; due_at is
# submitted_at plus the three-business-day SLA, i.e. 3 to 5 calendar days.
LOAD_SUBMISSIONS = """
INSERT INTO reviews_submission (
    user_id, channel, status, attempt_number, full_name, full_name_index, id_number_encrypted, id_number_masked,
    id_number_index, contact_phone, submitted_at, due_at, claimed_by_id, claim_expires_at,
    decided_by_id, decided_at, customer_message, internal_note, flags, is_flagged, escalation_note,
    has_photo_hints, final_rejection_proposal)
SELECT
    s.customer,
    CASE WHEN s.r1 < 0.1 THEN 'offline' ELSE 'online' END,
    s.status,
    CASE WHEN s.g > %(closed)s AND s.customer <= %(closed)s THEN 2 ELSE 1 END,
    '测试用户' || s.customer,
    md5('name' || s.customer),
    'gAAAAABbenchdummyciphertext',
    '110105********1234',
    md5(s.g::text),
    '+86139' || lpad(s.customer::text, 8, '0'),
    s.submitted_at,
    s.submitted_at + interval '3 days' + s.r2 * interval '2 days',
    CASE WHEN s.status = 'in_review' THEN %(reviewer)s END,
    CASE WHEN s.status = 'in_review' THEN now() + interval '10 minutes' END,
    CASE WHEN s.status IN ('approved', 'rejected') THEN %(reviewer)s END,
    CASE WHEN s.status IN ('approved', 'rejected') THEN s.submitted_at + interval '1 day' END,
    '', '',
    CASE WHEN s.r3 < 0.01 THEN '{"duplicate_id": {"accounts": [1]}}'::jsonb ELSE '{}'::jsonb END,
    s.r3 < 0.01,
    '',
    false,
    '{}'::jsonb
FROM (
    SELECT g,
           CASE WHEN g <= %(closed)s THEN g ELSE g - %(closed)s END AS customer,
           CASE WHEN g <= %(closed)s THEN (CASE WHEN r1 < 0.3 THEN 'approved' ELSE 'rejected' END)
                WHEN r2 < 0.01 THEN 'in_review' ELSE 'pending' END AS status,
           CASE WHEN g <= %(closed)s
                THEN now() - interval '60 days' + (g::float / greatest(%(closed)s, 1)) * interval '25 days'
                ELSE now() - interval '30 days' + ((g - %(closed)s)::float / %(open)s) * interval '30 days'
           END - r3 * interval '2 hours' AS submitted_at,
           r1, r2, r3
    FROM (SELECT g, random() AS r1, random() AS r2, random() AS r3
          FROM generate_series(1, %(size)s) AS g) AS numbered
) AS s
ORDER BY s.g
"""


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heyon_site.settings.test")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database of its own, e.g. postgres://postgres@127.0.0.1/heyon_bench")
    import django

    django.setup()


def bench_urlconf():
    """The site's URLs plus a default ModelAdmin for Submission under /bench-admin/."""
    from django.contrib import admin
    from django.urls import path

    from heyon_site import urls
    from reviews.models import Submission

    site = admin.AdminSite(name="bench_admin")
    site.register(Submission, admin.ModelAdmin)
    module = types.ModuleType("bench_queue_urls")
    module.urlpatterns = [path("bench-admin/", site.urls), *urls.urlpatterns]
    sys.modules[module.__name__] = module
    return module.__name__


def load(size: int) -> dict:
    """Replace every user and submission with ``size`` generated submissions; return the staff."""
    from django.db import connection

    from accounts.services import staff_user_create
    from reviews.pii import name_blind_index

    open_count = round(size * OPEN_SHARE)
    closed = size - open_count
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE accounts_user, reviews_submission RESTART IDENTITY CASCADE")
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(LOAD_CUSTOMERS, {"customers": open_count})
        cursor.execute("SELECT setval(pg_get_serial_sequence('accounts_user', 'id'), %s)", [open_count])
    # The clients sign in with force_login; nobody needs to know these passwords.
    reviewer = staff_user_create(login="bench-reviewer", role="reviewer", password=secrets.token_urlsafe())
    superuser = staff_user_create(login="bench-admin", role="admin", password=secrets.token_urlsafe())
    with connection.cursor() as cursor:
        cursor.execute(LOAD_SUBMISSIONS, {"size": size, "open": open_count, "closed": closed, "reviewer": reviewer.pk})
        # One customer's name indexed as the app indexes it, for the name search.
        cursor.execute(
            "UPDATE reviews_submission SET full_name_index = %s WHERE user_id = %s",
            [name_blind_index(f"测试用户{SEARCHED_CUSTOMER}"), SEARCHED_CUSTOMER],
        )
        loaded = time.perf_counter() - started
        cursor.execute("VACUUM ANALYZE accounts_user")
        cursor.execute("VACUUM ANALYZE reviews_submission")
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('reviews_submission'))")
        table_size = cursor.fetchone()[0]
    return {
        "reviewer": reviewer,
        "superuser": superuser,
        "open": open_count,
        "load_s": loaded,
        "vacuum_s": time.perf_counter() - started - loaded,
        "table_size": table_size,
    }


def deep_cursor(open_count: int) -> tuple[str, int]:
    """The cursor that starts the page QUEUE_DEPTH rows into the queue (or its last page)."""
    from reviews.models import Submission
    from reviews.selectors import QUEUE_PAGE_SIZE, encode_cursor

    position = min(QUEUE_DEPTH, open_count - QUEUE_PAGE_SIZE)
    row = (
        Submission.objects.filter(status__in=Submission.OPEN_STATUSES)
        .order_by("due_at", "pk")
        .only("pk", "due_at")[position - 1]
    )
    return encode_cursor(row), position


def measure(client, url: str, params: dict, requests: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        response = client.get(url, params)
        assert response.status_code == 200, (url, params, response.status_code)
    times, sql_ms, counts = [], [], []
    for _ in range(requests):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(url, params)
            times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, params, response.status_code)
        sql_ms.append(sum(float(query["time"]) for query in captured.captured_queries) * 1000)
        counts.append(len(captured.captured_queries))
    return {
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "p90_ms": sorted(times)[round(0.9 * (len(times) - 1))],
        "queries": max(counts),
        "sql_ms": statistics.median(sql_ms),
        "submission_sql": [query["sql"] for query in captured.captured_queries if "reviews_submission" in query["sql"]],
        "html": response.content,
    }


def measure_selector(params: dict, requests: int) -> float:
    """Median time of reviews.selectors.queue_page alone (ORM and SQL, no view or template)."""
    from reviews.selectors import queue_filters_from, queue_page

    filters = queue_filters_from(params)
    times = []
    for _ in range(requests + 2):
        start = time.perf_counter()
        queue_page(filters=filters, cursor=params.get("after"))
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[2:])


def plan_of(sql: str) -> str:
    """The shape of PostgreSQL's plan for ``sql``: node names and the indexes they use."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql)
        lines = [row[0] for row in cursor.fetchall()]
    nodes = [line.strip().lstrip("-> ").split(" (")[0] for line in lines if "Scan" in line or "Join" in line]
    execution = next((line.split(":")[1].strip() for line in lines if line.startswith("Execution Time")), "?")
    return f"{' → '.join(nodes)} ({execution})"


def run_size(size: int, requests: int) -> list[dict]:
    from django.test import Client

    from reviews.selectors import QUEUE_PAGE_SIZE

    print(f"\n== {size:,} submissions ==", flush=True)
    loaded = load(size)
    print(
        f"loaded in {loaded['load_s']:.1f} s, VACUUM ANALYZE {loaded['vacuum_s']:.1f} s; "
        f"{loaded['open']:,} open; table with indexes {loaded['table_size']}",
        flush=True,
    )
    reviewer, superuser = Client(), Client()
    reviewer.force_login(loaded["reviewer"])
    superuser.force_login(loaded["superuser"])
    cursor, position = deep_cursor(loaded["open"])
    admin_last = -(-size // 100)
    admin_page = min(ADMIN_PAGE, admin_last)

    cases = [
        ("queue", "first page", reviewer, "/staff/reviews/", {}),
        ("queue", f"after row {position:,}", reviewer, "/staff/reviews/", {"after": cursor}),
        ("queue", "first page, flagged", reviewer, "/staff/reviews/", {"flagged": "1"}),
        ("queue", "name search", reviewer, "/staff/reviews/", {"q": f"测试用户{SEARCHED_CUSTOMER}"}),
        ("queue", "sort: waiting longest", reviewer, "/staff/reviews/", {"sort": "waiting"}),
        ("queue", "sort: most attempts", reviewer, "/staff/reviews/", {"sort": "attempt"}),
        ("queue", "photo hints filter", reviewer, "/staff/reviews/", {"hinted": "1"}),
        ("admin", "first page", superuser, "/bench-admin/reviews/submission/", {}),
        ("admin", f"?p={admin_page} (offset {(admin_page - 1) * 100:,})", superuser, "/bench-admin/reviews/submission/",
         {"p": admin_page}),
    ]  # fmt: skip
    rows = []
    for view, page, client, url, params in cases:
        result = measure(client, url, params, requests)
        result.update(size=size, view=view, page=page, plans=[plan_of(sql) for sql in result["submission_sql"]])
        result["selector_ms"] = measure_selector(params, requests) if view == "queue" else None
        rows.append(result)
    # The pages really list rows: 50 per queue page (each with its claim form), 100 per admin page.
    # The name search finds its one customer's open submission; the bench has no photos, so no hints.
    expected_rows = [QUEUE_PAGE_SIZE, QUEUE_PAGE_SIZE, None, 1, QUEUE_PAGE_SIZE, QUEUE_PAGE_SIZE, 0, 100, 100]
    for row, expected in zip(rows, expected_rows, strict=True):
        shown = row["html"].count(b'name="_selected_action"' if row["view"] == "admin" else b"/claim/")
        assert shown == (expected if expected is not None else shown), f"{row['view']} {row['page']} lists {shown}"
    return rows


def print_table(rows: list[dict]):
    header = (
        f"{'rows':>10}  {'view':<6}{'page':<30}{'min ms':>8}{'median ms':>10}{'p90 ms':>9}{'SQL ms':>8}"
        f"{'selector ms':>12}{'queries':>9}"
    )
    print("\n" + header)
    print("-" * len(header))
    for row in rows:
        selector = "—" if row["selector_ms"] is None else f"{row['selector_ms']:.1f}"
        print(
            f"{row['size']:>10,}  {row['view']:<6}{row['page']:<30}{row['min_ms']:>8.1f}{row['median_ms']:>10.1f}"
            f"{row['p90_ms']:>9.1f}"
            f"{row['sql_ms']:>8.1f}{selector:>12}{row['queries']:>9}"
        )
    last = rows[-1]["size"]
    print(f"\nPlans of each request's queries on reviews_submission at {last:,} rows (EXPLAIN ANALYZE):")
    for row in rows:
        if row["size"] == last:
            print(f"  {row['view']} {row['page']}:")
            for plan in row["plans"]:
                print(f"    {plan}")


def print_verdict(rows: list[dict]):
    print()
    for size in dict.fromkeys(row["size"] for row in rows):
        queue_first, queue_deep, *_others, admin_first, admin_deep = (row for row in rows if row["size"] == size)
        print(
            f"{size:>10,}: admin ÷ queue, first page {admin_first['median_ms'] / queue_first['median_ms']:.1f}×, "
            f"deep page {admin_deep['median_ms'] / queue_deep['median_ms']:.1f}×"
        )
    largest = max(row["size"] for row in rows)
    queue_rows = [row for row in rows if row["size"] == largest and row["view"] == "queue"]
    queue_first, queue_deep = queue_rows[:2]
    admin_first, admin_deep = (row for row in rows if row["size"] == largest and row["view"] == "admin")
    slowest = max(row["median_ms"] for row in queue_rows)
    speedups = [admin_first["median_ms"] / queue_first["median_ms"], admin_deep["median_ms"] / queue_deep["median_ms"]]
    print(f"\nTargets at {largest:,} rows:")
    checks = [
        (
            f"queue ≤ {TARGET_QUERIES} queries on every page",
            max(row["queries"] for row in queue_rows) <= TARGET_QUERIES,
        ),
        (f"queue < {TARGET_MS} ms server time on every page (slowest median {slowest:.1f})", slowest < TARGET_MS),
        (
            f"queue ≥ {TARGET_SPEEDUP}× faster than admin, first and deep page "
            f"({speedups[0]:.1f}×, {speedups[1]:.1f}×)",
            min(speedups) >= TARGET_SPEEDUP,
        ),
    ]
    for label, ok in checks:
        print(f"[{'met' if ok else 'MISSED'}] {label}")


def host_speed() -> float:
    """Seconds for a plain Python loop of 10 million additions: how fast this host is right now."""
    started = time.perf_counter()
    total = 0
    for number in range(10_000_000):
        total += number
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page (default 20)")
    args = parser.parse_args()
    setup_django()

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(
        f"PostgreSQL {version} at {settings.DATABASES['default']['HOST']}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} at start, host speed {host_speed():.2f} s "
        "(a plain Python loop of 10 million additions)"
    )
    rows = []
    with override_settings(ROOT_URLCONF=bench_urlconf()):
        for size in args.sizes:
            rows.extend(run_size(size, args.requests))
    print_table(rows)
    print_verdict(rows)
    print(f"\nTotal run time {time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
