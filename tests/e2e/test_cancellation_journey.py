import pytest

from accounts import services as account_services
from accounts.models import Line, NumberQuarantine, OutboundMessage
from customers.models import CancellationRequest
from tests.factories import PASSWORD, CustomerFactory, make_line, make_staff

# serialized_rollback: the data migrations (roles, plans) survive the flush between tests.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def sign_in(page, login):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()


def test_customer_asks_to_cancel_support_approves_customer_sees_it_cancelled(new_page, live_server):
    customer = CustomerFactory()
    line, _code = make_line(owner=customer)
    account_services.user_mark_real_name_verified(user=customer, actor=None, channel="online")
    make_staff("support", login="support1")

    page = new_page({"width": 390, "height": 844})
    sign_in(page, customer.phone.as_national)
    page.wait_for_url("**/account/")
    page.get_by_test_id("cancel-link").click()
    page.wait_for_url("**/account/cancel/")
    assert page.get_by_test_id("no-blockers").is_visible()  # zero balance, nothing unpaid
    page.fill("input[name=full_name]", "王芳")
    page.select_option("select[name=reason]", "moving_abroad")
    page.fill("input[name=bindings-0-name]", "微信")
    page.check("input[name=bindings-0-unbound]")
    page.get_by_test_id("cancel-submit").click()
    page.wait_for_url("**/account/cancel/?line=*")
    assert page.get_by_test_id("cancellation-existing").get_attribute("data-status") == "open"

    staff = new_page({"width": 1280, "height": 900})
    sign_in(staff, "support1")
    staff.goto("/staff/")
    staff.get_by_test_id("nav-cancellations").click()
    staff.locator("[data-testid=cancellation-queue] a").first.click()
    staff.get_by_test_id("approve-cancellation").click()
    staff.wait_for_url("**/staff/cancellations/")

    page.goto("/account/")
    assert page.get_by_test_id("line-status").get_attribute("data-status") == "cancelled"
    line.refresh_from_db()
    assert line.status == Line.Status.CANCELLED
    assert CancellationRequest.objects.get().status == CancellationRequest.Status.APPROVED
    assert NumberQuarantine.objects.filter(msisdn=line.msisdn).exists()
    # Told by SMS and email as well as in the inbox.
    channels = set(
        OutboundMessage.objects.filter(body__contains=line.msisdn.as_national).values_list("channel", flat=True)
    )
    assert {"sms", "email"} <= channels
