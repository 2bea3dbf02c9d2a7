"""A customer reads their inbox in English after switching, messages written in Chinese before included."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import message_kinds
from accounts import services as account_services
from accounts.models import Notification, OutboundMessage
from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD, CustomerFactory, make_line

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_inbox_reads_in_english_after_the_switch_including_older_messages(page):
    customer = CustomerFactory(email=None)
    line, _code = make_line(owner=customer)
    number = line.msisdn.as_national
    account_services.notify(user=customer, kind=message_kinds.LINE_EXPIRED, params={"number": number})
    account_services.notify(
        user=customer,
        kind=message_kinds.VERIFICATION_REJECTED,
        params={
            "reasons": message_kinds.texts_param({"zh-hans": "照片模糊", "en": "The photo is blurry"}),
            "follow_up": message_kinds.msgid_param(message_kinds.FOLLOW_UP_RETRY),
        },
    )
    Notification.objects.create(user=customer, legacy_subject="系统维护通知", legacy_body="今晚 23:00 起维护一小时。")

    page.goto("/accounts/login/")
    page.fill("input[name=username]", customer.phone.as_national)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/account/")
    assert "您的号码已到期" in page.get_by_test_id("recent-notification-subject").all_inner_texts()
    page.locator(".navbar-toggler").click()
    page.get_by_test_id("nav-notifications").click()
    page.wait_for_url("**/notifications/")
    assert "您的号码已到期" in page.get_by_test_id("notification-subject").all_inner_texts()
    screenshot(page, "inbox-language-1-chinese")

    page.get_by_test_id("language-switch").get_by_role("button", name="English").click()
    page.wait_for_url("**/notifications/")

    subjects = page.get_by_test_id("notification-subject").all_inner_texts()
    bodies = page.get_by_test_id("notification-body").all_inner_texts()
    assert "Your line has expired" in subjects and "Real-name verification not approved" in subjects
    assert f"Line {number} has expired. Renew it to bring it back into service." in bodies
    assert "Reason: The photo is blurry. Please take new photos and submit again." in bodies
    assert "系统维护通知" in subjects  # an old message keeps the text it was written with
    assert page.locator("html").get_attribute("lang") == "en"
    screenshot(page, "inbox-language-2-english")

    # A message written after the switch: in English in the inbox and by SMS.
    customer.refresh_from_db()
    assert customer.language == "en"  # remembered on the account
    ends = message_kinds.date_param(timezone.now() + timedelta(days=7))
    account_services.notify(user=customer, kind=message_kinds.LINE_ENDS_SOON, params={"number": number, "end": ends})
    page.reload()
    assert page.get_by_test_id("notification-subject").first.inner_text() == "Your line ends soon"
    sms = OutboundMessage.objects.filter(channel="sms", kind="line.ends_soon").get()
    assert sms.language == "en" and sms.body.startswith("[Heyon] Your line ends soon: ")

    page.goto("/account/")
    assert "Your line ends soon" in page.get_by_test_id("recent-notification-subject").all_inner_texts()
    screenshot(page, "inbox-language-3-account-centre-english")
