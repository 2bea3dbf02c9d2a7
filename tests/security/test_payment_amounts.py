"""Every place the product believes what a provider (or a counter) says about money, given a wrong amount.

A signed callback, the sandbox cashier's return, a provider query and the store's
counter: each must compare the amount and currency with the payment's own, and refuse
(and log) a mismatch without changing anything. A new path that trusts a provider's
word should get its row here.
"""

import json
import logging
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services
from billing.gateways.sandbox import SIGNATURE_HEADER, TIMESTAMP_HEADER, SandboxGateway, sign
from billing.models import Order, Payment, Plan, ProviderNotification, Receipt, SandboxCharge
from tests.billing.conftest import ID_NUMBER, approved_identity, key, renewal_order, verified_customer
from tests.factories import ServicePointFactory, make_staff

pytestmark = pytest.mark.django_db

WEBHOOK = "/billing/webhooks/sandbox/"


@pytest.fixture
def plans():
    return {plan.code: plan for plan in Plan.objects.filter(is_current=True)}


@pytest.fixture
def waiting(plans):
    """A ¥30 renewal whose Alipay payment waits at the sandbox cashier: (user, order, payment)."""
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    outcome = services.order_pay(order_id=order.pk, method="alipay", actor=user)
    return user, order, outcome.payment


def signed_callback(payment, **changes):
    charge = SandboxCharge.objects.get(out_trade_no=payment.out_trade_no)
    body = json.dumps(
        {
            "event_id": f"evt_{charge.transaction_id}_succeeded",
            "out_trade_no": payment.out_trade_no,
            "trade_status": "succeeded",
            "transaction_id": charge.transaction_id,
            "amount": str(payment.amount),
            "currency": "CNY",
            **changes,
        },
        sort_keys=True,
    ).encode()
    timestamp = int(time.time())
    return body, {SIGNATURE_HEADER: sign(body, timestamp), TIMESTAMP_HEADER: str(timestamp)}


def assert_nothing_paid(order, payment):
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN
    assert not Receipt.objects.exists()


def test_the_right_amount_and_currency_are_accepted(client, waiting):
    _user, order, payment = waiting
    body, headers = signed_callback(payment)

    assert client.post(WEBHOOK, data=body, content_type="application/json", headers=headers).status_code == 200
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": "0.01"},
        {"amount": "30.01"},
        {"amount": "300.00"},
        {"currency": "USD"},
        {"currency": ""},
        {"currency": None},
    ],
    ids=["a-cent", "a-cent-more", "ten-times", "another-currency", "no-currency", "null-currency"],
)
def test_a_signed_callback_with_another_amount_or_currency_is_refused_and_logged(client, waiting, changes, caplog):
    _user, order, payment = waiting
    body, headers = signed_callback(payment, **changes)

    with caplog.at_level(logging.WARNING):
        response = client.post(WEBHOOK, data=body, content_type="application/json", headers=headers)

    assert response.status_code == 400
    assert_nothing_paid(order, payment)
    assert not ProviderNotification.objects.exists()
    assert any(payment.out_trade_no in record.getMessage() for record in caplog.records)


def test_a_callback_without_a_currency_is_refused(client, waiting):
    _user, order, payment = waiting
    body, headers = signed_callback(payment)
    data = json.loads(body)
    del data["currency"]
    body = json.dumps(data, sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {SIGNATURE_HEADER: sign(body, timestamp), TIMESTAMP_HEADER: str(timestamp)}

    assert client.post(WEBHOOK, data=body, content_type="application/json", headers=headers).status_code == 400
    assert_nothing_paid(order, payment)


def test_the_sandbox_cashier_returning_another_amount_pays_nothing(client, waiting):
    user, order, payment = waiting
    SandboxCharge.objects.filter(out_trade_no=payment.out_trade_no).update(amount=Decimal("0.01"))
    client.force_login(user)

    response = client.post(f"/billing/sandbox/cashier/{payment.out_trade_no}/", {"outcome": "pay"})

    assert response.status_code == 302
    assert_nothing_paid(order, payment)


def test_a_provider_query_answering_another_amount_settles_nothing(waiting):
    _user, order, payment = waiting
    SandboxCharge.objects.filter(out_trade_no=payment.out_trade_no).update(amount=Decimal("0.01"), status="succeeded")

    services.payment_settle_by_query(payment_id=payment.pk)
    services.payments_settle(now=order.expires_at + timedelta(minutes=1))

    assert_nothing_paid(order, payment)
    assert services.orders_expire_stale(now=timezone.now() + timedelta(days=1)) == 0  # for a person to look at


def test_the_store_counter_records_the_orders_price_whatever_amount_is_posted(client, plans):
    user, line = verified_customer()
    approved_identity(user, ID_NUMBER)
    clerk = make_staff("clerk", service_point=ServicePointFactory(kind="store"))
    client.force_login(clerk)

    response = client.post(
        "/staff/desk/renew/",
        {
            "msisdn": line.msisdn.as_e164,
            "id_number": ID_NUMBER,
            "plan": plans["basic"].pk,
            "term_months": 1,
            "method": "store_cash",
            "idempotency_key": key(),
            "amount": "0.01",
            "currency": "USD",
        },
    )

    assert response.status_code == 302
    payment = Payment.objects.get()
    assert payment.amount == payment.order.amount == Decimal("30.00")
    assert payment.order.currency == "CNY"
    assert Receipt.objects.get().amount == Decimal("30.00")


def test_the_sandbox_refuses_a_callback_when_no_signing_secret_is_set(client, waiting, settings):
    _user, order, payment = waiting
    settings.PAYMENT_SANDBOX_SECRET = ""
    body = json.dumps({"out_trade_no": payment.out_trade_no}).encode()
    headers = {SIGNATURE_HEADER: "", TIMESTAMP_HEADER: str(int(time.time()))}

    assert client.post(WEBHOOK, data=body, content_type="application/json", headers=headers).status_code == 400
    assert_nothing_paid(order, payment)


def test_the_sandbox_secret_is_not_the_secret_key(settings):
    assert settings.PAYMENT_SANDBOX_SECRET
    assert settings.PAYMENT_SANDBOX_SECRET != settings.SECRET_KEY


def test_an_empty_sandbox_secret_signs_nothing(settings, waiting):
    settings.PAYMENT_SANDBOX_SECRET = ""
    with pytest.raises(Exception, match="PAYMENT_SANDBOX_SECRET"):
        SandboxGateway().complete_at_cashier(out_trade_no=waiting[2].out_trade_no, outcome="pay")
