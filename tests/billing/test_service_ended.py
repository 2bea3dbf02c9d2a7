"""Money after a customer's service has ended (every line cancelled, the account waiting for the purge).

No top-up (or any order) is opened or paid for an account with no service, on the web
and in the app; a payment started before the service ended and confirmed after it is
refunded, as one for an order that can no longer be fulfilled is, and the customer told.
"""

from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone
from django.utils.translation import override

from accounts import services as account_services
from accounts.models import Line, Notification
from billing import services
from billing.gateways.sandbox import signed_notification
from billing.models import LedgerEntry, Order, Payment, Receipt, Refund, SandboxCharge
from billing.services.errors import ERR_LINE_NOT_RENEWABLE, ERR_SERVICE_ENDED, BillingError
from customers import services as customer_services
from tests.api.conftest import AppClient, problem
from tests.billing.conftest import key, page_shows, renewal_order, verified_customer, wallet_balance
from tests.customers.test_cancellation import submit
from tests.factories import CustomerFactory, make_line, make_staff

pytestmark = pytest.mark.django_db


def customer_whose_service_ended():
    """A verified customer whose only line was cancelled through support's approval: (user, line)."""
    user, line = verified_customer()
    request, _created = submit(user, line)
    customer_services.cancellation_request_approve(request_id=request.pk, actor=make_staff("support"))
    user.refresh_from_db()
    line.refresh_from_db()
    assert user.service_ended_at is not None and line.status == Line.Status.CANCELLED
    return user, line


def end_service_behind_the_orders_back(user, line):
    """End the service as an approval that did not see the customer's order would have (the race).

    The approval refuses while a top-up order is open or a payment unsettled, and it now
    takes turns with them on the customer's row; this stands for what came before, or
    for any other way an order outlives the service.
    """
    account_services.line_cancel(line_id=line.pk, actor=None, quarantine_days=settings.NUMBER_QUARANTINE_DAYS)
    account_services.customer_mark_service_ended(user=user, at=timezone.now())


def english_text(message) -> str:
    with override("en"):
        return str(message)


# Opening an order -------------------------------------------------------------------------


def test_a_top_up_is_refused_once_the_customers_service_has_ended_and_nothing_is_created():
    user, _line = customer_whose_service_ended()

    with pytest.raises(BillingError) as refused:
        services.topup_order_create(user=user, amount=Decimal("50"), idempotency_key=key())

    assert str(refused.value) == str(ERR_SERVICE_ENDED)
    assert not Order.objects.filter(user=user, kind=Order.Kind.TOP_UP).exists()


def test_a_renewal_of_the_cancelled_line_is_refused_too(plans):
    user, line = customer_whose_service_ended()

    with pytest.raises(BillingError) as refused:
        renewal_order(user, line, plans["basic"])

    assert str(refused.value) == str(ERR_LINE_NOT_RENEWABLE)
    assert not Order.objects.filter(user=user).exists()


def test_a_customer_who_comes_back_with_a_new_line_may_top_up_again():
    user, _line = customer_whose_service_ended()
    make_line(owner=user)

    order = services.topup_order_create(user=user, amount=Decimal("50"), idempotency_key=key())

    assert (order.kind, order.status, order.amount) == (Order.Kind.TOP_UP, Order.Status.OPEN, Decimal("50.00"))


def test_a_customer_who_never_had_a_line_may_still_top_up():
    order = services.topup_order_create(user=CustomerFactory(), amount=Decimal("50"), idempotency_key=key())

    assert order.status == Order.Status.OPEN


def test_the_top_up_page_says_why_and_offers_no_form_after_the_service_ended(english):
    user, _line = customer_whose_service_ended()
    english.force_login(user)

    page = english.get("/billing/top-up/")
    posted = english.post("/billing/top-up/", {"amount": "50", "idempotency_key": key()})
    tapped = english.post("/billing/top-up/", {"quick_amount": "100", "amount": "", "idempotency_key": key()})

    assert page.status_code == 200
    assert page_shows(page, ERR_SERVICE_ENDED)
    assert 'data-testid="top-up-form"' not in page.content.decode()
    for response in (posted, tapped):
        assert response.status_code == 200
        assert page_shows(response, ERR_SERVICE_ENDED)
        assert response.context["form"].non_field_errors() == [english_text(ERR_SERVICE_ENDED)]
    assert not Order.objects.filter(user=user).exists()


def test_the_apps_top_up_is_refused_with_a_problem_and_a_stable_code():
    user, _line = customer_whose_service_ended()
    app = AppClient()
    app.sign_in_as(user)

    response = app.post_once("/api/v1/orders/top-up/", {"amount": "50.00"})

    assert response.status_code == 422
    body = problem(response)
    assert body["code"] == "billing.service_ended"
    assert body["detail"] == english_text(ERR_SERVICE_ENDED)
    assert not Order.objects.filter(user=user).exists()


def test_the_apps_problem_is_in_chinese_for_a_chinese_app():
    user, _line = customer_whose_service_ended()
    app = AppClient()
    app.language = "zh-hans"
    app.sign_in_as(user)

    body = problem(app.post_once("/api/v1/orders/top-up/", {"amount": "50.00"}))

    with override("zh-hans"):
        chinese = str(ERR_SERVICE_ENDED)
    assert body["detail"] == chinese != english_text(ERR_SERVICE_ENDED)


# Paying an order opened before --------------------------------------------------------------


def test_a_top_up_opened_before_the_service_ended_cannot_be_paid_and_nothing_is_charged(english):
    user, line = verified_customer()
    order = services.topup_order_create(user=user, amount=Decimal("50"), idempotency_key=key())
    end_service_behind_the_orders_back(user, line)
    english.force_login(user)

    with pytest.raises(BillingError) as refused:
        services.order_pay(order_id=order.pk, method="alipay", actor=user)
    page = english.post(
        f"/billing/orders/{order.number}/pay/",
        {"method": "card", "card_number": "4242424242424242", "card_expiry": "12/30", "card_cvc": "123"},
        follow=True,
    )

    assert str(refused.value) == str(ERR_SERVICE_ENDED)
    assert page_shows(page, ERR_SERVICE_ENDED)
    assert not Payment.objects.filter(order=order).exists()
    assert not SandboxCharge.objects.exists()
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN


def test_a_provider_success_after_the_service_ended_is_refunded_and_nothing_reaches_the_wallet():
    """The customer paid at the cashier before the service ended; the provider's word came after."""
    user, line = verified_customer()
    order = services.topup_order_create(user=user, amount=Decimal("80"), idempotency_key=key())
    payment = Payment.objects.create(order=order, method="alipay", amount=order.amount, out_trade_no="P-ENDED-1")
    end_service_behind_the_orders_back(user, line)

    services.payment_record_result(out_trade_no=payment.out_trade_no, status="succeeded", transaction_id="T-1")
    again = services.payment_record_result(out_trade_no=payment.out_trade_no, status="succeeded", transaction_id="T-1")

    payment.refresh_from_db()
    assert (payment.status, payment.failure_reason) == (Payment.Status.REFUNDED, "service_ended")
    assert again.status == Payment.Status.REFUNDED
    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.reason, refund.user_id) == (
        Decimal("80.00"),
        Refund.Reason.DUPLICATE_PAYMENT,
        user.pk,
    )
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN
    assert wallet_balance(user) == Decimal("0.00")
    assert not LedgerEntry.objects.filter(wallet__user=user).exists()
    assert not Receipt.objects.filter(order=order).exists()
    told = Notification.objects.get(user=user, kind="payment.refunded_service_ended")
    assert told.params == {"number": order.number, "amount": "80.00"}


def test_a_sandbox_cashier_payment_completed_after_the_service_ended_is_refunded(
    english, django_capture_on_commit_callbacks
):
    user, line = verified_customer()
    english.force_login(user)
    started = english.post("/billing/top-up/", {"amount": "60", "idempotency_key": key()})
    order = Order.objects.get(number=started["Location"].rstrip("/").rsplit("/", 1)[-1])
    cashier = english.post(f"/billing/orders/{order.number}/pay/", {"method": "alipay"})
    assert Payment.objects.get(order=order).status == Payment.Status.PENDING
    end_service_behind_the_orders_back(user, line)

    with django_capture_on_commit_callbacks(execute=True):
        english.post(cashier["Location"], {"outcome": "pay"})
    headers, body = signed_notification(SandboxCharge.objects.get())
    repeat = english.post("/billing/webhooks/sandbox/", data=body, content_type="application/json", headers=headers)

    assert repeat.status_code == 200
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.failure_reason) == (Payment.Status.REFUNDED, "service_ended")
    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.status) == (Decimal("60.00"), Refund.Status.SUCCEEDED)  # sent after the commit
    assert wallet_balance(user) == Decimal("0.00")
    assert Notification.objects.filter(user=user, kind="payment.refunded_service_ended").count() == 1
