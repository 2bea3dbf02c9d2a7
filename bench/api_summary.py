"""Loopback load test: the app's account summary (GET /api/v1/account/) beside the web account centre.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/heyon_load_api .venv/bin/python bench/api_summary.py

The database must be named ``heyon_load…`` on a loopback address: it is dropped and
recreated. The set-up is bench/load.py's, imported from it: production settings,
gunicorn with its configuration file, Redis for the cache and the rate limits, customers
seeded through the services (two lines with plans, wallet, paid renewals, usage,
messages), wrk as the load (bench/wrk/api.lua sends each client's bearer token).

Scenarios, taking turns in ``--rounds`` slices so that background load weighs on all:

- ``baseline``: anonymous ``GET /service-points/`` (load.py's baseline);
- ``web``: signed-in customers' ``GET /account/``, the web account centre (cached per customer
  until what it shows changes);
- ``api``: the same customers' ``GET /api/v1/account/`` with their access tokens (JWT checked,
  the API's per-account and per-address limits counted in Redis, lines, allowances, wallet,
  verification and unread count read afresh).

It prints requests/s, p50 and p99 of each, the API's share of the web's requests/s, the
targets (issue 17: within 20 % of the web's requests/s, p99 under 50 ms at 32 clients),
and the host's speed (a plain Python loop of 10 million additions) at start and end.
"""

import argparse
import importlib.util
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("heyon_load_bench", BENCH_DIR / "load.py")
load = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = load
spec.loader.exec_module(load)

API_SCRIPT = BENCH_DIR / "wrk" / "api.lua"
TARGET_SHARE = 0.80
TARGET_P99_MS = 50


class TokenClient:
    """What load.run_wrk writes to wrk's clients file: here the access token."""

    def __init__(self, access: str):
        self.cookies = {"token": access}

    def cookie_header(self) -> str:
        return self.cookies["token"]


def api_tokens(port: int, phones: list[str], clients: int) -> list[TokenClient]:
    tokens = []
    for phone in phones[:clients]:
        session = load.Session(port)
        body = json.dumps({"username": phone, "password": load.PASSWORD})
        session.conn.request(
            "POST", "/api/v1/auth/token/", body=body, headers={"Host": "127.0.0.1", "Content-Type": "application/json"}
        )
        response = session.conn.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"API sign-in of {phone} answered {response.status}: {answer[:200]!r}")
        tokens.append(TokenClient(json.loads(answer)["access"]))
    while len(tokens) < clients:
        tokens.append(tokens[len(tokens) % len(phones)])
    return tokens


def run(args, side):
    scenarios = [
        ("baseline", "anonymous", "/service-points/", load.WRK_SCRIPT),
        ("web", "customers", "/account/", load.WRK_SCRIPT),
        ("api", "api", "/api/v1/account/", API_SCRIPT),
    ]
    results = {name: load.Result(name=name, clients=args.clients) for name, *_ in scenarios}
    heyon_script = load.WRK_SCRIPT
    try:
        for round_number in range(args.rounds):
            for name, who, path, script in scenarios:
                load.WRK_SCRIPT = script
                sessions = side.sessions[who]
                common = {"port": side.port, "work": side.work, "path": path}
                if round_number == 0:
                    load.run_wrk(name, sessions, "get", duration=1, **common)  # warm-up, not measured
                    time.sleep(0.3)
                before = load.cpu_snapshot(side)
                measured = load.run_wrk(name, sessions, "get", duration=args.duration / args.rounds, **common)
                time.sleep(0.3)
                app_cpu, db_cpu = load.cpu_used(before, load.cpu_snapshot(side))
                results[name].merge(measured, app_cpu=app_cpu, db_cpu=db_cpu)
            print(
                f"round {round_number + 1}/{args.rounds}: "
                + ", ".join(f"{name} {result.rps:.0f} req/s" for name, result in results.items())
                + f"; load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    finally:
        load.WRK_SCRIPT = heyon_script
    return results


def report(results, meta):
    print(
        f"\n{'scenario':<10} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
        f"{'app CPU ms/req':>15}"
    )
    for name, result in results.items():
        app_ms, db_ms, _client_ms = result.cpu_ms_per_request()
        print(
            f"{name:<10} {result.clients:>7} {result.rps:>8.0f} {result.percentile(0.5):>8.1f} "
            f"{result.percentile(0.99):>8.1f} {result.errors:>7} {app_ms:>10.1f} (+{db_ms:.1f} db)"
        )
        if result.error_kinds:
            print(f"           first errors: {', '.join(result.error_kinds)}")
    web, api = results["web"], results["api"]
    share = api.rps / web.rps if web.rps else float("nan")
    p99 = api.percentile(0.99)
    print(
        f"\nAPI summary: {share:.0%} of the web account centre's requests/s (target ≥ {TARGET_SHARE:.0%}: "
        f"{'met' if share >= TARGET_SHARE else 'MISSED'}); p99 {p99:.1f} ms at {api.clients} clients "
        f"(target < {TARGET_P99_MS} ms: {'met' if p99 < TARGET_P99_MS else 'MISSED'})"
    )
    print(
        f"Host: {meta['cpus']} CPUs, {meta['workers']} gunicorn workers; a plain Python loop of 10 million additions "
        f"took {meta['speed_start']:.2f} s at the start, {meta['speed_end']:.2f} s at the end"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=15, help="measured seconds per scenario (default 15)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--customers", type=int, default=32, help="signed-in customers (default 32)")
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (default: the config's 2×cores+1)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--port", type=int, default=8441)
    parser.add_argument("--redis-db", type=int, default=11, help="Redis database of the bench's own, emptied")
    args = parser.parse_args()
    if not 1 <= args.duration <= 60:
        sys.exit("Keep it bounded: --duration 1..60 s")
    if load.WRK is None:
        sys.exit("The load comes from wrk: apt-get install wrk")
    url = load.bench_database_url()
    args.secret_key = secrets.token_urlsafe(50)
    args.blind_index_key = secrets.token_urlsafe(50)
    args.sandbox_secret = secrets.token_urlsafe(50)
    from cryptography.fernet import Fernet

    args.field_encryption_keys = Fernet.generate_key().decode()
    # load.py's in-process query count also works the review queue: a reviewer and a few submissions.
    args.reviewers, args.submissions = 1, 400
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("bench budget exceeded")))
    signal.alarm(load.TOTAL_BUDGET_S)

    work = Path(tempfile.mkdtemp(prefix="heyon-api-load-"))
    side = load.Side("", load.ROOT, url, args.port, args.redis_db, work / "run")
    try:
        speed_start = load.host_speed()
        print(
            f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}; host speed {speed_start:.2f} s", flush=True
        )
        side.work.mkdir()
        side.env = load.side_environment(args, side)
        # Every bench client comes from 127.0.0.1 and each customer asks far more than an app
        # would: the API's limits are still counted (in Redis), never reached.
        unreached = str(10**8)
        side.env["API_RATE_PER_TOKEN_PER_MINUTE"] = side.env["API_RATE_PER_ADDRESS_PER_MINUTE"] = unreached
        load.prepare_side(args, side)
        print(f"seeded {len(side.seeded['customers'])} customers in {side.seeded['seconds']:.0f} s", flush=True)
        try:
            side.server = load.start_gunicorn(side)
            load.sign_in(args, side)
            side.sessions["api"] = api_tokens(side.port, side.seeded["customers"], args.clients)
            results = run(args, side)
        finally:
            if side.server is not None:
                load.stop_gunicorn(side.server)
            load.flush_redis(side.redis_db)
        meta = {
            "cpus": os.cpu_count(),
            "workers": load.worker_count(side.env),
            "speed_start": speed_start,
            "speed_end": load.host_speed(),
        }
        report(results, meta)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
