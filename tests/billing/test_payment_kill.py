"""A real worker process SIGKILLed in the middle of a card payment (as bench/autorenew.py kills the job).

The subprocess pays an order by card with the sandbox provider; it is killed once the
provider has recorded the charge and before the worker recorded the answer in the
database. Then: the order does not close, paying again does not charge a second time,
and the settle job marks it paid exactly once. The subprocess must see the test's rows,
so the data is committed: PostgreSQL only, like the race tests.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from billing import services
from billing.models import Order, Payment, Receipt, SandboxCharge
from tests.billing.conftest import renewal_order, verified_customer
from tests.races import RACE_MARKS

pytestmark = RACE_MARKS

ROOT = Path(__file__).resolve().parents[2]
CHARGED = "PROVIDER-CHARGED"

# The worker: Django as the web process runs it; the sandbox's callback is held back (as a
# lost callback is), the worker says the provider has charged, and waits to be killed.
WORKER = textwrap.dedent(
    f"""
    import sys, time
    import django
    django.setup()
    from billing import services
    from billing.gateways.sandbox import SandboxGateway

    def callback_in_flight(self, charge):
        print({CHARGED!r}, flush=True)
        time.sleep(600)

    SandboxGateway.deliver = callback_in_flight
    services.order_pay(order_id=int(sys.argv[1]), method="card", actor=None, card={{"number": "4242424242424242"}})
    print("NOT KILLED", flush=True)
    """
)


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def kill_mid_payment(order: Order) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env.update(DJANGO_SETTINGS_MODULE="heyon_site.settings.test", DATABASE_URL=database_url(), CONN_MAX_AGE="0")
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(order.pk)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        line = ""
        while time.monotonic() < deadline:
            line = worker.stdout.readline()
            if not line or line.strip() == CHARGED:
                break
        assert line.strip() == CHARGED, f"the worker never reached the provider: {worker.stderr.read()[-3000:]}"
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        worker.stdout.close()
        worker.stderr.close()


@pytest.fixture
def crashed_order(plans):
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    kill_mid_payment(order)
    payment = Payment.objects.get(order=order)
    assert payment.status == Payment.Status.CREATED  # the worker died before recording the answer
    assert SandboxCharge.objects.get(out_trade_no=payment.out_trade_no).status == "succeeded"  # but it charged
    # Past its pay-before time, so that the expiry job would close it if it could.
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    return user, order, payment


def test_a_killed_payment_keeps_its_order_open_and_paying_again_does_not_charge_twice(crashed_order):
    user, order, payment = crashed_order

    call_command("expire_lines", stdout=StringIO())
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN

    again = services.order_pay(order_id=order.pk, method="card", actor=user, card={"number": "4242424242424242"})

    assert again.order.status == Order.Status.PAID
    assert again.payment.pk == payment.pk
    assert SandboxCharge.objects.filter(status="succeeded").count() == 1
    assert Payment.objects.filter(order=order).count() == 1
    assert Receipt.objects.filter(order=order).count() == 1


def test_a_killed_payment_is_settled_by_the_job_exactly_once(crashed_order):
    _user, order, payment = crashed_order
    later = timezone.now() + timedelta(minutes=5)
    assert services.orders_expire_stale(now=later) == 0

    assert services.payments_settle(now=later) == {"checked": 1, "settled": 1}
    assert services.payments_settle(now=later) == {"checked": 0, "settled": 0}

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert Receipt.objects.filter(order=order).count() == 1
    assert SandboxCharge.objects.count() == 1
