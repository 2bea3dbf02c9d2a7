"""A success that arrives after we recorded the attempt as failed, delivered several times at once.

Real threads on PostgreSQL, through the signed sandbox callback (the handler the webhook
calls). Each delivery takes the payment's row lock; whichever comes first pays the order
or refunds the money, and the others find a final state.
"""

import json
import time
import uuid
from decimal import Decimal

from accounts.models import AuditEvent
from billing import services
from billing.gateways.sandbox import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from billing.models import Order, Payment, Receipt, Refund, SandboxCharge
from billing.webhooks import handle_provider_notification
from tests.billing.conftest import charges_total, fund, renewal_order, verified_customer
from tests.races import RACE_MARKS, errors, run_together, values

pytestmark = RACE_MARKS


def callback(charge, status: str, event_id: str = "") -> tuple[dict, bytes]:
    """The sandbox's signed notification of this trade in ``status``, under its own event id."""
    body = json.dumps(
        {
            "event_id": event_id or f"evt_{uuid.uuid4().hex}",
            "out_trade_no": charge.out_trade_no,
            "trade_status": status,
            "transaction_id": charge.transaction_id,
            "amount": str(charge.amount),
            "currency": "CNY",
        },
        sort_keys=True,
    ).encode()
    timestamp = int(time.time())
    return {SIGNATURE_HEADER: sign(body, timestamp), TIMESTAMP_HEADER: str(timestamp)}, body


def deliver(headers, body):
    return handle_provider_notification(provider="sandbox", headers=headers, body=body)


def failed_alipay_attempt(plans):
    """A renewal whose sandbox Alipay attempt we recorded as failed; the sandbox took the money after all."""
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    outcome = services.order_pay(order_id=order.pk, method="alipay", actor=user)
    charge = SandboxCharge.objects.get(out_trade_no=outcome.payment.out_trade_no)
    deliver(*callback(charge, "failed"))
    assert Payment.objects.get(pk=outcome.payment.pk).status == Payment.Status.FAILED
    SandboxCharge.objects.filter(pk=charge.pk).update(status="succeeded")
    return user, order, outcome.payment, charge


def test_three_deliveries_of_a_late_success_at_once_pay_the_open_order_once(plans):
    _user, order, payment, charge = failed_alipay_attempt(plans)
    same = callback(charge, "succeeded", event_id="evt_retry")

    results = run_together(
        lambda: deliver(*same), lambda: deliver(*same), lambda: deliver(*callback(charge, "succeeded"))
    )

    assert errors(results) == []
    assert sorted(values(results)) == [False, True, True]  # the repeated event id is stored once
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED and payment.failure_overturned_at is not None
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert Receipt.objects.filter(order=order).count() == 1
    assert AuditEvent.objects.filter(verb="order.paid", target_id=str(order.pk)).count() == 1
    assert AuditEvent.objects.filter(verb="payment.failure_overturned", target_id=str(payment.pk)).count() == 1
    assert not Refund.objects.exists()


def test_two_deliveries_of_a_late_success_for_an_expired_order_refund_it_once(plans):
    _user, order, payment, charge = failed_alipay_attempt(plans)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.EXPIRED)

    results = run_together(
        lambda: deliver(*callback(charge, "succeeded")), lambda: deliver(*callback(charge, "succeeded"))
    )

    assert errors(results) == []
    payment.refresh_from_db()
    assert (payment.status, payment.failure_reason) == (Payment.Status.REFUNDED, "order_already_closed")
    refund = Refund.objects.get()  # sent after the commit, once
    assert (refund.payment_id, refund.amount, refund.status) == (payment.pk, payment.amount, Refund.Status.SUCCEEDED)
    assert SandboxCharge.objects.get(pk=charge.pk).status == "refunded"
    assert Order.objects.get(pk=order.pk).status == Order.Status.EXPIRED
    assert not Receipt.objects.exists()


def test_a_late_success_and_a_wallet_payment_at_once_charge_the_customer_once(plans):
    user, order, payment, charge = failed_alipay_attempt(plans)
    fund(user, "30")

    results = run_together(
        lambda: deliver(*callback(charge, "succeeded")),
        lambda: services.order_pay(order_id=order.pk, method="wallet", actor=user),
    )

    # Either the late success paid it and the wallet was refused, or the wallet paid it and the
    # late success went back: the order is paid once, and the customer keeps the rest.
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED).count() == 1
    assert Receipt.objects.filter(order=order).count() == 1
    payment.refresh_from_db()
    if payment.status == Payment.Status.SUCCEEDED:
        assert [type(error) for error in errors(results)] == [services.BillingError]
        assert charges_total(user) == Decimal("0.00")
        assert not Refund.objects.exists()
    else:
        assert errors(results) == []
        assert payment.status == Payment.Status.REFUNDED
        assert charges_total(user) == Decimal("-30.00")
        assert Refund.objects.get().payment_id == payment.pk
