"""A payment given back says how its refund stands at the provider, not only that it was asked for.

A success for an order that can no longer take it ends the payment ``refunded`` the moment
its refund is *requested*; the provider may still refuse it. The payment keeps its status
(the money is not the order's), and wherever the payment is shown — the app's order, the
admin — its refund's actual state shows beside it.
"""

import pytest

from billing import services
from billing.gateways.sandbox import SandboxGateway
from billing.models import Order, Payment, Refund
from tests.api.conftest import API, AppClient
from tests.billing.conftest import renewal_order
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def given_back(customer_line, plans):
    """A payment that arrived for an expired order: ``refunded``, its refund requested, not sent yet."""
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    alipay = services.order_pay(order_id=order.pk, method="alipay", actor=user)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.EXPIRED)
    SandboxGateway().complete_at_cashier(out_trade_no=alipay.payment.out_trade_no, outcome="pay")
    payment = Payment.objects.get(pk=alipay.payment.pk)
    assert payment.status == Payment.Status.REFUNDED
    return user, order, payment, Refund.objects.get(payment=payment)


def app_payment(user, order) -> dict:
    app = AppClient()
    app.sign_in_as(user)
    response = app.get(f"{API}orders/{order.number}/")
    assert response.status_code == 200, response.content
    [payment] = response.json()["payments"]
    return payment


@pytest.mark.parametrize(
    ("provider_says", "refund_status"),
    [(None, "requested"), ("pending", "pending"), ("succeeded", "succeeded"), ("failed", "failed")],
)
def test_the_apps_order_shows_how_the_refund_of_a_payment_given_back_stands(given_back, provider_says, refund_status):
    user, order, _payment, refund = given_back
    if provider_says:
        services.refund_record_result(
            out_refund_no=refund.out_refund_no, status=provider_says, failure_reason="ACQ.TRADE_HAS_CLOSE"
        )

    shown = app_payment(user, order)

    assert (shown["status"], shown["refund_status"]) == ("refunded", refund_status)


def test_a_payment_never_given_back_has_no_refund_status(customer_line, plans):
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    alipay = services.order_pay(order_id=order.pk, method="alipay", actor=user)
    SandboxGateway().complete_at_cashier(out_trade_no=alipay.payment.out_trade_no, outcome="pay")

    shown = app_payment(user, order)

    assert (shown["status"], shown["refund_status"]) == ("succeeded", None)


def test_admin_shows_a_refused_refund_beside_the_payment_given_back(client, english, given_back):
    _user, order, payment, refund = given_back
    services.refund_record_result(out_refund_no=refund.out_refund_no, status="failed", failure_reason="closed")
    client.force_login(make_staff("admin"))

    payments = client.get("/admin/billing/payment/")
    one = client.get(f"/admin/billing/payment/{payment.pk}/change/")
    of_order = client.get(f"/admin/billing/order/{order.pk}/change/")

    for page in (payments, one, of_order):
        assert page.status_code == 200
        assert "Refused by the provider" in page.content.decode()
