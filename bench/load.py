"""Loopback load test of gunicorn + PostgreSQL: account centre and review queue beside a baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/heyon_load .venv/bin/python bench/load.py

    # two commits in one run: a worktree of REF against this working tree
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/heyon_load .venv/bin/python bench/load.py --before REF

The database in ``DATABASE_URL`` must be named ``heyon_load…`` and be on a loopback
address: the script drops and recreates it (with ``--before``, it uses two of its own,
that name with ``_before`` and ``_after``, and drops them at the end).

With ``--before REF`` (and optionally ``--after REF``; by default the tree under test is
this working tree, uncommitted changes included) the script makes a ``git worktree`` of
each commit asked for, and each tree is prepared by its own code: its own
``bench/load.py``'s ``seed``, ``queries_per_request`` and ``check_review``, run in a
subprocess whose working directory and import path are that tree, its own ``manage.py
compilemessages``, and its own gunicorn, on its own database, port and Redis database.
The same wrk scenarios then take turns between the two servers, slice by slice (the side
that goes first alternates from round to round), and one table prints both side by side
with the ratio. Both runs are printed with the host's speed: the seconds a plain Python
loop of 10 million additions takes, at the start and at the end.

For each tree, the script:

1. empties the bench database (drops and recreates it), migrates it with the production
   settings, and seeds it through the project's services and models: ``--customers``
   verified customers (two lines with plans, wallet, paid renewals with receipts, six
   months of usage, messages), ``--reviewers`` reviewers, and ``--submissions`` open
   online submissions from as many customers, each with a line waiting for verification;
2. runs ``collectstatic`` and starts gunicorn with ``heyon_site/gunicorn.conf.py`` and
   ``heyon_site.settings.production`` on ``127.0.0.1:--port`` (with ``--before``, the
   tree under test on the next port and the next Redis database; 2FA off, no TLS redirect,
   the sandbox payment provider allowed (HEYON_ALLOW_SANDBOX_IN_PRODUCTION, its own secret),
   Redis for the cache and the message queue; no Celery worker runs, so queued messages
   wait in the bench's own Redis database, which is emptied at the start and the end);
3. signs every client in over HTTP (the real login form and password hasher), then
   drives the server with wrk (Debian's ``wrk``; ``bench/wrk/heyon.lua`` holds the
   clients' logic): closed-loop clients with no think time, one connection each,
   ``--duration`` seconds per scenario cut into ``--rounds`` slices that take turns, so
   that background load on the machine weighs on every scenario alike. wrk is written in
   C: the load costs the two cores a small fraction of what the server does (its CPU per
   request is printed), where a Python client would take a share of them for itself.
   Before its first slice each scenario runs one unmeasured second (warm-up):

   - ``baseline``: anonymous ``GET /service-points/`` (two small queries: the points and
     the cities of the filter; no session) at ``--clients`` clients, and again at
     ``--reviewers`` clients;
   - ``account``: signed-in customers, ``GET /account/`` at ``--clients`` clients, one
     customer per client (the page is cached per customer until what it shows changes,
     so after each customer's first view this is the cached page; the in-process figures
     below also give the cost of rendering it afresh, as right after a change);
   - ``review``: ``--reviewers`` reviewers working the queue as the review screen does by
     default: ``POST /staff/reviews/<id>/decide/`` with ``take_next`` decides the submission
     the reviewer holds (approve 4 in 5, else reject with one or two retryable reason codes)
     and claims the next one in the same request (``POST /staff/reviews/next/`` only for the
     first claim); one request per decision;
   - ``review2``: the same reviewers claiming with ``POST /staff/reviews/next/`` and then
     deciding without ``take_next``: two requests per decision;

   redirects are not followed, and the flash-message cookie is not sent back (a browser's
   next page shows and drops it); a reviewer whose slice ended holding a claim gets it
   back with the first ``POST /staff/reviews/next/`` of the next slice;
4. checks in the database that no submission has two decisions, no submission was claimed
   by two reviewers, and every decision was made by the reviewer who claimed it;
5. prints requests/s, p50/p99 latency (over every request of every slice) and errors of
   each scenario beside the baseline, the queries and CPU time per request (in-process
   with Django's test client, from /proc for the gunicorn workers and PostgreSQL backends
   during the run, and wrk's own), and the targets; with ``--before``, both trees' figures
   side by side, the ratio, and the comparison's targets (issue 13: decisions/s within
   30 % of before, account centre p99 under 50 ms at 32 clients).

Only loopback addresses are used; every scenario stops by itself; gunicorn is stopped at
the end, also on error or Ctrl-C.
"""

import argparse
import http.client
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import urlencode, urlparse

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# bench/queue.py would shadow the standard library's queue module: keep bench/ off the path.
sys.path[:] = [str(ROOT), *(entry for entry in sys.path if Path(entry or ".").resolve() != BENCH_DIR)]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PASSWORD = "load-bench-" + secrets.token_urlsafe(8)
TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
WRK = shutil.which("wrk")
WRK_SCRIPT = BENCH_DIR / "wrk" / "heyon.lua"
TARGET_ACCOUNT_SHARE = 0.40
TARGET_ACCOUNT_P99_MS = 100
TARGET_DECISIONS_PER_S = 200
# Comparing two trees (--before), issue 13's "done when": the tree under test's decisions/s at
# least this share of the other's, and its account centre p99 at --clients clients under this.
TARGET_COMPARED_DECISIONS_SHARE = 0.70
TARGET_COMPARED_ACCOUNT_P99_MS = 50
TOTAL_BUDGET_S = 900  # a single run, seeding included, is killed after this; a comparison after twice it


# --- environment --------------------------------------------------------------------------


def side_environment(args, side: "Side") -> dict:
    """The environment of a tree's seeding process and gunicorn: production settings, loopback only."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # each tree imports its own code, from its own directory
    env.update(
        DATABASE_URL=side.database_url,
        DJANGO_SETTINGS_MODULE="heyon_site.settings.production",
        SECRET_KEY=args.secret_key,
        BLIND_INDEX_KEY=args.blind_index_key,
        FIELD_ENCRYPTION_KEYS=args.field_encryption_keys,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        HEYON_REQUIRE_STAFF_2FA="false",
        REDIS_URL=f"redis://127.0.0.1:6379/{side.redis_db}",
        STATIC_ROOT=str(side.work / "static"),
        MEDIA_ROOT=str(side.work / "media"),
        # The bench pays with the sandbox provider, which production refuses without this opt-in.
        HEYON_ALLOW_SANDBOX_IN_PRODUCTION="true",
        PAYMENT_SANDBOX_SECRET=args.sandbox_secret,
        SMS_BACKEND="locmem",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOG_LEVEL="WARNING",
        # Lockouts are per IP: every bench client comes from 127.0.0.1.
        AXES_FAILURE_LIMIT="1000",
        SIGN_IN_ADDRESS_FAILURE_LIMIT="1000",
        GUNICORN_BIND=f"127.0.0.1:{side.port}",
        GUNICORN_ACCESS_LOG=str(side.work / "access.log"),
        # No worker recycling during the run: a recycled worker's CPU time could not be counted.
        GUNICORN_MAX_REQUESTS="0",
    )
    if args.workers:
        env["GUNICORN_WORKERS"] = str(args.workers)
    return env


def bench_database_url() -> str:
    url = urlparse(os.environ.get("DATABASE_URL", ""))
    if url.scheme not in ("postgres", "postgresql", "psql") or url.hostname not in LOOPBACK:
        sys.exit(
            "Set DATABASE_URL to a loopback PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/heyon_load"
        )
    if not database_name(url.geturl()).startswith("heyon_load"):
        sys.exit("The bench drops and recreates its database: name it heyon_load… (a database of its own)")
    return url.geturl()


def database_name(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    return urlparse(url)._replace(path=f"/{name}").geturl()


def admin_connection(url: str):
    import psycopg

    admin = with_database(url, "postgres").replace("postgres://", "postgresql://", 1)
    return psycopg.connect(admin.replace("psql://", "postgresql://", 1), autocommit=True)


def recreate_database(url: str):
    with admin_connection(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database_name(url)}"')


def drop_database(url: str):
    with admin_connection(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')


def flush_redis(db: int):
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()


def host_speed() -> float:
    """Seconds a plain Python loop of 10 million additions takes: how fast the host is right now."""
    total = 0
    began = time.perf_counter()
    for number in range(10_000_000):
        total += number
    return time.perf_counter() - began


# --- seeding ------------------------------------------------------------------------------


def seed(args) -> dict:
    """Customers for the account centre, reviewers, and a queue of open submissions."""
    from django.contrib.auth.hashers import make_password
    from django.test.utils import override_settings

    from accounts import services
    from accounts.models import User

    started = time.perf_counter()
    password_hash = make_password(PASSWORD)  # hashed once; every bench user shares it
    with override_settings(OUTBOX_SEND_ON_COMMIT=False):
        customers = [seed_customer(n, password_hash) for n in range(args.customers)]
        reviewers = []
        for n in range(args.reviewers):
            reviewer = services.staff_user_create(login=f"load-reviewer-{n}", role="reviewer", password=PASSWORD)
            reviewers.append(reviewer.username)
        seed_queue(args.submissions)
    return {
        "customers": customers,
        "reviewers": reviewers,
        "seconds": time.perf_counter() - started,
        "users": User.objects.count(),
    }


def seed_customer(n: int, password_hash: str) -> str:
    """A verified customer with two lines, plans, a wallet, paid renewals, usage and messages."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts import services
    from accounts.models import User
    from billing import services as billing
    from billing.models import LineService, Plan

    phone = f"+8613{n:09d}"
    user = User.objects.create_user(phone=phone, email=f"load{n}@example.com", password=None)
    user.password = password_hash
    user.phone_verified_at = timezone.now()
    user.save(update_fields=["password", "phone_verified_at"])
    lines = []
    for k in range(2):
        serial = n * 2 + k
        line, code = services.line_create(msisdn=f"+86171{serial:08d}", iccid=f"89861{serial:014d}0")
        lines.append(services.line_attach(actor=user, activation_code=code))
    services.user_mark_real_name_verified(user=user, actor=None, channel="bench")
    plan = Plan.objects.filter(is_current=True, is_active=True).order_by("monthly_price").first()
    for line in lines:
        LineService.objects.get_or_create(
            line=line,
            defaults={"plan": plan, "data_left_mb": plan.data_mb, "voice_left_minutes": plan.voice_minutes,
                      "sms_left": plan.sms_count},
        )  # fmt: skip
    billing.ledger_append(user=user, kind="adjustment", amount=1000, reference=f"load-credit:{user.pk}", note="Bench")
    for k in range(3):
        line = lines[k % 2]
        order = billing.renewal_order_create(
            user=user, line_id=line.pk, plan_id=plan.pk, term_months=1, idempotency_key=f"load-{user.pk}-{k}"
        )
        billing.order_pay(order_id=order.pk, method="wallet", actor=user)
    now = timezone.now()
    rows = ["msisdn,time,type,quantity,record_id"]
    for line in lines:
        for day in range(0, 180, 3):
            moment = (now - timedelta(days=day, hours=2)).isoformat()
            number = line.msisdn.as_e164
            rows.append(f"{number},{moment},data,{random.randint(10, 900)},{line.pk}-d{day}")
            rows.append(f"{number},{moment},voice,{random.randint(1, 30)},{line.pk}-v{day}")
            rows.append(f"{number},{moment},sms,1,{line.pk}-s{day}")
    billing.usage_import(file_name=f"load-usage-{user.pk}.csv", content="\n".join(rows).encode())
    for k in range(4):
        services.notify(user=user, kind="support.answered", params={"text": f"Bench message {k}"}, sms_too=False)
    return phone


def seed_queue(count: int):
    """``count`` customers, each with a line waiting for verification and an open online submission."""
    from datetime import timedelta

    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from accounts.models import Line, User
    from accounts.services.lines import activation_code_hash
    from reviews import pii
    from reviews.demo import resident_id
    from reviews.models import Submission

    now = timezone.now()
    unusable = make_password(None)  # these customers never sign in
    verified_at = now - timedelta(days=3)
    users = User.objects.bulk_create(
        [User(phone=f"+8615{n:09d}", password=unusable, phone_verified_at=verified_at) for n in range(count)],
        batch_size=2000,
    )
    Line.objects.bulk_create(
        [
            Line(
                msisdn=f"+86172{n:08d}",
                iccid=f"89862{n:014d}0",
                activation_code_hash=activation_code_hash(f"LOADQUEUE{n:08d}"),
                activation_code_hint=f"{n % 10000:04d}",
                activation_code_used_at=now - timedelta(days=3),
                owner=user,
                attached_at=now - timedelta(days=3),
            )
            for n, user in enumerate(users)
        ],
        batch_size=2000,
    )
    submissions = []
    for n, user in enumerate(users):
        id_number = resident_id(birth=f"19{70 + n % 30:02d}0{1 + n % 9}1{n % 10}", sequence=f"{n % 1000:03d}")
        submitted = now - timedelta(days=3) + timedelta(seconds=n * 259_200 / max(count, 1))
        submissions.append(
            Submission(
                user=user,
                full_name=f"测试{n}",
                id_number_encrypted=pii.encrypt(id_number),
                id_number_masked=pii.mask_id_number(id_number),
                id_number_index=pii.id_number_blind_index(id_number),
                contact_phone=str(user.phone),
                submitted_at=submitted,
                due_at=submitted + timedelta(days=3 + (n % 3)),
            )
        )
    Submission.objects.bulk_create(submissions, batch_size=2000)


def queries_per_request(customer_phone: str, repeat: int = 20) -> dict:
    """Queries and CPU time of one request to each scenario's pages, in-process with the test client.

    Single-threaded and without gunicorn, so the CPU time (process_time, median of
    ``repeat``) is the application's own cost, less disturbed by concurrency.
    """
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    counting = True  # queries are counted on the first calls, not while the CPU time is measured

    def count(client, method, path, data=None):
        if not counting:
            return None, getattr(client, method)(path, data or {}, HTTP_HOST="127.0.0.1")
        with CaptureQueriesContext(connection) as captured:
            response = getattr(client, method)(path, data or {}, HTTP_HOST="127.0.0.1")
        return len(captured.captured_queries), response

    def claim_and_decide(client):
        claimed, response = count(client, "post", "/staff/reviews/next/")
        submission_id = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
        decided, response = count(client, "post", f"/staff/reviews/{submission_id}/decide/", {"decision": "approve"})
        assert response.status_code == 302, response.status_code
        client.cookies.pop("messages", None)  # as the bench's clients do (see Session.request)
        return claimed, decided

    def decide_and_take_next(client):
        # The client holds a claim (the previous call's next one): decide it, take the next.
        submission_id = int(client.held.rstrip("/").rsplit("/", 1)[1])
        form = {"decision": "approve", "take_next": "on"}
        queries, response = count(client, "post", f"/staff/reviews/{submission_id}/decide/", form)
        assert response.status_code == 302 and response["Location"] != "/staff/reviews/", response
        client.held = response["Location"]
        client.cookies.pop("messages", None)
        return queries

    def cpu_ms(action, before=None):
        for _ in range(10):  # warm: PostgreSQL prepares a statement on its 5th run on a connection
            if before is not None:
                before()
            action()
        times = []
        for _ in range(repeat):
            if before is not None:
                before()
            began = time.process_time()
            action()
            times.append((time.process_time() - began) * 1000)
        return statistics.median(times)

    anonymous, customer, reviewer = Client(), Client(), Client()
    count(anonymous, "get", "/service-points/")  # warm caches (content types, reason codes)
    customer.force_login(User.objects.get(phone=customer_phone))
    count(customer, "get", "/account/")
    reviewer.force_login(User.objects.get(username="load-reviewer-0"))

    def account_rendered():
        # The account centre is cached per customer until what it shows changes: this is
        # the view right after a change (the cache emptied first, outside the clock).
        cache.clear()
        return count(customer, "get", "/account/")[0]

    result = {
        "baseline": count(anonymous, "get", "/service-points/")[0],
        "account": count(customer, "get", "/account/")[0],
        "account_rendered": account_rendered(),
    }
    result["claim"], result["decide"] = claim_and_decide(reviewer)
    reviewer.held = reviewer.post("/staff/reviews/next/", HTTP_HOST="127.0.0.1")["Location"]
    result["decide_next"] = decide_and_take_next(reviewer)
    # Counting queries logs them, which costs time of its own: not while timing.
    counting = False
    result["cpu_ms"] = {
        "baseline": cpu_ms(lambda: anonymous.get("/service-points/", HTTP_HOST="127.0.0.1")),
        "account": cpu_ms(lambda: customer.get("/account/", HTTP_HOST="127.0.0.1")),
        "account rendered afresh": cpu_ms(lambda: customer.get("/account/", HTTP_HOST="127.0.0.1"), before=cache.clear),
        "decide and take next": cpu_ms(lambda: decide_and_take_next(reviewer)),
        "claim, then decide": cpu_ms(lambda: claim_and_decide(reviewer)),
    }
    return result


# --- HTTP clients -------------------------------------------------------------------------


class Session:
    """One browser: a connection to the server and its cookies (set by hand: they are Secure)."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | list | None = None):
        headers = {"Host": "127.0.0.1", "User-Agent": "heyon-load-bench"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            raise
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        if response.headers.get("Connection", "").lower() == "close":
            self.conn.close()
        return response.status, response.headers, content

    def cookie_header(self) -> str:
        # The session and CSRF cookies wrk sends. Not a flash message's: a browser's next
        # page shows and drops it, and the bench opens none (sent back, hundreds would pile up).
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items() if k != "messages")

    def token(self, path: str) -> str:
        status, _headers, content = self.request("GET", path)
        match = TOKEN.search(content)
        if status != 200 or match is None:
            raise RuntimeError(f"no CSRF token on {path} ({status})")
        return match.group(1).decode()

    def login(self, username: str, expect: str):
        token = self.token("/accounts/login/")
        form = {"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD}
        status, headers, _ = self.request("POST", "/accounts/login/", form)
        if status != 302 or not headers.get("Location", "").endswith(expect):
            raise RuntimeError(f"login of {username} failed: {status} {headers.get('Location')}")


@dataclass
class Result:
    name: str
    clients: int
    latencies: Counter = field(default_factory=Counter)  # microseconds: requests that took them
    errors: int = 0  # bad answers, socket errors and HTTP errors
    error_kinds: list = field(default_factory=list)  # the first few, named
    requests: int = 0
    window: float = 0.0
    decisions: int = 0
    claims: list = field(default_factory=list)  # (reviewer, submission id)
    app_cpu: float = 0.0  # CPU seconds of the gunicorn workers during the measured slices
    db_cpu: float = 0.0  # CPU seconds of this database's PostgreSQL backends
    client_cpu: float = 0.0  # CPU seconds of wrk

    def merge(self, other: "Result", *, app_cpu: float, db_cpu: float):
        self.latencies += other.latencies
        self.errors += other.errors
        self.error_kinds += other.error_kinds[: max(0, 5 - len(self.error_kinds))]
        self.claims += other.claims
        self.requests += other.requests
        self.window += other.window
        self.decisions += other.decisions
        self.client_cpu += other.client_cpu
        self.app_cpu += app_cpu
        self.db_cpu += db_cpu

    def cpu_ms_per_request(self):
        if not self.requests:
            return 0, 0, 0
        return tuple(1000 * cpu / self.requests for cpu in (self.app_cpu, self.db_cpu, self.client_cpu))

    @property
    def rps(self):
        return self.requests / self.window if self.window else 0.0

    def percentile(self, fraction):
        """The latency (ms) under which ``fraction`` of the requests finished (nearest rank)."""
        total = sum(self.latencies.values())
        if not total:
            return float("nan")
        rank, seen = max(1, round(fraction * total)), 0
        for microseconds in sorted(self.latencies):
            seen += self.latencies[microseconds]
            if seen >= rank:
                return microseconds / 1000
        return max(self.latencies) / 1000


def run_wrk(name, sessions, mode, *, port, duration, work: Path, path="", threads=2) -> Result:
    """One slice of a scenario: wrk with bench/wrk/heyon.lua, one connection per session.

    The sessions' cookies (and CSRF token and name, for reviewers) go to the script in a
    file; "get" runs ``threads`` threads over the connections, the review modes one thread
    and one connection per reviewer, so that each reviewer's requests follow one another.
    """
    clients = work / f"wrk-{name}.tsv"
    clients.write_text(
        "".join(
            f"{session.cookie_header()}\t{getattr(session, 'csrf', '')}\t{getattr(session, 'username', '')}\n"
            for session in sessions
            if session.cookies
        )
    )
    if mode != "get":
        threads = len(sessions)
    command = [WRK, "-t", str(threads), "-c", str(len(sessions)), "-d", f"{max(1, round(duration))}s"]
    command += ["--timeout", "5s", "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}", "--", mode, path]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    finished = subprocess.run(
        command,
        env={**os.environ, "HEYON_WRK_CLIENTS": str(clients), "HEYON_WRK_THREADS": str(threads)},
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    at = finished.stdout.find("HEYON ")
    if finished.returncode != 0 or at < 0:
        sys.exit(f"wrk failed ({finished.returncode}): {finished.stderr.strip() or finished.stdout.strip()}")
    data, _end = json.JSONDecoder().raw_decode(finished.stdout, at + len("HEYON "))
    sockets = data["socket_errors"]
    kinds = list(data["bad_kinds"]) + [f"socket {kind} ×{count}" for kind, count in sockets.items() if count]
    return Result(
        name=name,
        clients=len(sessions),
        latencies=Counter({int(us): count for us, count in data["latency_us"].items()}),
        errors=data["bad"] + sum(sockets.values()) + data["status_errors"],
        error_kinds=kinds,
        requests=data["requests"],
        window=data["duration_us"] / 1e6,
        decisions=data["decisions"],
        claims=[(reviewer, int(pk)) for reviewer, ids in data["claims"].items() for pk in ids],
        client_cpu=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    )


# --- the trees ---------------------------------------------------------------------------

# Run in a subprocess whose working directory is the tree: it imports that tree's own
# bench/load.py (which puts that tree first on the import path) and calls its functions, so
# each tree is seeded, measured in-process and checked by its own code. The task comes as
# JSON on stdin; the answer is one line "HEYON-SIDE {json}".
SIDE_SCRIPT = """
import argparse, importlib.util, json, sys
task = json.loads(sys.stdin.read())
spec = importlib.util.spec_from_file_location("heyon_load_bench", "bench/load.py")
bench = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bench
spec.loader.exec_module(bench)
bench.PASSWORD = task["password"]
import django
django.setup()
from django.db import connection
if task["step"] == "prepare":
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    seeded = bench.seed(argparse.Namespace(**task["seed"]))
    queries = bench.queries_per_request(seeded["customers"][0])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SHOW server_version")
        seeded["version"] = cursor.fetchone()[0]
    answer = {"seeded": seeded, "queries": queries}
else:
    answer = bench.check_review(argparse.Namespace(claims=[tuple(claim) for claim in task["claims"]]))
print("HEYON-SIDE " + json.dumps(answer), flush=True)
"""


@dataclass
class Side:
    """One tree under load: its checkout, database, port, Redis database and server."""

    name: str  # "before" or "after" in a comparison, "" in a single run
    tree: Path
    database_url: str
    port: int
    redis_db: int
    work: Path
    worktree: bool = False  # made by this run, removed at its end
    env: dict = field(default_factory=dict)
    server: subprocess.Popen | None = None
    seeded: dict = field(default_factory=dict)
    queries: dict = field(default_factory=dict)
    sessions: dict = field(default_factory=dict)  # "customers", "reviewers", "anonymous"
    results: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)

    @property
    def label(self):
        return f"{self.name} ({self.revision})" if self.name else self.revision

    @cached_property
    def revision(self):
        head = subprocess.run(
            ["git", "-C", str(self.tree), "log", "-1", "--format=%h %s"], capture_output=True, text=True, check=False
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(self.tree), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        return f"{head[:60]}{' + uncommitted changes' if dirty else ''}" or str(self.tree)


def add_worktree(ref: str, path: Path) -> Path:
    """A detached ``git worktree`` of ``ref`` at ``path`` (removed at the end of the run)."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(path), ref], check=True)
    return path


def remove_worktree(path: Path):
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False)


def run_side_script(side: Side, task: dict, timeout: float) -> dict:
    finished = subprocess.run(
        [sys.executable, "-c", SIDE_SCRIPT],
        cwd=side.tree,
        env=side.env,
        input=json.dumps(task),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for line in finished.stdout.splitlines():
        if line.startswith("HEYON-SIDE "):
            return json.loads(line[len("HEYON-SIDE ") :])
    sys.exit(
        f"{task['step']} of {side.label} failed ({finished.returncode}):\n"
        f"{finished.stderr.strip()[-3000:] or finished.stdout.strip()[-3000:]}"
    )


def prepare_side(args, side: Side):
    """Recreate the tree's database and seed it, by the tree's own code (see SIDE_SCRIPT)."""
    recreate_database(side.database_url)
    flush_redis(side.redis_db)
    # The tree's own manage.py; Django skips a catalogue whose .mo is newer than its .po.
    subprocess.run(
        [sys.executable, "manage.py", "compilemessages", "-v0", "--ignore=.venv"], cwd=side.tree, env=side.env,
        check=True,
    )  # fmt: skip
    task = {
        "step": "prepare",
        "password": PASSWORD,
        "seed": {"customers": args.customers, "reviewers": args.reviewers, "submissions": args.submissions},
    }
    answer = run_side_script(side, task, timeout=TOTAL_BUDGET_S)
    side.seeded, side.queries = answer["seeded"], answer["queries"]


def check_side(side: Side):
    """The tree's own ``check_review`` over the claims its clients saw, in both review scenarios."""
    claims = [claim for key in ("review", "review2") for claim in side.results[key].claims]
    side.checks = run_side_script(side, {"step": "check", "password": PASSWORD, "claims": claims}, timeout=300)


# --- the server ---------------------------------------------------------------------------


def start_gunicorn(side: Side) -> subprocess.Popen:
    """The tree's own gunicorn, from the tree's directory, with its own configuration file."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    logs = side.work
    process = subprocess.Popen(
        [str(gunicorn), "-c", "heyon_site/gunicorn.conf.py", "heyon_site.wsgi:application"],
        cwd=side.tree,
        env=side.env,
        stdout=subprocess.DEVNULL,
        stderr=open(logs / "gunicorn.log", "w"),
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn of {side.label} exited with {process.returncode}; see {logs}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", side.port, timeout=2)
            conn.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
            if conn.getresponse().status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.3)
    stop_gunicorn(process)
    sys.exit(f"gunicorn of {side.label} did not answer /healthz within 60 s")


def stop_gunicorn(process: subprocess.Popen):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def cpu_snapshot(side: Side) -> dict[int, tuple[str, float]]:
    """CPU seconds used so far by each gunicorn worker and each backend of the side's database.

    Read from /proc (Linux): the workers are the master's children; the backends are the
    PostgreSQL processes whose title names the side's database.
    """
    master_pid, database = side.server.pid, database_name(side.database_url)
    tick = os.sysconf("SC_CLK_TCK")
    snapshot = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            title = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        used = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if int(fields[1]) == master_pid:
            snapshot[int(entry.name)] = ("app", used)
        elif title.startswith("postgres: ") and f" {database} " in title:
            snapshot[int(entry.name)] = ("db", used)
    return snapshot


def cpu_used(before: dict, after: dict) -> tuple[float, float]:
    """App and database CPU seconds between two snapshots (a process that exited meanwhile is lost)."""
    totals = {"app": 0.0, "db": 0.0}
    for pid, (kind, used) in after.items():
        earlier = before.get(pid)
        totals[kind] += used - (earlier[1] if earlier and earlier[0] == kind else 0.0)
    return totals["app"], totals["db"]


def worker_count(env) -> int:
    return int(env.get("GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1))


# --- checks and report --------------------------------------------------------------------


def check_review(result: Result) -> dict:
    """Count double decisions and double claims in the database and in what the clients saw."""
    from django.db.models import Count

    from reviews.models import Submission, SubmissionEvent

    decided_twice = (
        SubmissionEvent.objects.filter(verb__in=["approved", "rejected"])
        .values("submission")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count()
    )
    claimed_by_two = (
        SubmissionEvent.objects.filter(verb="claimed")
        .values("submission")
        .annotate(n=Count("actor", distinct=True))
        .filter(n__gt=1)
        .count()
    )
    holders: dict[int, set] = {}
    for reviewer, submission_id in result.claims:
        holders.setdefault(submission_id, set()).add(reviewer)
    seen_by_two = sum(1 for who in holders.values() if len(who) > 1)
    claimed = {submission_id: next(iter(who)) for submission_id, who in holders.items()}
    decided = Submission.objects.filter(pk__in=claimed, decided_by__isnull=False).values_list(
        "pk", "decided_by__username"
    )
    wrong_decider = sum(1 for pk, username in decided if claimed[pk] != username)
    return {
        "decided": Submission.objects.filter(status__in=["approved", "rejected"]).count(),
        "decided_twice": decided_twice,
        "claimed_by_two": claimed_by_two,
        "clients_saw_same_claim": seen_by_two,
        "decided_by_other": wrong_decider,
    }


def print_report(results: dict, checks: dict, queries: dict, meta: dict):
    baseline = results["baseline"]
    print(
        f"\n{'scenario':<30}{'clients':>8}{'requests':>9}{'req/s':>8}{'× base':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'errors':>7}{'queries':>8}{'app CPU ms':>11}{'db CPU ms':>10}{'wrk CPU ms':>11}"
    )
    print("-" * 126)
    rows = [
        ("baseline GET /service-points/", baseline, str(queries["baseline"])),
        ("baseline GET /service-points/", results["baseline8"], str(queries["baseline"])),
        ("account GET /account/", results["account"], str(queries["account"])),
        ("review decide and take next", results["review"], str(queries["decide_next"])),
        ("review claim, then decide", results["review2"], f"{queries['claim']}+{queries['decide']}"),
    ]
    for label, result, query_count in rows:
        app_ms, db_ms, client_ms = result.cpu_ms_per_request()
        print(
            f"{label:<30}{result.clients:>8}{result.requests:>9}{result.rps:>8.1f}{result.rps / baseline.rps:>8.2f}"
            f"{result.percentile(0.5):>8.1f}{result.percentile(0.99):>8.1f}{result.errors:>7}{query_count:>8}"
            f"{app_ms:>11.1f}{db_ms:>10.1f}{client_ms:>11.2f}"
        )
    print(
        "(app/db/wrk CPU ms: CPU time per request of the gunicorn workers and the PostgreSQL backends, from /proc,"
        " and of wrk.)\n"
        "In-process, single-threaded (test client, no gunicorn), application CPU per request: "
        + ", ".join(f"{name} {value:.1f} ms" for name, value in queries["cpu_ms"].items())
        + f" (review: per decision; the account centre rendered afresh makes {queries['account_rendered']}"
        " queries)"
    )
    for label, key in [("decide and take next", "review"), ("claim, then decide", "review2")]:
        review = results[key]
        rate = review.decisions / review.window if review.window else 0
        cpu = review.app_cpu + review.db_cpu
        print(
            f"\nreview, {label}: {review.decisions} decisions in {review.window:.1f} s = {rate:.1f} decisions/s "
            f"by {review.clients} reviewers; "
            f"CPU per decision {1000 * cpu / max(review.decisions, 1):.1f} ms "
            f"(app + db), i.e. at most {meta['cpus'] * (review.decisions / max(cpu, 1e-9)):.0f} "
            f"decisions/s if {meta['cpus']} cores did nothing else"
        )
    review = results["review"]
    decisions_per_s = review.decisions / review.window if review.window else 0
    print(
        f"database: {checks['decided']} submissions decided; decided twice {checks['decided_twice']}; "
        f"claimed by two reviewers {checks['claimed_by_two']}; same claim seen by two clients "
        f"{checks['clients_saw_same_claim']}; decided by someone other than the claimer {checks['decided_by_other']}"
    )
    for result in results.values():
        if result.errors:
            print(f"{result.name}: {result.errors} errors, first kinds: {result.error_kinds}")
    account = results["account"]
    share = account.rps / baseline.rps
    doubles = checks["decided_twice"] + checks["claimed_by_two"] + checks["clients_saw_same_claim"]
    doubles += checks["decided_by_other"]
    errors = sum(result.errors for result in results.values())
    print(f"\nTargets ({meta['cpus']} CPUs, {meta['workers']} gunicorn workers):")
    for label, ok in [
        (f"account ≥ {TARGET_ACCOUNT_SHARE:.0%} of baseline req/s at {account.clients} clients ({share:.0%})",
         share >= TARGET_ACCOUNT_SHARE),
        (f"account p99 < {TARGET_ACCOUNT_P99_MS} ms at {account.clients} clients ({account.percentile(0.99):.1f} ms)",
         account.percentile(0.99) < TARGET_ACCOUNT_P99_MS),
        (f"≥ {TARGET_DECISIONS_PER_S} decisions/s with {review.clients} reviewers, deciding and taking the next "
         f"({decisions_per_s:.1f})",
         decisions_per_s >= TARGET_DECISIONS_PER_S),
        (f"zero errors ({errors})", errors == 0),
        (f"zero double assignments or decisions ({doubles})", doubles == 0),
    ]:  # fmt: skip
        print(f"[{'met' if ok else 'MISSED'}] {label}")


def decisions_per_s(result: Result) -> float:
    return result.decisions / result.window if result.window else 0.0


def print_comparison(before: Side, after: Side, meta: dict):
    """One table of both trees, side by side, with the ratio, and the comparison's targets."""
    print(f"\nbefore: {before.label}\nafter:  {after.label}")
    print(
        f"\n{'scenario':<30}{'clients':>8}{'req/s':>10}{'':>9}{'after ÷':>9}{'p50 ms':>9}{'':>7}"
        f"{'p99 ms':>9}{'':>7}{'errors':>9}{'queries':>12}{'CPU ms/req':>13}"
    )
    print(
        f"{'':<30}{'':>8}{'before':>10}{'after':>9}{'before':>9}{'before':>9}{'after':>7}{'before':>9}{'after':>7}"
        f"{'bef/aft':>9}{'bef/aft':>12}{'bef/aft':>13}"
    )
    print("-" * 132)

    def queries(side, key):
        return (
            f"{side.queries['claim']}+{side.queries['decide']}"
            if key == "review2"
            else str(side.queries[{"baseline8": "baseline", "review": "decide_next"}.get(key, key)])
        )

    labels = [
        ("baseline", "baseline GET /service-points/"),
        ("baseline8", "baseline GET /service-points/"),
        ("account", "account GET /account/"),
        ("review", "review decide and take next"),
        ("review2", "review claim, then decide"),
    ]
    for key, label in labels:
        b, a = before.results[key], after.results[key]
        cpu_b, cpu_a = (sum(result.cpu_ms_per_request()[:2]) for result in (b, a))
        print(
            f"{label:<30}{a.clients:>8}{b.rps:>10.1f}{a.rps:>9.1f}{a.rps / b.rps if b.rps else 0:>9.2f}"
            f"{b.percentile(0.5):>9.1f}{a.percentile(0.5):>7.1f}{b.percentile(0.99):>9.1f}{a.percentile(0.99):>7.1f}"
            f"{f'{b.errors}/{a.errors}':>9}{f'{queries(before, key)}/{queries(after, key)}':>12}"
            f"{f'{cpu_b:.1f}/{cpu_a:.1f}':>13}"
        )
    for key, label in [("review", "decisions/s, decide + next"), ("review2", "decisions/s, claim, decide")]:
        b, a = decisions_per_s(before.results[key]), decisions_per_s(after.results[key])
        print(f"{label:<30}{after.results[key].clients:>8}{b:>10.1f}{a:>9.1f}{a / b if b else 0:>9.2f}")
    print(
        "(CPU ms/req: CPU time per request of the gunicorn workers and the PostgreSQL backends together, from /proc.)"
    )
    print("In-process, single-threaded (test client, no gunicorn), application CPU per request, before → after: ")
    print(
        "  "
        + ", ".join(
            f"{name} {value:.1f} → {after.queries['cpu_ms'].get(name, float('nan')):.1f} ms"
            for name, value in before.queries["cpu_ms"].items()
        )
        + f"; the account centre rendered afresh makes {before.queries['account_rendered']} → "
        f"{after.queries['account_rendered']} queries"
    )
    for side in (before, after):
        checks = side.checks
        print(
            f"database, {side.name}: {checks['decided']} submissions decided; decided twice {checks['decided_twice']}; "
            f"claimed by two reviewers {checks['claimed_by_two']}; same claim seen by two clients "
            f"{checks['clients_saw_same_claim']}; decided by someone other than the claimer "
            f"{checks['decided_by_other']}"
        )
        for result in side.results.values():
            if result.errors:
                print(f"{side.name}, {result.name}: {result.errors} errors, first kinds: {result.error_kinds}")
    print(
        f"\nHost speed: a plain Python loop of 10 million additions took {meta['speed_start']:.2f} s at the start, "
        f"{meta['speed_end']:.2f} s at the end"
    )
    account = after.results["account"]
    share = account.rps / after.results["baseline"].rps if after.results["baseline"].rps else 0
    errors = {side.name: sum(result.errors for result in side.results.values()) for side in (before, after)}
    doubles = {
        side.name: sum(side.checks[key] for key in ("decided_twice", "claimed_by_two", "clients_saw_same_claim",
                                                    "decided_by_other"))
        for side in (before, after)
    }  # fmt: skip
    print(f"\nTargets ({meta['cpus']} CPUs, {meta['workers']} gunicorn workers per tree):")
    targets = []
    for key, label in [("review", "deciding and taking the next"), ("review2", "claiming, then deciding")]:
        b, a = decisions_per_s(before.results[key]), decisions_per_s(after.results[key])
        ratio = a / b if b else 0
        targets.append((
            f"decisions/s {label}, after ≥ {TARGET_COMPARED_DECISIONS_SHARE:.0%} of before "
            f"({a:.1f} against {b:.1f}: {ratio:.0%})",
            ratio >= TARGET_COMPARED_DECISIONS_SHARE,
        ))  # fmt: skip
    targets += [
        (f"account p99 < {TARGET_COMPARED_ACCOUNT_P99_MS} ms at {account.clients} clients, after "
         f"({account.percentile(0.99):.1f} ms; before {before.results['account'].percentile(0.99):.1f} ms)",
         account.percentile(0.99) < TARGET_COMPARED_ACCOUNT_P99_MS),
        (f"account ≥ {TARGET_ACCOUNT_SHARE:.0%} of baseline req/s at {account.clients} clients, after ({share:.0%})",
         share >= TARGET_ACCOUNT_SHARE),
        (f"≥ {TARGET_DECISIONS_PER_S} decisions/s deciding and taking the next, after "
         f"({decisions_per_s(after.results['review']):.1f})",
         decisions_per_s(after.results["review"]) >= TARGET_DECISIONS_PER_S),
        (f"zero errors (before {errors['before']}, after {errors['after']})", not any(errors.values())),
        (f"zero double assignments or decisions (before {doubles['before']}, after {doubles['after']})",
         not any(doubles.values())),
    ]  # fmt: skip
    for label, ok in targets:
        print(f"[{'met' if ok else 'MISSED'}] {label}")


def sign_in(args, side: Side):
    """Every client of the side's server signed in over HTTP, as a browser would."""
    customers = []
    for phone in side.seeded["customers"][: args.clients]:
        session = Session(side.port)
        session.login(phone, "/account/")
        # The customer's first view renders the page and caches it: done here, one at a
        # time, so that no slice (nor a warm-up still finishing) carries 32 of them at once.
        status, _headers, _content = session.request("GET", "/account/")
        if status != 200:
            raise RuntimeError(f"/account/ of {phone} answered {status}")
        customers.append(session)
    while len(customers) < args.clients:  # more clients than customers: share sessions' cookies
        clone = Session(side.port)
        clone.cookies = dict(customers[len(customers) % len(side.seeded["customers"])].cookies)
        customers.append(clone)
    reviewers = []
    for username in side.seeded["reviewers"]:
        session = Session(side.port)
        session.login(username, "/staff/")
        session.username = username
        session.csrf = session.token("/staff/reviews/")
        reviewers.append(session)
    side.sessions = {
        "customers": customers,
        "reviewers": reviewers,
        "anonymous": [Session(side.port) for _ in range(args.clients)],
    }


def run_rounds(args, sides: list[Side]):
    """The scenarios in turn, ``--rounds`` slices each, every slice on each side in turn.

    The scenarios take turns in short slices, and in a comparison both trees run each slice
    one after the other, the one going first alternating from round to round: whatever else
    the machine is doing weighs on every scenario and on both trees alike.
    """
    scenarios = [
        ("baseline", "anonymous", None, "get", "/service-points/"),
        ("account", "customers", None, "get", "/account/"),
        ("baseline8", "anonymous", args.reviewers, "get", "/service-points/"),
        ("review", "reviewers", None, "decide-next", ""),
        ("review2", "reviewers", None, "claim-decide", ""),
    ]
    for side in sides:
        side.results = {
            name: Result(name=name, clients=len(side.sessions[who][:limit])) for name, who, limit, *_ in scenarios
        }
    for round_number in range(args.rounds):
        order = sides if round_number % 2 == 0 else sides[::-1]
        for name, who, limit, mode, path in scenarios:
            for side in order:
                sessions = side.sessions[who][:limit]
                common = {"port": side.port, "work": side.work, "path": path}
                if round_number == 0:
                    # Warm-up, not measured: each worker's first requests (its connection's
                    # statements not yet prepared) and each customer's first page (rendered,
                    # then cached) would otherwise weigh on the first slice alone.
                    run_wrk(name, sessions, mode, duration=1, **common)
                    time.sleep(0.3)
                before = cpu_snapshot(side)
                measured = run_wrk(name, sessions, mode, duration=args.duration / args.rounds, **common)
                # Requests wrk gave up on at the end may still be running: let them finish
                # (inside the CPU count) before the next slice's clients start.
                time.sleep(0.3)
                app_cpu, db_cpu = cpu_used(before, cpu_snapshot(side))
                side.results[name].merge(measured, app_cpu=app_cpu, db_cpu=db_cpu)
        for side in sides:
            print(
                f"round {round_number + 1}/{args.rounds}{f' {side.name}' if side.name else ''}: "
                + ", ".join(f"{name} {result.rps:.0f} req/s" for name, result in side.results.items())
                + f"; load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=20, help="measured seconds per scenario (default 20)")
    parser.add_argument("--clients", type=int, default=32, help="clients for baseline and account (default 32)")
    parser.add_argument("--customers", type=int, default=32, help="signed-in customers (default 32)")
    parser.add_argument("--reviewers", type=int, default=8)
    parser.add_argument("--submissions", type=int, default=20_000, help="open submissions in the queue (default 20000)")
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (default: the config's 2×cores+1)")
    parser.add_argument("--rounds", type=int, default=5, help="slices each scenario's time is cut into (default 5)")
    parser.add_argument("--port", type=int, default=8431, help="(the tree under test on the next one with --before)")
    parser.add_argument(
        "--redis-db", type=int, default=13, help="Redis database of the bench's own, emptied (and the next)"
    )
    parser.add_argument("--before", metavar="REF", help="compare: a git worktree of REF against the tree under test")
    parser.add_argument(
        "--after", metavar="REF", help="with --before: the tree under test is a worktree of REF (default: this tree)"
    )
    args = parser.parse_args()
    if not 1 <= args.duration <= 60 or args.submissions > 200_000:
        sys.exit("Keep it bounded: --duration 1..60 s, --submissions ≤ 200000")
    if args.after and not args.before:
        sys.exit("--after goes with --before")
    if WRK is None:
        sys.exit("The load comes from wrk: apt-get install wrk")
    url = bench_database_url()
    # Both trees share the keys: the same settings, only the code differs.
    args.secret_key = os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50)
    args.blind_index_key = os.environ.get("BLIND_INDEX_KEY") or secrets.token_urlsafe(50)
    args.sandbox_secret = os.environ.get("PAYMENT_SANDBOX_SECRET") or secrets.token_urlsafe(50)
    if os.environ.get("FIELD_ENCRYPTION_KEYS"):
        args.field_encryption_keys = os.environ["FIELD_ENCRYPTION_KEYS"]
    else:
        from cryptography.fernet import Fernet

        args.field_encryption_keys = Fernet.generate_key().decode()
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("bench budget exceeded")))
    signal.alarm(TOTAL_BUDGET_S * (2 if args.before else 1))

    work = Path(tempfile.mkdtemp(prefix="heyon-load-"))
    started = time.perf_counter()
    sides: list[Side] = []
    try:
        if args.before:
            name = database_name(url)
            tree = add_worktree(args.before, work / "before-tree")
            sides.append(Side("before", tree, with_database(url, f"{name}_before"), args.port, args.redis_db,
                              work / "before", worktree=True))  # fmt: skip
            tree = add_worktree(args.after, work / "after-tree") if args.after else ROOT
            sides.append(Side("after", tree, with_database(url, f"{name}_after"), args.port + 1, args.redis_db + 1,
                              work / "after", worktree=bool(args.after)))  # fmt: skip
        else:
            sides.append(Side("", ROOT, url, args.port, args.redis_db, work / "run"))
        speed_start = host_speed()
        print(
            f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}; host speed: a plain Python loop of "
            f"10 million additions takes {speed_start:.2f} s",
            flush=True,
        )
        for side in sides:
            side.work.mkdir()
            side.env = side_environment(args, side)
            began = time.perf_counter()
            prepare_side(args, side)
            seeded = side.seeded
            print(
                f"{side.label}: PostgreSQL {seeded['version']}; seeded {len(seeded['customers'])} customers, "
                f"{len(seeded['reviewers'])} reviewers, {args.submissions:,} open submissions ({seeded['users']:,} "
                f"users) in {seeded['seconds']:.0f} s; setup {time.perf_counter() - began:.0f} s",
                flush=True,
            )
        try:
            for side in sides:
                side.server = start_gunicorn(side)
                sign_in(args, side)
                print(
                    f"{side.name or 'gunicorn'} on 127.0.0.1:{side.port} with {worker_count(side.env)} workers; "
                    f"{len(side.sessions['customers'])} customers and {len(side.sessions['reviewers'])} reviewers "
                    f"signed in; load average {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
            run_rounds(args, sides)
        finally:
            for side in sides:
                if side.server is not None:
                    stop_gunicorn(side.server)
                flush_redis(side.redis_db)
        for side in sides:
            check_side(side)
        meta = {"cpus": os.cpu_count(), "workers": worker_count(sides[-1].env), "speed_start": speed_start,
                "speed_end": host_speed()}  # fmt: skip
        if args.before:
            print_comparison(*sides, meta)
        else:
            side = sides[0]
            print_report(side.results, side.checks, side.queries, meta)
            print(
                f"\nHost speed: a plain Python loop of 10 million additions took {meta['speed_start']:.2f} s at the "
                f"start, {meta['speed_end']:.2f} s at the end"
            )
        print(f"\nTotal {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.2f} at end")
    finally:
        for side in sides:
            if args.before:
                drop_database(side.database_url)  # the comparison's own databases
            if side.worktree:
                remove_worktree(side.tree)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
