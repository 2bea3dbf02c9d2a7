"""The embedded default holds a few concurrent users: simultaneous card payments on SQLite all succeed.

A real development server (``make run``: runserver, a thread per request, each with its own
connection) on a SQLite file in a temporary folder; eight signed-in customers press "pay"
for their top-ups at the same moment. Without WAL, a busy timeout and IMMEDIATE
transactions, most of them got 503 "database is locked".
"""

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings

PAYERS = 8
BASE_DIR = Path(settings.BASE_DIR)
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

SEED = """
import json, uuid
from decimal import Decimal
from django.conf import settings
from django.test import Client
from accounts.models import User
from billing import services

rows = []
for n in range({payers}):
    user = User.objects.create_user(username=None, phone=f"+8613900{{n:06d}}", password="a-long-secret-42")
    order = services.topup_order_create(user=user, amount=Decimal("50.00"), idempotency_key=uuid.uuid4().hex)
    client = Client()
    client.force_login(user)
    rows.append({{"order": order.number, "session": client.cookies[settings.SESSION_COOKIE_NAME].value}})
print("SEED " + json.dumps({{"cookie": settings.SESSION_COOKIE_NAME, "rows": rows}}))
"""

REPORT = """
import json
from django.db import connection
from billing.models import Order
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    mode = cursor.fetchone()[0]
print("REPORT " + json.dumps({"paid": Order.objects.filter(status="paid").count(), "journal_mode": mode}))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def manage(env, *args, timeout=300) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def tagged(output: str, tag: str) -> dict:
    (line,) = [line for line in output.splitlines() if line.startswith(tag + " ")]
    return json.loads(line[len(tag) + 1 :])


@pytest.fixture
def embedded_env(tmp_path):
    """The environment of ``make run``, on a SQLite file of its own."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="heyon_site.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        MEDIA_ROOT=str(tmp_path / "media"),
        SMS_BACKEND="locmem",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        PYTHONUNBUFFERED="1",
    )
    manage(env, "migrate", "--noinput", "-v0")
    return env


@pytest.fixture
def server(embedded_env, tmp_path):
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=BASE_DIR,
        env=embedded_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the development server did not start"
            time.sleep(0.2)
        yield port, tmp_path / "server.log"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_simultaneous_card_payments_on_sqlite_all_succeed(embedded_env, server):
    port, log = server
    seed = tagged(manage(embedded_env, "shell", "-c", SEED.format(payers=PAYERS)), "SEED")
    cookie_name = seed["cookie"]
    barrier = threading.Barrier(PAYERS)
    outcomes = [None] * PAYERS

    def pay(index, row):
        cookies = f"{cookie_name}={row['session']}"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        connection.request("GET", f"/billing/orders/{row['order']}/", headers={"Cookie": cookies})
        page = connection.getresponse()
        body = page.read().decode()
        csrf = next(
            header.split(";")[0].split("=", 1)[1]
            for name, header in page.getheaders()
            if name.lower() == "set-cookie" and header.startswith("csrftoken=")
        )
        form = {
            "csrfmiddlewaretoken": TOKEN.search(body).group(1),
            "method": "card",
            "card_number": "4242 4242 4242 4242",
            "card_expiry": "12/30",
            "card_cvc": "123",
        }
        barrier.wait(timeout=60)
        connection.request(
            "POST",
            f"/billing/orders/{row['order']}/pay/",
            body=urlencode(form),
            headers={
                "Cookie": f"{cookies}; csrftoken={csrf}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        response = connection.getresponse()
        response.read()
        outcomes[index] = (response.status, response.getheader("Location"))

    threads = [threading.Thread(target=pay, args=(index, row)) for index, row in enumerate(seed["rows"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)

    server_log = log.read_text()
    assert "database is locked" not in server_log, server_log[-3000:]
    assert outcomes == [(302, f"/billing/orders/{row['order']}/") for row in seed["rows"]], outcomes
    report = tagged(manage(embedded_env, "shell", "-c", REPORT), "REPORT")
    assert report == {"paid": PAYERS, "journal_mode": "wal"}
