import re

import pytest
from django.core import mail

from accounts.models import User
from tests.conftest import last_code_sent_to

# serialized_rollback: the data migrations (roles, reason codes) survive the flush between tests.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_customer_registers_confirms_code_and_lands_in_account_centre(page):
    page.goto("/accounts/register/")
    # Chinese is the default language.
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.fill("input[name=phone]", "138 0013 8000")
    page.fill("input[name=email]", "wang.fang@example.com")
    page.fill("input[name=password1]", "a-long-secret-42")
    page.fill("input[name=password2]", "a-long-secret-42")
    page.click("button[type=submit]:not([name])")
    page.wait_for_url("**/accounts/verify/")

    page.fill("input[name=code]", "000000" if last_code_sent_to("+8613800138000") != "000000" else "111111")
    page.click("form >> button[type=submit]:not([name])")
    assert page.locator(".invalid-feedback, .alert-danger").first.is_visible()

    page.fill("input[name=code]", last_code_sent_to("+8613800138000"))
    page.click("form >> button[type=submit]:not([name])")
    page.wait_for_url("**/account/")
    assert page.get_by_test_id("verification-status").is_visible()
    assert page.get_by_test_id("unread-count").inner_text() == "1"
    user = User.objects.get(phone="+8613800138000")
    assert user.is_active and user.phone_verified_at is not None

    # One click to English.
    page.locator("[data-testid=language-switch] button[value=en]").click()
    page.wait_for_url("**/account/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="My account").is_visible()

    # The email typed at registration waits for the code mailed to it.
    assert User.objects.get(phone="+8613800138000").email is None
    page.get_by_test_id("email").get_by_role("link").click()
    page.wait_for_url("**/account/email/")
    (mailed,) = [message for message in mail.outbox if message.to == ["wang.fang@example.com"]]
    page.fill("input[name=code]", re.search(r"\b(\d{6})\b", mailed.body).group(1))
    page.get_by_test_id("pending-email").get_by_role("button", name="Confirm", exact=True).click()
    page.wait_for_url("**/account/email/")
    assert page.get_by_test_id("account-email").inner_text().startswith("wang.fang@example.com")
    assert User.objects.get(phone="+8613800138000").email == "wang.fang@example.com"
