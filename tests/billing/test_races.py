"""Concurrency of billing, with real threads on PostgreSQL (row locks, unique keys, SKIP LOCKED).

Run with ``DATABASE_URL=postgres://… pytest -m postgres``; on SQLite these are skipped.
Each thread has its own database connection, so the data must really be committed:
transactional tests, with serialized_rollback to bring the seeded plans and roles back
after the flush.
"""

from datetime import timedelta
from decimal import Decimal

from django.db.models import Count
from django.test import Client
from django.utils import timezone

from accounts.models import Line
from billing import selectors, services
from billing.gateways.sandbox import signed_notification
from billing.models import LedgerEntry, Order, Payment, Plan, ProviderNotification, Receipt, SandboxCharge
from billing.services.errors import ERR_ORDER_NOT_OPEN
from billing.webhooks import handle_provider_notification
from tests.billing.conftest import fund, key, renewal_order, verified_customer, wallet_balance
from tests.factories import make_line
from tests.races import RACE_MARKS, errors, run_together, values

pytestmark = RACE_MARKS


def basic():
    return Plan.objects.get(code="basic", is_current=True)


def test_the_same_notification_delivered_by_four_threads_at_once_credits_once():
    user, line = verified_customer()
    order = renewal_order(user, line, basic())
    outcome = services.order_pay(order_id=order.pk, method="alipay", actor=user)
    SandboxCharge.objects.filter(out_trade_no=outcome.payment.out_trade_no).update(status="succeeded")
    headers, body = signed_notification(SandboxCharge.objects.get())
    old_end = line.validity_end

    results = run_together(
        *[lambda: handle_provider_notification(provider="sandbox", headers=headers, body=body) for _ in range(4)]
    )

    assert errors(results) == []
    assert sorted(values(results)) == [False, False, False, True]
    assert ProviderNotification.objects.count() == 1
    assert Receipt.objects.filter(order=order).count() == 1
    assert Payment.objects.get().status == Payment.Status.SUCCEEDED
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    line.refresh_from_db()
    assert (
        line.validity_end
        == selectors.renewal_quote(line=Line(validity_end=old_end), plan=basic(), term_months=1).new_validity_end
    )


def test_the_same_top_up_notification_delivered_concurrently_credits_the_wallet_once():
    user, _line = verified_customer()
    order = services.topup_order_create(user=user, amount=Decimal("80"), idempotency_key=key())
    outcome = services.order_pay(order_id=order.pk, method="wechat", actor=user)
    SandboxCharge.objects.filter(out_trade_no=outcome.payment.out_trade_no).update(status="succeeded")
    headers, body = signed_notification(SandboxCharge.objects.get())

    results = run_together(
        *[lambda: handle_provider_notification(provider="sandbox", headers=headers, body=body) for _ in range(4)]
    )

    assert errors(results) == []
    assert wallet_balance(user) == Decimal("80.00")
    assert LedgerEntry.objects.filter(kind="topup", reference=order.number).count() == 1


def test_the_same_idempotency_key_posted_concurrently_creates_one_order():
    user, line = verified_customer()
    plan = basic()
    request_key = key()

    def create():
        return services.renewal_order_create(
            user=user, line_id=line.pk, plan_id=plan.pk, term_months=3, idempotency_key=request_key
        ).pk

    results = run_together(*[create for _ in range(6)])

    assert errors(results) == []
    assert len(set(values(results))) == 1
    assert Order.objects.count() == 1


def test_the_same_renew_form_submitted_concurrently_creates_one_order():
    user, line = verified_customer()
    form = {"line": line.pk, "plan": basic().pk, "term_months": 1, "idempotency_key": key()}

    def submit():
        browser = Client()
        browser.force_login(user)
        response = browser.post("/billing/renew/", form)
        return response.status_code, response.get("Location")

    results = run_together(*[submit for _ in range(4)])

    assert errors(results) == []
    order = Order.objects.get()
    assert set(values(results)) == {(302, f"/billing/orders/{order.number}/")}


def test_two_wallet_payments_of_the_same_order_at_once_charge_once():
    user, line = verified_customer()
    fund(user, "100")
    order = renewal_order(user, line, basic())

    results = run_together(*[lambda: services.order_pay(order_id=order.pk, method="wallet", actor=user)] * 2)

    refusals = errors(results)
    assert all(isinstance(error, services.BillingError) for error in refusals), refusals
    assert all(str(error) == str(ERR_ORDER_NOT_OPEN) for error in refusals)
    assert any(outcome.order.status == Order.Status.PAID for outcome in values(results))
    assert LedgerEntry.objects.filter(kind="charge").count() == 1
    assert wallet_balance(user) == Decimal("70.00")
    assert Payment.objects.filter(status=Payment.Status.SUCCEEDED).count() == 1
    assert Receipt.objects.count() == 1


def test_wallet_and_card_payments_of_the_same_order_at_once_charge_once():
    user, line = verified_customer()
    fund(user, "100")
    order = renewal_order(user, line, basic())

    results = run_together(
        lambda: services.order_pay(order_id=order.pk, method="wallet", actor=user),
        lambda: services.order_pay(
            order_id=order.pk, method="card", actor=user, card={"number": "4242424242424242", "save": False}
        ),
    )

    assert all(isinstance(error, services.BillingError) for error in errors(results)), errors(results)
    assert Payment.objects.filter(status=Payment.Status.SUCCEEDED).count() == 1
    assert Receipt.objects.count() == 1
    charged = (
        LedgerEntry.objects.filter(kind="charge").count() + SandboxCharge.objects.filter(status="succeeded").count()
    )
    assert charged == 1


def test_two_auto_renew_jobs_at_once_charge_each_due_line_exactly_once():
    due = []
    soon = timezone.now() + timedelta(days=2)
    for _ in range(40):
        user, line = verified_customer()
        services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet")
        fund(user, "100")
        due.append((user, line))
    Line.objects.filter(pk__in=[line.pk for _user, line in due]).update(validity_end=soon)

    results = run_together(
        lambda: services.autorenew_run(chunk_size=5),
        lambda: services.autorenew_run(chunk_size=5),
    )

    assert errors(results) == []
    assert sum(counts["renewed"] for counts in values(results)) == 40
    assert LedgerEntry.objects.filter(kind="charge").count() == 40
    per_line = dict(Order.objects.filter(channel=Order.Channel.AUTO).values_list("line_id").annotate(n=Count("pk")))
    assert per_line == {line.pk: 1 for _user, line in due}
    assert Receipt.objects.count() == 40
    assert [wallet_balance(user) for user, _line in due] == [Decimal("70.00")] * 40
    numbers = sorted(Receipt.objects.values_list("sequence", flat=True))
    assert numbers == list(range(1, 41))  # no gaps, no duplicates


def test_two_auto_renew_jobs_at_once_share_one_customers_wallet_correctly(settings):
    settings.MAX_LINES_PER_ID = 10  # one customer with ten lines in service
    user, first = verified_customer()
    lines = [first] + [make_line(owner=user)[0] for _ in range(9)]
    for line in lines:
        services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet")
    fund(user, "150")  # enough for five of the ten lines
    Line.objects.filter(owner=user).update(validity_end=timezone.now() + timedelta(days=1))

    results = run_together(
        lambda: services.autorenew_run(chunk_size=2),
        lambda: services.autorenew_run(chunk_size=2),
    )

    assert errors(results) == []
    assert LedgerEntry.objects.filter(kind="charge").count() == 5
    assert wallet_balance(user) == Decimal("0.00")
    assert Order.objects.filter(channel=Order.Channel.AUTO, status=Order.Status.PAID).count() == 5
