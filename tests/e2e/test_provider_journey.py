"""Real providers' adapters end to end in Chromium, against the local fakes of Alipay and WeChat Pay.

The fakes call the live server back over HTTP with signed notifications, as the providers do.
"""

from decimal import Decimal

import pytest

from accounts import services as account_services
from billing import services as billing_services
from billing.models import LedgerEntry, Order, Plan, Refund, Wallet
from customers import services as customer_services
from customers.models import CancellationRequest
from tests.billing.fake_providers.fixtures import post_over_http
from tests.factories import PASSWORD, CustomerFactory, make_line, make_staff

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture
def over_http(settings, live_server):
    settings.PAYMENT_CALLBACK_BASE_URL = live_server.url


def verified_customer():
    customer = CustomerFactory()
    line, _code = make_line(owner=customer)
    account_services.user_mark_real_name_verified(user=customer, actor=None, channel="online")
    line.refresh_from_db()
    return customer, line


def sign_in(page, login):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/account/")


def test_a_renewal_paid_at_alipays_cashier_comes_back_paid_with_a_receipt(new_page, alipay_fake, over_http):
    alipay_fake.deliver = post_over_http
    customer, line = verified_customer()
    old_end = line.validity_end
    page = new_page(DESKTOP)
    sign_in(page, customer.phone.as_national)

    page.get_by_test_id("renew-link").click()
    page.wait_for_url("**/billing/renew/")
    page.check(f"input[name=plan][value='{Plan.objects.get(code='basic', is_current=True).pk}']")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/billing/orders/*/")
    page.check("input[name=method][value=alipay]")
    page.get_by_test_id("pay").click()

    # Alipay's cashier (the fake checked the SDK's RSA2 signature before showing it).
    page.wait_for_url(f"{alipay_fake.base_url}/gateway.do?**")
    assert page.get_by_test_id("fake-alipay-amount").inner_text() == "¥30.00"
    page.get_by_test_id("fake-alipay-pay").click()

    page.wait_for_url("**/billing/orders/*/?out_trade_no=*")
    assert page.get_by_test_id("order-status").get_attribute("data-status") == "paid"
    order = Order.objects.get(user=customer)
    payment = order.payments.get()
    assert (payment.method, payment.status) == ("alipay", "succeeded")
    # Paid by the signed notification, before the customer came back.
    assert alipay_fake.requests.count("alipay.trade.query") == 0
    response = page.request.get(page.get_by_test_id("receipt-link").get_attribute("href"))
    assert response.headers["content-type"] == "application/pdf"
    line.refresh_from_db()
    assert line.validity_end > old_end


def test_a_balance_refunded_before_a_cancellation_goes_back_through_wechat_pay(new_page, wechat_fake, over_http):
    wechat_fake.deliver = post_over_http
    customer, _line = verified_customer()
    top_up = billing_services.topup_order_create(user=customer, amount=Decimal("50.00"), idempotency_key="e2e-1")
    outcome = billing_services.order_pay(order_id=top_up.pk, method="wechat", actor=customer, device="phone")
    wechat_fake.pay(outcome.payment.out_trade_no)  # the callback credits the wallet over HTTP
    assert Wallet.objects.get(user=customer).balance == Decimal("50.00")

    page = new_page()
    sign_in(page, customer.phone.as_national)
    page.get_by_test_id("cancel-link").click()
    page.wait_for_url("**/account/cancel/**")
    page.get_by_test_id("refund-balance").click()
    page.wait_for_url("**/account/refund-balance/**")
    page.get_by_test_id("refund-confirm-button").click()
    page.wait_for_url("**/account/cancel/**")

    # WeChat Pay accepted the refund and is processing it: no ledger entry yet, the line not cancellable yet.
    assert "POST /v3/refund/domestic/refunds" in wechat_fake.requests
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.PENDING
    assert page.get_by_test_id("blocker-refund_pending").is_visible()
    assert not LedgerEntry.objects.filter(kind="refund").exists()

    wechat_fake.confirm_refund(refund.out_refund_no)  # REFUND.SUCCESS, signed and encrypted, to the webhook
    assert Refund.objects.get().status == Refund.Status.SUCCEEDED
    page.reload()
    assert page.get_by_test_id("no-blockers").is_visible()
    page.fill("input[name=full_name]", "王芳")
    page.select_option("select[name=reason]", "moving_abroad")
    page.fill("input[name=bindings-0-name]", "微信")
    page.check("input[name=bindings-0-unbound]")
    page.get_by_test_id("cancel-submit").click()
    page.wait_for_url("**/account/cancel/?line=*")

    request = CancellationRequest.objects.get()
    customer_services.cancellation_request_approve(request_id=request.pk, actor=make_staff("support"))
    entry = LedgerEntry.objects.get(kind="refund")
    assert (entry.amount, entry.reference) == (Decimal("-50.00"), refund.out_refund_no)
    assert Wallet.objects.get(user=customer).balance == Decimal("0.00")
    assert wechat_fake.refunds[refund.out_refund_no]["refund"] == 5000
