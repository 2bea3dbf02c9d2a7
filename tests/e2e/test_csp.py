"""The Content Security Policy holds in a real browser: Chromium reports no violation on the key pages.

Each page is opened with a listener for ``securitypolicyviolation`` installed before
any of its scripts run, and the console is watched for "Content Security Policy"
errors; the page's scripts are exercised too (photo pre-check with its blob: preview
and fetch, dashboard bars, photo rotation). A first test proves the listener does
catch a violation, so a silent page means a clean page.
"""

import pytest

from reviews.demo import submit_demo
from tests.factories import PASSWORD, CustomerFactory, ServicePointFactory, make_line, make_staff
from tests.images import jpeg_bytes, resident_id

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const what = event.blockedURI || "inline";
  window.__cspViolations.push(`${event.violatedDirective} blocked ${what} on ${event.documentURI}`);
});
"""


class Watched:
    """A browser page that remembers every CSP violation and CSP console error it saw."""

    def __init__(self, browser, live_server, viewport):
        self.context = browser.new_context(viewport=viewport, base_url=live_server.url)
        self.context.add_init_script(LISTENER)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)  # generous: CI machines are shared
        self.console = []
        self.page.on(
            "console",
            lambda message: self.console.append(message.text) if "Content Security Policy" in message.text else None,
        )
        self.seen = []

    def open(self, path: str):
        response = self.page.goto(path)
        assert response.status == 200, (path, response.status)
        self.page.wait_for_load_state("load")
        return response

    def violations(self) -> list[str]:
        found = self.page.evaluate("window.__cspViolations || []")
        return found + self.console

    def sign_in(self, login: str):
        self.open("/accounts/login/")
        self.page.fill("input[name=username]", login)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.locator("main form button[type=submit]").click()
        self.page.wait_for_load_state("load")

    def close(self):
        self.context.close()


@pytest.fixture
def watched(browser, live_server):
    opened = []

    def make(viewport=None):
        page = Watched(browser, live_server, viewport or {"width": 390, "height": 844})
        opened.append(page)
        return page

    yield make
    for page in opened:
        page.close()


def test_the_listener_catches_what_the_policy_blocks(watched):
    browser_page = watched()
    browser_page.open("/accounts/login/")
    assert browser_page.violations() == []

    browser_page.page.evaluate(
        """() => {
            const box = document.createElement("div");
            box.innerHTML = '<img src="x" onerror="window.__ran = true"><span style="color: red">x</span>';
            document.body.appendChild(box);
            const script = document.createElement("script");
            script.textContent = "window.__ran = true";
            document.body.appendChild(script);
        }"""
    )
    browser_page.page.wait_for_timeout(300)

    assert browser_page.page.evaluate("window.__ran === undefined")
    violations = browser_page.violations()
    assert any("script-src" in violation for violation in violations), violations
    assert any("style-src" in violation for violation in violations), violations


def test_public_pages_raise_no_violation(watched):
    browser_page = watched()
    for path in ("/", "/accounts/login/", "/accounts/register/", "/accounts/password-reset/", "/service-points/"):
        browser_page.open(path)
    browser_page.open("/certificates/verify/")
    assert browser_page.violations() == []


def test_customer_pages_and_the_photo_pre_check_raise_no_violation(watched, tmp_path):
    customer = CustomerFactory()
    make_line(owner=customer)
    browser_page = watched()
    browser_page.sign_in(customer.phone.as_e164)
    for path in ("/account/", "/notifications/", "/billing/renew/", "/billing/top-up/", "/account/cancel/"):
        browser_page.open(path)

    browser_page.open("/verification/submit/")
    photo = tmp_path / "front.jpg"
    photo.write_bytes(jpeg_bytes(800, 600, seed=3))
    browser_page.page.set_input_files("input[name=id_front]", str(photo))
    hints = browser_page.page.locator('[data-hints-for="id_front"] div')
    hints.first.wait_for()
    browser_page.page.wait_for_function(
        "() => !document.querySelector('[data-hints-for=\"id_front\"]').textContent.includes('…')"
    )
    assert browser_page.page.locator('[data-preview-for="id_front"]').is_visible()  # the blob: preview

    assert browser_page.violations() == []


def test_staff_dashboard_review_screen_and_desk_raise_no_violation(watched):
    customer = CustomerFactory()
    make_line(owner=customer)
    submission = submit_demo(user=customer, full_name="张三", id_number=resident_id(sequence="321"), seed=4)
    make_staff("reviewer", login="csp-reviewer")
    make_staff("clerk", login="csp-clerk", service_point=ServicePointFactory())

    reviewer = watched({"width": 1280, "height": 900})
    reviewer.sign_in("csp-reviewer")
    reviewer.open("/staff/")
    reviewer.page.locator(".dashboard-chart").first.wait_for()
    reviewer.open("/staff/reviews/")
    reviewer.open(f"/staff/reviews/{submission.pk}/")
    reviewer.page.get_by_test_id("viewer-faces").click()
    reviewer.page.get_by_test_id("viewer-rotate").click()
    reviewer.page.get_by_test_id("viewer-zoom-in").click()
    reviewer.page.get_by_test_id("viewer-brighter").click()
    for kind in ("id_front", "id_back", "id_handheld"):
        photo = reviewer.page.locator(f"#photo-{kind}")
        reviewer.page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=photo.element_handle())
    assert reviewer.violations() == []

    clerk = watched({"width": 1280, "height": 900})
    clerk.sign_in("csp-clerk")
    clerk.open("/staff/desk/")
    clerk.open("/staff/desk/renew/")
    assert clerk.violations() == []


def test_two_factor_enrolment_with_its_qr_code_raises_no_violation(watched, settings):
    settings.HEYON_REQUIRE_STAFF_2FA = True
    make_staff("reviewer", login="csp-2fa")
    browser_page = watched({"width": 1280, "height": 900})
    browser_page.sign_in("csp-2fa")
    browser_page.page.wait_for_url("**/staff/2fa/**")
    qr = browser_page.page.get_by_test_id("totp-qr")
    qr.wait_for()
    # The QR code is a data: image the policy allows, and it does render (the SVG carries its xmlns).
    browser_page.page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    assert browser_page.violations() == []


def test_admin_raises_no_violation(watched):
    from accounts.models import User

    User.objects.create_superuser(username="csp-admin", password=PASSWORD)
    browser_page = watched({"width": 1280, "height": 900})
    browser_page.sign_in("csp-admin")
    for path in ("/admin/", "/admin/accounts/user/", "/admin/reviews/submission/"):
        browser_page.open(path)
    assert browser_page.violations() == []
