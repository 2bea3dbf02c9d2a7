"""Settling attempts that may have reached the provider: after a crash, before a retry, before closing.

A worker that dies during the provider call leaves its payment ``created``: the provider
may have charged. Here the crash is an exception no handler catches, raised right after
the sandbox recorded the charge; tests/billing/test_payment_kill.py kills a real process.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing import selectors, services
from billing.gateways.sandbox import SandboxGateway
from billing.models import LedgerEntry, Order, Payment, Receipt, SandboxCharge
from billing.services.errors import ERR_PAYMENT_IN_FLIGHT
from tests.billing.conftest import fund, renewal_order

pytestmark = pytest.mark.django_db

GOOD_CARD = {"number": "4242 4242 4242 4242"}


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing in the payment code may catch it."""


@pytest.fixture
def crash_after_the_charge(monkeypatch):
    """The next card payment's worker dies once the provider has recorded the charge."""
    real_create = SandboxGateway.create

    def create_then_die(self, **kwargs):
        monkeypatch.setattr(SandboxGateway, "deliver", lambda self, charge: None)  # the callback is lost too
        real_create(self, **kwargs)
        monkeypatch.setattr(SandboxGateway, "create", real_create)
        raise WorkerKilled

    monkeypatch.setattr(SandboxGateway, "create", create_then_die)


@pytest.fixture
def crash_before_the_provider(monkeypatch):
    """The next card payment's worker dies before its call reaches the provider."""
    real_create = SandboxGateway.create

    def die(self, **kwargs):
        monkeypatch.setattr(SandboxGateway, "create", real_create)
        raise WorkerKilled

    monkeypatch.setattr(SandboxGateway, "create", die)


def pay_and_crash(order, user):
    with pytest.raises(WorkerKilled):
        services.order_pay(order_id=order.pk, method="card", actor=user, card=GOOD_CARD)
    return Payment.objects.get(order=order)


def test_a_crash_after_the_charge_leaves_the_order_open_past_its_time(customer_line, plans, crash_after_the_charge):
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    payment = pay_and_crash(order, user)
    assert payment.status == Payment.Status.CREATED
    assert SandboxCharge.objects.get().status == "succeeded"
    later = order.expires_at + timedelta(minutes=1)

    assert services.orders_expire_stale(now=later) == 0
    assert services.expire_lines_run(now=later)["orders_closed"] == 0
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN


def test_paying_again_after_a_crash_settles_the_charge_instead_of_charging_twice(
    customer_line, plans, crash_after_the_charge
):
    user, line = customer_line
    fund(user, "100")
    order = renewal_order(user, line, plans["basic"])
    payment = pay_and_crash(order, user)

    again = services.order_pay(order_id=order.pk, method="card", actor=user, card=GOOD_CARD)

    assert again.order.status == Order.Status.PAID
    assert again.payment.pk == payment.pk
    assert SandboxCharge.objects.count() == 1
    assert Payment.objects.count() == 1
    assert Receipt.objects.filter(order=order).count() == 1
    assert services.order_pay(order_id=order.pk, method="wallet", actor=user).payment.pk == payment.pk
    assert not LedgerEntry.objects.filter(kind="charge").exists()


def test_the_settle_job_pays_a_crashed_payment_once_and_then_the_order_never_closes(
    customer_line, plans, crash_after_the_charge
):
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    payment = pay_and_crash(order, user)
    soon = timezone.now()

    assert services.payments_settle(now=soon) == {"checked": 0, "settled": 0}  # may still be in its call
    later = soon + timedelta(minutes=5)
    assert services.payments_settle(now=later) == {"checked": 1, "settled": 1}
    assert services.payments_settle(now=later) == {"checked": 0, "settled": 0}

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert Receipt.objects.filter(order=order).count() == 1
    assert services.orders_expire_stale(now=order.expires_at + timedelta(hours=1)) == 0


def test_an_attempt_still_in_its_provider_call_refuses_a_second_one(customer_line, plans, crash_before_the_provider):
    user, line = customer_line
    fund(user, "100")
    order = renewal_order(user, line, plans["basic"])
    pay_and_crash(order, user)  # for the next minute it looks like a call in progress elsewhere

    for method, card in (("card", GOOD_CARD), ("wallet", None)):
        with pytest.raises(services.BillingError) as refused:
            services.order_pay(order_id=order.pk, method=method, actor=user, card=card)
        assert str(refused.value) == str(ERR_PAYMENT_IN_FLIGHT)
    assert not SandboxCharge.objects.exists()
    assert not LedgerEntry.objects.filter(kind="charge").exists()


def test_an_attempt_the_provider_never_saw_is_settled_as_failed_and_then_the_order_closes(
    customer_line, plans, crash_before_the_provider, settings
):
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    payment = pay_and_crash(order, user)
    later = order.expires_at + timedelta(minutes=1)
    assert services.orders_expire_stale(now=later) == 0
    settings.PAYMENT_SETTLE_AFTER_SECONDS = 0  # the command reads the clock: the call is over
    out = StringIO()

    call_command("settle_payments", stdout=out)

    assert out.getvalue().strip() == "checked=1 settled=1 refunds_checked=0 refunds_settled=0"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert services.orders_expire_stale(now=later) == 1


def test_a_cashier_left_waiting_is_closed_by_the_provider_and_then_the_order_closes(customer_line, plans):
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    services.order_pay(order_id=order.pk, method="alipay", actor=user)
    later = order.expires_at + timedelta(minutes=1)
    assert services.orders_expire_stale(now=later) == 0
    SandboxCharge.objects.update(created_at=timezone.now() - timedelta(hours=1))

    assert services.payments_settle(now=later) == {"checked": 1, "settled": 1}

    assert Payment.objects.get().status == Payment.Status.FAILED
    assert services.orders_expire_stale(now=later) == 1


def test_paying_an_order_past_its_time_with_an_unsettled_attempt_does_not_close_it(customer_line, plans):
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    services.order_pay(order_id=order.pk, method="alipay", actor=user)  # waiting at the cashier
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(services.BillingError):
        services.order_pay(order_id=order.pk, method="card", actor=user, card=GOOD_CARD)

    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN


def test_a_provider_that_does_not_answer_leaves_the_attempt_for_the_next_run(
    customer_line, plans, crash_after_the_charge, monkeypatch
):
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    pay_and_crash(order, user)

    def down(self, **kwargs):
        raise ConnectionError("provider down")

    monkeypatch.setattr(SandboxGateway, "query", down)
    later = timezone.now() + timedelta(minutes=5)
    assert services.payments_settle(now=later) == {"checked": 1, "settled": 0}
    assert Payment.objects.get().status == Payment.Status.CREATED
    assert services.orders_expire_stale(now=order.expires_at + timedelta(minutes=1)) == 0


def test_the_settle_job_is_scheduled(settings):
    schedule = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["billing.tasks.settle_payments"]["schedule"] <= 600


def test_a_crashed_payment_holds_up_the_lines_cancellation(customer_line, plans, crash_after_the_charge):
    user, line = customer_line
    pay_and_crash(renewal_order(user, line, plans["basic"]), user)

    assert selectors.open_items_before_cancellation(user=user, line=line)["unsettled_payments"] == 1
