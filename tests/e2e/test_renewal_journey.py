import pypdfium2
import pytest
from django.utils import translation

from accounts import services as account_services
from billing.models import Order, Plan
from billing.services.errors import ERR_CARD_DECLINED
from tests.factories import PASSWORD, CustomerFactory, make_line

# serialized_rollback: the data migrations (roles, plans) survive the flush between tests.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_card_declined_then_paid_with_sandbox_alipay_and_receipt_downloaded(page):
    customer = CustomerFactory()
    line, _code = make_line(owner=customer)
    account_services.user_mark_real_name_verified(user=customer, actor=None, channel="online")
    line.refresh_from_db()
    old_end = line.validity_end

    page.goto("/accounts/login/")
    page.fill("input[name=username]", customer.phone.as_national)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/account/")

    page.get_by_test_id("renew-link").click()
    page.wait_for_url("**/billing/renew/")
    standard = Plan.objects.get(code="standard", is_current=True)
    page.check(f"input[name=plan][value='{standard.pk}']")
    page.select_option("select[name=term_months]", "3")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/billing/orders/*/")
    assert page.get_by_test_id("order-amount").inner_text() == "¥180.00"
    expected_end = page.get_by_test_id("new-validity-end").inner_text()

    # A declined card: a clear message, nothing charged, the order still open.
    page.check("input[name=method][value=card]")
    page.fill("input[name=card_number]", "4000 0000 0000 0002")
    page.fill("input[name=card_expiry]", "12/30")
    page.fill("input[name=card_cvc]", "123")
    page.get_by_test_id("pay").click()
    page.wait_for_url("**/billing/orders/*/")
    with translation.override("zh-hans"):  # the browser reads the default language
        declined = str(ERR_CARD_DECLINED)
    assert page.locator(".alert-danger").inner_text().strip() == declined
    assert page.get_by_test_id("order-status").get_attribute("data-status") == "open"

    # Another method: the sandbox Alipay cashier, then back to the paid order.
    page.check("input[name=method][value=alipay]")
    page.get_by_test_id("pay").click()
    page.wait_for_url("**/billing/sandbox/cashier/*/")
    page.get_by_test_id("sandbox-pay").click()
    page.wait_for_url("**/billing/orders/*/")
    assert page.get_by_test_id("order-status").get_attribute("data-status") == "paid"
    assert page.get_by_test_id("new-validity-end").inner_text() == expected_end

    response = page.request.get(page.get_by_test_id("receipt-link").get_attribute("href"))
    assert response.headers["content-type"] == "application/pdf"
    pdf = pypdfium2.PdfDocument(response.body())
    order = Order.objects.get(user=customer)
    assert order.receipt.number in pdf[0].get_textpage().get_text_range()

    page.goto("/account/")
    assert page.get_by_test_id("validity-end").inner_text() == expected_end
    line.refresh_from_db()
    assert line.validity_end > old_end
    assert order.payments.filter(status="succeeded").count() == 1
