"""Every page the customer and staff journeys visit, checked by axe-core in real Chromium.

A serious or critical violation fails the test, with the rule, the page and the elements
named. Customer pages are checked at the phone size they are designed for (390×844), where
every control must also be at least 44 px tall; staff pages at a desk's 1280×900.
"""

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import Notification, User
from billing.models import SavedCard
from customers.management.commands.seed_demo import DEMO_PASSWORD
from reviews.models import Submission
from tests.e2e.conftest import serious_violations, tab_to

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

MIN_TOUCH_TARGET_PX = 44
DESK_VIEWPORT = {"width": 1280, "height": 900}

PUBLIC_PAGES = [
    "/",
    "/accounts/login/",
    "/accounts/login/code/",
    "/accounts/register/",
    "/accounts/password-reset/",
    "/service-points/",
    "/certificates/verify/",
]
CUSTOMER_PAGES = [
    "/account/",
    "/account/lines/add/",
    "/account/email/",
    "/verification/",
    "/billing/renew/",
    "/billing/top-up/",
    "/notifications/",
    "/support/",
    "/account/cancel/",
]
STAFF_PAGES = {
    "reviewer": ["/staff/", "/staff/reviews/", "/staff/reviews/{submission}/"],
    "senior": ["/staff/customers/", "/staff/customers/{customer}/"],
    "clerk": ["/staff/desk/", "/staff/desk/renew/"],
    "support": ["/staff/support/", "/staff/cancellations/"],
    "admin": ["/staff/audit/"],
}

# Controls whose height is checked on the phone layout. Links inside running text are
# exempt, as WCAG 2.5.8 exempts inline targets.
TOUCH_TARGETS_SCRIPT = """
(minimum) => {
  const selector = [
    'button', 'input:not([type=hidden])', 'select', 'textarea', 'a.btn', '.nav-link', '.navbar-brand',
    '.navbar-toggler', '.dropdown-item', '.page-link', '.form-check-input',
  ].join(', ');
  const small = [];
  for (const element of document.querySelectorAll(selector)) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;  // not shown (e.g. a collapsed menu)
    let target = box;
    // A check box or radio is tapped through its label: the label's box counts.
    if (element.matches('.form-check-input')) {
      const label = element.closest('.form-check') || element.labels?.[0];
      if (label) target = label.getBoundingClientRect();
    }
    if (target.height < minimum - 0.5) {
      small.push(`${element.outerHTML.slice(0, 120)} (${Math.round(target.width)}×${Math.round(target.height)})`);
    }
  }
  return small;
}
"""


def sign_in(page, login):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()


def blocking_violations(page, path):
    response = page.goto(path)
    assert response.status == 200, f"{path} answered {response.status}"
    return serious_violations(page, path)


def small_touch_targets(page, path):
    return [f"{path}: {target}" for target in page.evaluate(TOUCH_TARGETS_SCRIPT, MIN_TOUCH_TARGET_PX)]


@pytest.fixture
def demo_data(db):
    call_command("seed_demo", stdout=StringIO())


def test_public_and_customer_pages_have_no_serious_violations_and_thumb_sized_controls(new_page, demo_data):
    page = new_page()
    problems, small = [], []
    for path in PUBLIC_PAGES:
        problems += blocking_violations(page, path)
        small += small_touch_targets(page, path)
    sign_in(page, "13800138000")
    # A card kept for auto-renew: its section on the account centre and its confirmation page.
    card = SavedCard.objects.create(
        user=User.objects.get(phone="+8613800138000"), token="tok_e2e_accessibility", last4="4242", brand="visa",
        expiry_month=12, expiry_year=2030,
    )  # fmt: skip
    for path in [*CUSTOMER_PAGES, f"/account/cards/{card.pk}/remove/"]:
        problems += blocking_violations(page, path)
        small += small_touch_targets(page, path)
    assert not problems, "axe-core found serious violations:\n" + "\n".join(problems)
    assert not small, f"controls under {MIN_TOUCH_TARGET_PX} px on the phone layout:\n" + "\n".join(small)


@pytest.mark.parametrize("login", sorted(STAFF_PAGES))
def test_staff_pages_have_no_serious_violations(new_page, demo_data, login):
    page = new_page(DESK_VIEWPORT)
    sign_in(page, login)
    problems = []
    submission = Submission.objects.order_by("pk").first()
    for path in STAFF_PAGES[login]:
        problems += blocking_violations(page, path.format(submission=submission.pk, customer=submission.user_id))
    assert not problems, "axe-core found serious violations:\n" + "\n".join(problems)


def test_a_customer_signs_in_reads_messages_and_signs_out_by_keyboard_on_a_phone(new_page, demo_data):
    # The demo's verified customer has unread messages (its approval, its line).
    assert Notification.objects.filter(user__phone="+8613800138000", read_at=None).exists()
    page = new_page()
    page.goto("/accounts/login/")
    tab_to(page, "input[name=username]")
    page.keyboard.type("13800138000")
    tab_to(page, "input[name=password]")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/account/")

    # The unread count is in sight on a phone without opening the folded menu.
    badge = page.get_by_test_id("unread-count-phone")
    assert badge.is_visible()
    assert page.get_by_test_id("nav-notifications").is_hidden()
    tab_to(page, "[data-testid=unread-count-phone]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/notifications/")
    assert page.locator(".notification-unread").count() > 0
    tab_to(page, "form[action$='/notifications/read/'] button")
    # The form posts and is sent back to the same URL: wait for that navigation itself (the
    # page already loaded at /notifications/ would satisfy a wait for the URL or load state).
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_test_id("unread-count-phone").count() == 0
    assert page.locator(".notification-unread").count() == 0

    tab_to(page, ".navbar-toggler")
    page.keyboard.press("Enter")
    tab_to(page, "form[action$='/accounts/logout/'] button")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/account" not in url and "/notifications" not in url)
    assert "您已退出登录" in page.locator("main").inner_text()
    assert page.goto("/account/").url.split("?")[0].endswith("/accounts/login/")


def test_the_skip_link_is_the_first_stop_and_moves_focus_to_the_page(new_page, demo_data):
    page = new_page()
    page.goto("/service-points/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('skip-link')")
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
