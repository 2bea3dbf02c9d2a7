"""Benchmark the staff dashboard and the admin changelists of the large tables at 1M submissions.

    createdb -h 127.0.0.1 -U postgres heyon_bench6
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/heyon_bench6 \\
        .venv/bin/python bench/staff_admin.py --submissions 1000000

The script empties the bench database's users and everything that hangs off them
(TRUNCATE … CASCADE: use a database of its own) and bulk-loads, with INSERT … SELECT FROM
generate_series, a year of work:

- about 800,000 customers and ``--submissions`` verification submissions, ids in time
  order: every fourth customer was rejected once and submitted again; the last two days
  are the open queue; older ones were decided by ten reviewers (85 % approved), each
  rejection with one or two reason codes; a ``submitted`` and a decision SubmissionEvent
  per submission (about two million events);
- ``--others`` audit events (default 1,000,000) and ``--others``/3.3 lines, orders,
  payments, wallets with their top-up ledger entries, and outbound messages.

It VACUUM ANALYZEs, then requests through Django's test client, with the queries
captured:

- ``/staff/`` (the dashboard) as one of the reviewers;
- as a superuser, for each large model in ``/admin/``: the changelist's first page, one
  page per ``list_filter`` (a value of the filter) and a search;
- the baselines on an AdminSite of their own: a plain default ``admin.ModelAdmin`` for
  Submission (as bench/queue.py), and a default ModelAdmin with the same columns, filters
  and search as the real one (Django's paginator and full result count).

Time is the wall time of the whole request in-process (middleware, view, queries,
template), median and p90 of ``--requests`` requests after two warm-up requests. Each
query is checked for a COUNT over the whole table (a COUNT with neither WHERE nor LIMIT)
and for SELECT DISTINCT; offending SQL is printed.
"""

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# bench/queue.py would shadow the standard library's queue module: keep bench/ off the path.
sys.path[:] = [str(ROOT), *(entry for entry in sys.path if Path(entry or ".").resolve() != BENCH_DIR)]

import argparse  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402

TARGET_ADMIN_QUERIES = 6
TARGET_ADMIN_MS = 80
TARGET_DASHBOARD_MS = 100
REVIEWERS = 10
SECOND_ATTEMPT_EVERY = 4  # every fourth customer was rejected once and submitted again

LOAD_CUSTOMERS = """
INSERT INTO accounts_user (id, password, is_superuser, phone, display_name, is_staff, is_active,
                           date_joined, phone_verified_at, real_name_verified_at, language, identity_index)
SELECT g, '!', false, '+86139' || lpad(g::text, 8, '0'), '', false, true,
       now() - interval '366 days' + (g::float / %(customers)s) * interval '365 days',
       now() - interval '366 days' + (g::float / %(customers)s) * interval '365 days',
       CASE WHEN mod(g, 7) <> 0 THEN now() - interval '360 days' + (g::float / %(customers)s) * interval '359 days' END,
       '', ''
FROM generate_series(1, %(customers)s) AS g
"""

# Customer k submits at a time proportional to k over the year; customers 4, 8, 12 … (as many
# as needed to reach the total) were rejected within 20 hours and submitted again two days
# later. The last two days are open (2 % of them claimed); older ones are decided.
LOAD_SUBMISSIONS = """
WITH attempts AS (
    SELECT k AS customer, 1 AS attempt,
           now() - interval '365 days' + (k::float / %(customers)s) * interval '365 days'
               - random() * interval '2 hours' AS submitted_at,
           random() AS r1, random() AS r2
    FROM generate_series(1, %(customers)s) AS k
    UNION ALL
    SELECT %(every)s * j, 2,
           now() - interval '365 days' + ((%(every)s * j)::float / %(customers)s) * interval '365 days'
               + interval '2 days' + random() * interval '20 hours',
           random(), random()
    FROM generate_series(1, %(seconds)s) AS j
), decided AS (
    SELECT *,
           CASE WHEN attempt = 1 AND mod(customer, %(every)s) = 0 AND customer <= %(every)s * %(seconds)s
                    THEN 'rejected'
                WHEN submitted_at > now() - interval '2 days'
                    THEN CASE WHEN r1 < 0.02 THEN 'in_review' ELSE 'pending' END
                WHEN r1 < 0.85 THEN 'approved' ELSE 'rejected' END AS status
    FROM attempts
)
INSERT INTO reviews_submission (
    user_id, channel, status, attempt_number, full_name, id_number_encrypted, id_number_masked,
    id_number_index, contact_phone, submitted_at, due_at, claimed_by_id, claim_expires_at,
    decided_by_id, decided_at, customer_message, internal_note, flags, is_flagged, escalation_note,
    full_name_index, has_photo_hints, final_rejection_proposal)
SELECT customer,
       CASE WHEN r2 < 0.1 THEN 'offline' ELSE 'online' END,
       status, attempt, '测试用户' || customer, 'gAAAAABbenchdummyciphertext',
       '1101' || lpad(mod(customer, 100)::text, 2, '0') || '********' || lpad(mod(customer, 10000)::text, 4, '0'),
       md5(customer::text || '-' || attempt), '+86139' || lpad(customer::text, 8, '0'),
       submitted_at, submitted_at + interval '3 days' + r2 * interval '2 days',
       CASE WHEN status = 'in_review' THEN (%(reviewers)s::bigint[])[1] END,
       CASE WHEN status = 'in_review' THEN now() + interval '10 minutes' END,
       CASE WHEN status IN ('approved', 'rejected')
            THEN (%(reviewers)s::bigint[])[1 + floor(r2 * %(reviewer_count)s)::int] END,
       CASE WHEN status IN ('approved', 'rejected') THEN
            least(submitted_at + CASE WHEN attempt = 1 AND status = 'rejected' AND mod(customer, %(every)s) = 0
                                      THEN r1 * interval '20 hours' ELSE interval '2 hours' + r1 * interval '40 hours'
                                 END, now() - interval '1 minute') END,
       '', '',
       CASE WHEN r1 > 0.99 THEN '{"duplicate_id": {"accounts": [1]}}'::jsonb ELSE '{}'::jsonb END,
       r1 > 0.99, '', '', false, '{}'::jsonb
FROM decided
ORDER BY submitted_at
"""

# One reason for every rejection, a second one for three in ten.
LOAD_REASONS = """
INSERT INTO reviews_submission_reasons (submission_id, reasoncode_id)
SELECT id, (%(codes)s::bigint[])[1 + mod(id, %(code_count)s)] FROM reviews_submission WHERE status = 'rejected'
UNION ALL
SELECT id, (%(codes)s::bigint[])[1 + mod(id + 3, %(code_count)s)] FROM reviews_submission
WHERE status = 'rejected' AND mod(id, 10) < 3
"""

LOAD_EVENTS = """
INSERT INTO reviews_submissionevent (submission_id, actor_id, verb, from_status, to_status, reason_codes,
                                     customer_message, internal_note, created_at)
SELECT * FROM (
    SELECT id, user_id, 'submitted', '', 'pending', '[]'::jsonb, '', '', submitted_at FROM reviews_submission
    UNION ALL
    SELECT s.id, s.decided_by_id, s.status, 'in_review', s.status,
           coalesce((SELECT jsonb_agg(c.code) FROM reviews_submission_reasons r
                     JOIN reviews_reasoncode c ON c.id = r.reasoncode_id WHERE r.submission_id = s.id), '[]'::jsonb),
           '', '', s.decided_at
    FROM reviews_submission s WHERE s.decided_at IS NOT NULL
) AS events
ORDER BY 9
"""

LOAD_AUDIT = """
INSERT INTO accounts_auditevent (verb, target_type, target_id, data, created_at, actor_id, subject_user_id)
SELECT (ARRAY['user.login', 'line.renewed', 'order.paid', 'submission.approved', 'submission.rejected',
              'line.autorenew_on', 'user.real_name_verified', 'line.activated', 'order.created',
              'id_number.viewed'])[1 + mod(g, 10)],
       (ARRAY['accounts.user', 'accounts.line', 'billing.order', 'reviews.submission', 'reviews.submission',
              'accounts.line', 'accounts.user', 'accounts.line', 'billing.order',
              'reviews.submission'])[1 + mod(g, 10)],
       (1 + mod(g * 7, %(customers)s))::text, '{}'::jsonb,
       now() - interval '365 days' + (g::float / %(n)s) * interval '365 days',
       CASE WHEN mod(g, 10) IN (3, 4, 9) THEN (%(reviewers)s::bigint[])[1 + mod(g, %(reviewer_count)s)] END,
       1 + mod(g * 7, %(customers)s)
FROM generate_series(1, %(n)s) AS g
"""

LOAD_LINES = """
INSERT INTO accounts_line (id, msisdn, iccid, activation_code_hash, activation_code_hint, activation_code_used_at,
                           status, attached_at, activated_at, validity_end, created_at, owner_id, plan_code)
SELECT g, '+86170' || lpad(g::text, 8, '0'), '8986' || lpad(g::text, 16, '0'), md5('bench-code-' || g),
       right(md5('bench-code-' || g), 4), now() - interval '300 days',
       (ARRAY['active', 'active', 'active', 'active', 'active', 'active', 'active', 'expired', 'suspended',
              'active'])[1 + mod(g, 10)],
       now() - interval '300 days', now() - interval '300 days', now() + mod(g, 60) * interval '1 day',
       now() - interval '310 days', g, 'bench-basic'
FROM generate_series(1, %(n)s) AS g
"""

LOAD_ORDERS = """
INSERT INTO billing_order (number, user_id, kind, channel, status, line_id, plan_id, term_months, amount, currency,
                           idempotency_key, request_fingerprint, renews_from, created_at, expires_at, paid_at,
                           last_failure)
SELECT 'R' || to_char(o.created_at, 'YYYYMMDD') || lpad(o.g::text, 8, '0'), o.g,
       o.kind, o.channel, o.status, CASE WHEN o.kind = 'renewal' THEN o.g END,
       CASE WHEN o.kind = 'renewal' THEN %(plan)s END, CASE WHEN o.kind = 'renewal' THEN 1 END, 30.00, 'CNY',
       'bench-order-' || o.g, md5(o.g::text), CASE WHEN o.channel = 'auto' THEN o.created_at END,
       o.created_at, o.created_at + interval '30 minutes', CASE WHEN o.status = 'paid' THEN o.created_at END, ''
FROM (
    SELECT g, now() - interval '365 days' + (g::float / %(n)s) * interval '365 days' AS created_at,
           CASE WHEN mod(g, 5) = 0 THEN 'topup' ELSE 'renewal' END AS kind,
           CASE WHEN mod(g, 5) = 0 THEN 'online' ELSE (ARRAY['online', 'auto', 'auto', 'store'])[1 + mod(g, 4)]
           END AS channel,
           (ARRAY['paid', 'paid', 'paid', 'paid', 'paid', 'paid', 'paid', 'paid', 'expired',
                  'open'])[1 + mod(g * 3, 10)] AS status
    FROM generate_series(1, %(n)s) AS g
) AS o
ORDER BY o.g
"""

LOAD_PAYMENTS = """
INSERT INTO billing_payment (order_id, method, status, amount, out_trade_no, provider_transaction_id, failure_reason,
                             card_last4, created_at, updated_at)
SELECT id, (ARRAY['alipay', 'wechat', 'card', 'wallet'])[1 + mod(id, 4)],
       CASE WHEN status = 'paid' THEN 'succeeded' ELSE 'failed' END, amount,
       'P' || to_char(created_at, 'YYYYMMDDHH24MISS') || lpad(id::text, 12, '0'), md5(id::text), '', '',
       created_at, created_at
FROM billing_order ORDER BY id
"""

LOAD_WALLETS = """
INSERT INTO billing_wallet (id, user_id, balance, held, currency, updated_at)
SELECT g, g, 50.00, 0.00, 'CNY', now() - interval '40 days' FROM generate_series(1, %(n)s) AS g
"""

LOAD_LEDGER = """
INSERT INTO billing_ledgerentry (wallet_id, kind, amount, balance_after, reference, note, created_at)
SELECT g, 'topup', 50.00, 50.00, 'BENCHTOPUP' || g, '',
       now() - interval '365 days' + (g::float / %(n)s) * interval '365 days'
FROM generate_series(1, %(n)s) AS g
"""

# Renewal receipts (kind order.renewal_paid, its parameters as billing.services.orders stores them: the line's
# number in national format, the new validity end as a date parameter, the amount as a string).
LOAD_OUTBOX = """
INSERT INTO accounts_outboundmessage (channel, recipient, kind, params, language, subject, body, status, attempts,
                                      next_attempt_at, claimed_until, last_error, created_at, sent_at,
                                      redact_after_send, provider_message_id, delivery, delivery_error)
SELECT CASE WHEN mod(g, 10) < 7 THEN 'sms' ELSE 'email' END,
       CASE WHEN mod(g, 10) < 7 THEN '+86139' || s.customer ELSE 'customer' || g || '@example.com' END,
       'order.renewal_paid',
       jsonb_build_object('number', '139 ' || left(s.customer, 4) || ' ' || right(s.customer, 4),
                          'end', jsonb_build_object('$date', to_char((s.created_at + interval '30 days')
                                                                     AT TIME ZONE 'UTC',
                                                                     'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')),
                          'amount', '30.00'),
       '', 'Renewal paid', 'Line renewed. ¥30.00 paid.', s.status, 1, s.created_at, NULL, '', s.created_at,
       CASE WHEN s.status = 'sent' THEN s.created_at + interval '2 seconds' END, false, '', '', ''
FROM (SELECT g, now() - interval '365 days' + (g::float / %(n)s) * interval '365 days' AS created_at,
             lpad((1 + mod(g, %(customers)s))::text, 8, '0') AS customer,
             CASE WHEN mod(g, 100) = 0 THEN 'failed' WHEN g > %(n)s - 50 THEN 'pending' ELSE 'sent' END AS status
      FROM generate_series(1, %(n)s) AS g) AS s
ORDER BY g
"""

TABLES = [
    "accounts_user",
    "reviews_submission",
    "reviews_submission_reasons",
    "reviews_submissionevent",
    "accounts_auditevent",
    "accounts_line",
    "billing_order",
    "billing_payment",
    "billing_wallet",
    "billing_ledgerentry",
    "accounts_outboundmessage",
]

FULL_COUNT = re.compile(r"\bCOUNT\(", re.IGNORECASE)


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heyon_site.settings.test")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database of its own, e.g. postgres://postgres@127.0.0.1/heyon_bench")
    import django

    django.setup()


def bench_urlconf():
    """The site's URLs plus the two baseline admins for Submission under /bench-admin/ and /bench-admin-same/."""
    from django.contrib import admin
    from django.urls import path

    from heyon_site import urls
    from reviews.admin import SubmissionAdmin
    from reviews.models import Submission

    plain = admin.AdminSite(name="bench_admin")
    plain.register(Submission, admin.ModelAdmin)

    class SameColumnsDefaultAdmin(admin.ModelAdmin):
        list_display = SubmissionAdmin.list_display
        list_filter = SubmissionAdmin.list_filter
        search_fields = SubmissionAdmin.search_fields

    same = admin.AdminSite(name="bench_admin_same")
    same.register(Submission, SameColumnsDefaultAdmin)
    module = types.ModuleType("bench_staff_admin_urls")
    module.urlpatterns = [path("bench-admin/", plain.urls), path("bench-admin-same/", same.urls), *urls.urlpatterns]
    sys.modules[module.__name__] = module
    return module.__name__


def second_attempts_for(total: int) -> tuple[int, int]:
    """Customers and second attempts that add up to ``total`` submissions (a second attempt for every fourth
    customer whose first attempt is at least three days old)."""
    customers = total
    while customers + (customers * 362 // 365) // SECOND_ATTEMPT_EVERY > total:
        customers -= max(1, (customers + (customers * 362 // 365) // SECOND_ATTEMPT_EVERY - total) // 2)
    return customers, total - customers


def load(submissions: int, others: int) -> dict:
    """Replace every user and what hangs off them with a year of generated work; return the staff and timings."""
    from django.db import connection

    from accounts.services import staff_user_create
    from billing.models import Plan
    from reviews.models import ReasonCode

    customers, seconds = second_attempts_for(submissions)
    small = round(others / 3.3)
    timings = {}
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE accounts_user, accounts_line RESTART IDENTITY CASCADE")
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(LOAD_CUSTOMERS, {"customers": customers})
        cursor.execute("SELECT setval(pg_get_serial_sequence('accounts_user', 'id'), %s)", [customers])
    # The clients sign in with force_login; nobody needs to know these passwords.
    reviewers = [
        staff_user_create(login=f"bench-reviewer-{n}", role="reviewer", password=secrets.token_urlsafe())
        for n in range(1, REVIEWERS + 1)
    ]
    superuser = staff_user_create(login="bench-admin", role="admin", password=secrets.token_urlsafe())
    plan, _created = Plan.objects.get_or_create(
        code="bench-basic",
        is_current=True,
        defaults={
            "name_zh": "基础套餐",
            "name_en": "Basic",
            "monthly_price": 30,
            "data_mb": 10240,
            "voice_minutes": 300,
        },
    )
    codes = list(ReasonCode.objects.order_by("sort_order", "pk").values_list("pk", flat=True))
    params = {
        "customers": customers,
        "seconds": seconds,
        "every": SECOND_ATTEMPT_EVERY,
        "reviewers": [reviewer.pk for reviewer in reviewers],
        "reviewer_count": REVIEWERS,
        "codes": codes,
        "code_count": len(codes),
        "plan": plan.pk,
    }
    steps = [
        ("submissions", LOAD_SUBMISSIONS, {}),
        ("reasons", LOAD_REASONS, {}),
        ("submission events", LOAD_EVENTS, {}),
        ("audit events", LOAD_AUDIT, {"n": others}),
        ("lines", LOAD_LINES, {"n": small}),
        ("orders", LOAD_ORDERS, {"n": small}),
        ("payments", LOAD_PAYMENTS, {}),
        ("wallets", LOAD_WALLETS, {"n": small}),
        ("ledger entries", LOAD_LEDGER, {"n": small}),
        ("outbound messages", LOAD_OUTBOX, {"n": small}),
    ]
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        for label, sql, extra in steps:
            step = time.perf_counter()
            cursor.execute(sql, {**params, **extra})
            timings[label] = (cursor.rowcount, time.perf_counter() - step)
        cursor.execute("SELECT setval(pg_get_serial_sequence('accounts_line', 'id'), %s)", [small])
        cursor.execute("SELECT setval(pg_get_serial_sequence('billing_wallet', 'id'), %s)", [small])
        loaded = time.perf_counter() - started
        for table in TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
    return {
        "reviewer": reviewers[0],
        "superuser": superuser,
        "customers": customers,
        "timings": timings,
        "load_s": loaded,
        "vacuum_s": time.perf_counter() - started - loaded,
        "size": size,
    }


def reuse() -> dict:
    """The data a previous run loaded (``--keep-data``), after migrating and analysing again."""
    from django.db import connection

    from accounts.models import User

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
    return {
        "reviewer": User.objects.get(username="bench-reviewer-1"),
        "superuser": User.objects.get(username="bench-admin"),
        "customers": User.objects.filter(is_staff=False).count(),
        "timings": {},
        "load_s": 0.0,
        "vacuum_s": time.perf_counter() - started,
        "size": size,
    }


def offending(sql: str) -> str | None:
    """Why a query is not allowed on a changelist of a large table, or None."""
    if "SELECT DISTINCT" in sql.upper():
        return "SELECT DISTINCT"
    if FULL_COUNT.search(sql) and " WHERE " not in sql.upper() and " LIMIT " not in sql.upper():
        return "COUNT over the whole table"
    return None


def measure(client, url: str, params: dict, requests: int, prepare=None) -> dict:
    """Time ``requests`` GETs after two warm-ups; ``prepare`` runs before each one, outside the clock."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        response = client.get(url, params)
        assert response.status_code == 200, (url, params, response.status_code)
    times, sql_ms, counts, bad = [], [], [], {}
    for _ in range(requests):
        if prepare:
            prepare()
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(url, params)
            times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, params, response.status_code)
        sql_ms.append(sum(float(query["time"]) for query in captured.captured_queries) * 1000)
        counts.append(len(captured.captured_queries))
        for query in captured.captured_queries:
            why = offending(query["sql"])
            if why:
                bad[query["sql"]] = why
    slowest = max(captured.captured_queries, key=lambda query: float(query["time"]), default=None)
    return {
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "p90_ms": sorted(times)[round(0.9 * (len(times) - 1))],
        "queries": max(counts),
        "sql_ms": statistics.median(sql_ms),
        "bad": bad,
        "slowest_sql": slowest and (float(slowest["time"]) * 1000, slowest["sql"]),
        "html": response.content,
    }


def filter_params(model_admin, request) -> list[tuple[str, dict]]:
    """One query string per list_filter, choosing a value that exists (the filter's own choices)."""
    from django.contrib.admin.views.main import ChangeList  # noqa: F401 - the filters' context

    changelist = model_admin.get_changelist_instance(request)
    cases = []
    for spec in changelist.filter_specs:
        choices = [choice for choice in spec.choices(changelist) if not choice.get("selected")]
        for choice in choices:
            query = choice["query_string"].lstrip("?")
            if not query:
                continue
            params = dict(pair.split("=", 1) for pair in query.split("&"))
            if any(value for value in params.values()):
                cases.append((f"filter {spec.title}: {choice['display']}", params))
                break
    return cases


SEARCHES = {
    "reviews.submission": lambda: {"q": "+8613900012345"},
    "reviews.submissionevent": lambda: {"q": "approved"},
    "accounts.auditevent": lambda: {"q": "order.paid"},
    "accounts.user": lambda: {"q": "+8613900012345"},
    "accounts.line": lambda: {"q": "+8617000012345"},
    "billing.order": lambda: {"q": _first("billing", "order", "number")},
    "billing.payment": lambda: {"q": _first("billing", "payment", "out_trade_no")},
    "billing.ledgerentry": lambda: {"q": "BENCHTOPUP12345"},
    "accounts.outboundmessage": lambda: {"q": "+8613900012345"},
}


def _first(app: str, model: str, field: str) -> str:
    from django.apps import apps

    return apps.get_model(app, model).objects.order_by("-pk").values_list(field, flat=True)[100]


def admin_cases(superuser) -> list[tuple[str, str, str, dict]]:
    from django.contrib import admin
    from django.test import RequestFactory
    from django.utils import translation

    request = RequestFactory().get("/")
    request.user = superuser
    cases = []
    for label in SEARCHES:
        model = next(model for model in admin.site._registry if model._meta.label_lower == label)
        model_admin = admin.site._registry[model]
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        with translation.override("en"):
            name = str(model._meta.verbose_name_plural)
        cases.append((name, "first page", url, {}))
        with translation.override("en"):
            filters = filter_params(model_admin, request)
        for page, params in filters:
            cases.append((name, page, url, params))
        cases.append((name, f"search {SEARCHES[label]()['q']}", url, SEARCHES[label]()))
    return cases


def run(args) -> tuple[list[dict], dict]:
    from django.test import Client

    print(f"\n== {args.submissions:,} submissions ==", flush=True)
    loaded = reuse() if args.keep_data else load(args.submissions, args.others)
    for label, (rows, seconds) in loaded["timings"].items():
        print(f"  {label:<20}{rows:>12,} rows in {seconds:6.1f} s", flush=True)
    print(
        f"{loaded['customers']:,} customers; loaded in {loaded['load_s']:.0f} s, VACUUM ANALYZE "
        f"{loaded['vacuum_s']:.0f} s; database {loaded['size']}",
        flush=True,
    )
    reviewer, superuser = Client(), Client()
    reviewer.force_login(loaded["reviewer"])
    superuser.force_login(loaded["superuser"])

    from django.core.cache import cache

    # The dashboard caches the days before today for ten minutes: time it warm and with the cache emptied.
    cases = [
        ("dashboard", "/staff/ as a reviewer", reviewer, "/staff/", {}),
        ("dashboard", "/staff/, cache emptied before each", reviewer, "/staff/", {}, cache.clear),
    ]
    cases += [(name, page, superuser, url, params) for name, page, url, params in admin_cases(loaded["superuser"])]
    deep_page = min(4000, -(-args.submissions // 100))
    base = "/bench-admin/reviews/submission/"
    same = "/bench-admin-same/reviews/submission/"
    cases += [
        ("baseline: default ModelAdmin", "first page", superuser, base, {}),
        ("baseline: default ModelAdmin", f"?p={deep_page}", superuser, base, {"p": deep_page}),
        ("baseline: same columns, Django defaults", "first page", superuser, same, {}),
        ("baseline: same columns, Django defaults", "filter status: approved", superuser, same,
         {"status__exact": "approved"}),
        ("baseline: same columns, Django defaults", "search +8613900012345", superuser, same,
         {"q": "+8613900012345"}),
    ]  # fmt: skip
    rows = []
    for view, page, client, url, params, *prepare in cases:
        result = measure(client, url, params, args.requests, *prepare)
        result.update(view=view, page=page, url=url, params=params)
        rows.append(result)
        print(f"  {view:<42}{page:<40}{result['median_ms']:>8.1f} ms{result['queries']:>4} queries", flush=True)
    return rows, loaded


def print_table(rows: list[dict]):
    header = f"{'view':<40}{'page':<38}{'min ms':>8}{'median ms':>10}{'p90 ms':>9}{'SQL ms':>8}{'queries':>9}  flags"
    print("\n" + header)
    print("-" * len(header))
    for row in rows:
        flags = ", ".join(sorted(set(row["bad"].values()))) or "—"
        print(
            f"{row['view'][:39]:<40}{row['page'][:37]:<38}{row['min_ms']:>8.1f}{row['median_ms']:>10.1f}{row['p90_ms']:>9.1f}"
            f"{row['sql_ms']:>8.1f}{row['queries']:>9}  {flags}"
        )
    offenders = [(row, sql, why) for row in rows for sql, why in row["bad"].items()]
    if offenders:
        print("\nOffending queries:")
        for row, sql, why in offenders:
            print(f"  {row['view']} {row['page']}: {why}\n    {sql[:400]}")
    print("\nSlowest query of each page over 20 ms:")
    for row in rows:
        if row["slowest_sql"] and row["slowest_sql"][0] > 20:
            ms, sql = row["slowest_sql"]
            print(f"  {row['view']} {row['page']}: {ms:.1f} ms\n    {sql[:300]}")


def print_verdict(rows: list[dict]):
    dashboard, cold = rows[0], rows[1]
    ours = [row for row in rows[2:] if not row["view"].startswith("baseline")]
    baseline = [row for row in rows if row["view"].startswith("baseline")]
    full_counts = [row for row in ours if "COUNT over the whole table" in row["bad"].values()]
    distinct = [row for row in ours if "SELECT DISTINCT" in row["bad"].values()]
    too_many = [row for row in ours if row["queries"] > TARGET_ADMIN_QUERIES]
    too_slow = [row for row in ours if row["median_ms"] >= TARGET_ADMIN_MS]
    slowest = max(ours, key=lambda row: row["median_ms"])
    by_name = {(row["view"], row["page"]): row for row in rows}
    base_first = by_name[("baseline: default ModelAdmin", "first page")]
    ours_first = by_name[(rows[2]["view"], "first page")]

    def names(found):
        return "; ".join(f"{row['view']} {row['page']}" for row in found)

    print(
        f"\nSubmission changelist, first page: ours {ours_first['median_ms']:.1f} ms, default ModelAdmin "
        f"{base_first['median_ms']:.1f} ms ({base_first['median_ms'] / ours_first['median_ms']:.1f}×); "
        f"slowest baseline page {max(row['median_ms'] for row in baseline):.1f} ms"
    )
    print(f"\nTargets ({len(ours)} admin pages over {len({row['view'] for row in ours})} changelists):")
    checks = [
        ("no COUNT over a whole table on any changelist" + (f" (found: {names(full_counts)})" if full_counts else ""),
         not full_counts),
        ("no SELECT DISTINCT on any changelist" + (f" (found: {names(distinct)})" if distinct else ""), not distinct),
        (f"≤ {TARGET_ADMIN_QUERIES} queries on every changelist page (most {max(row['queries'] for row in ours)})"
         + (f" (over: {names(too_many)})" if too_many else ""), not too_many),
        (f"every changelist page < {TARGET_ADMIN_MS} ms (slowest median {slowest['median_ms']:.1f}: "
         f"{slowest['view']} {slowest['page']})" + (f" (over: {names(too_slow)})" if too_slow else ""), not too_slow),
        (f"dashboard < {TARGET_DASHBOARD_MS} ms (median {dashboard['median_ms']:.1f}, {dashboard['queries']} queries)",
         dashboard["median_ms"] < TARGET_DASHBOARD_MS),
        (f"dashboard < {TARGET_DASHBOARD_MS} ms with its cache emptied (median {cold['median_ms']:.1f}, "
         f"{cold['queries']} queries; once per ten minutes)", cold["median_ms"] < TARGET_DASHBOARD_MS),
    ]  # fmt: skip
    for label, ok in checks:
        print(f"[{'met' if ok else 'MISSED'}] {label}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=1_000_000)
    parser.add_argument("--others", type=int, default=1_000_000, help="audit events (other tables get a 3.3th)")
    parser.add_argument("--requests", type=int, default=15, help="timed requests per page (default 15)")
    parser.add_argument("--keep-data", action="store_true", help="reuse the rows a previous run loaded")
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
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    with override_settings(ROOT_URLCONF=bench_urlconf()):
        rows, _loaded = run(args)
    print_table(rows)
    print_verdict(rows)
    print(f"\nTotal run time {time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
