"""Every main customer journey with the keyboard alone, on a 390×844 phone in Chromium.

Tab and Shift+Tab move, Enter and Space press, the arrow keys choose, and the keyboard
types: no mouse click, no request posted by the test, no ``page.goto`` after the first
page. Every control the focus stops at must show it (``tab_to``), and every page the
journey visits must pass axe-core (``visited``); key screens go to var/screenshots/.
"""

import json
import re
import zipfile
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import Line, User
from billing.models import LedgerEntry, LineService, Order, Plan
from customers.management.commands.seed_demo import DEMO_PASSWORD
from customers.models import CancellationRequest, SupportThread
from reviews.models import Submission
from tests.conftest import last_code_sent_to
from tests.e2e.conftest import key_screen, serious_violations, tab_to
from tests.factories import make_line
from tests.images import jpeg_bytes, resident_id

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

DEMO_CUSTOMER = "+8613800138000"  # seed_demo's verified customer: one active line, ¥100 in the wallet


def visited(page, screen: str = "") -> None:
    """The page just reached passes axe-core; a key screen is saved for people too."""
    page.wait_for_load_state()
    if screen:
        key_screen(page, f"keyboard-{screen}")
        return
    serious = serious_violations(page)
    assert not serious, "axe-core found serious violations:\n" + "\n".join(serious)


def press_and_wait(page, key: str, url_pattern, screen: str = "") -> None:
    """Press ``key`` on the focused control, wait for the page it opens and check it (``visited``)."""
    with page.expect_navigation(url=url_pattern):
        page.keyboard.press(key)
    visited(page, screen)


def focused(page, selector: str) -> bool:
    return page.evaluate("(selector) => document.activeElement.matches(selector)", selector)


def sign_in_by_keyboard(page, phone: str, screen: str = "") -> None:
    """Open the sign-in page (the journey's only ``goto``) and sign in with the keyboard."""
    page.goto("/accounts/login/")
    visited(page)
    tab_to(page, "input[name=username]")
    page.keyboard.type(phone)
    tab_to(page, "input[name=password]")
    page.keyboard.type(DEMO_PASSWORD)
    press_and_wait(page, "Enter", "**/account/", screen)


@pytest.fixture
def demo_data(db):
    call_command("seed_demo", stdout=StringIO())


def test_a_new_customer_registers_adds_a_line_and_submits_verification_by_keyboard(new_page, tmp_path):
    _line, code = make_line()
    page = new_page()

    page.goto("/accounts/register/")
    visited(page, "register")
    tab_to(page, "input[name=phone]")
    page.keyboard.type("133 1234 5678")
    tab_to(page, "input[name=password1]")  # past the optional email, for now
    page.keyboard.type("a-long-secret-42")
    tab_to(page, "input[name=password2]")
    page.keyboard.type("a-long-secret-42")
    tab_to(page, "input[name=email]", backwards=True)  # back up to give the email after all
    page.keyboard.type("zhou.xun@example.com")
    press_and_wait(page, "Enter", "**/accounts/verify/")

    # A mistyped code is sent back with the focus on the code, its message beside it; the
    # code from the SMS, typed over it, and Enter confirms it.
    code_sent = last_code_sent_to("+8613312345678")
    tab_to(page, "input[name=code]")
    page.keyboard.type("000000" if code_sent != "000000" else "111111")
    press_and_wait(page, "Enter", "**/accounts/verify/")
    assert focused(page, "input[name=code].is-invalid")
    assert page.locator("#id_code_error").is_visible()
    page.keyboard.press("Control+A")
    page.keyboard.type(code_sent)
    press_and_wait(page, "Enter", "**/account/")
    user = User.objects.get(phone="+8613312345678")
    # The email waits for the code mailed to it (tests/e2e/test_registration_journey.py proves it).
    assert user.phone_verified_at is not None and user.pending_email == "zhou.xun@example.com"

    # Add the line by its activation code.
    tab_to(page, "a[href='/account/lines/add/']")
    press_and_wait(page, "Enter", "**/account/lines/add/")
    tab_to(page, "input[name=activation_code]")
    page.keyboard.type(code.lower())
    press_and_wait(page, "Enter", "**/account/")
    assert user.lines.get().status == Line.Status.INACTIVE
    assert page.get_by_test_id("line-status").get_attribute("data-status") == "inactive"

    # Real-name verification: typed fields, then the three photos.
    tab_to(page, "[data-testid=verification-status] a[href='/verification/']")
    press_and_wait(page, "Enter", "**/verification/")
    tab_to(page, "a[href='/verification/submit/']")
    press_and_wait(page, "Enter", "**/verification/submit/")
    tab_to(page, "input[name=full_name]")
    page.keyboard.type("周迅")
    tab_to(page, "input[name=id_number]")
    page.keyboard.type(resident_id(sequence="842"))
    tab_to(page, "input[name=contact_phone]")  # filled in with the account's number
    assert page.locator("input[name=contact_phone]").input_value() == "133 1234 5678"
    for offset, kind in enumerate(("id_front", "id_back", "id_handheld")):
        # A keyboard user reaches the file input by Tab and opens the system's file picker
        # with Enter or Space; Playwright cannot drive that native dialog, so the test gives
        # the focused input its file, as the picker would.
        tab_to(page, f"input[name={kind}]")
        path = tmp_path / f"{kind}.jpg"
        path.write_bytes(jpeg_bytes(seed=90 + offset))
        page.locator(":focus").set_input_files(str(path))
        # The instant check's answer (good, or its warnings) is announced under the input.
        page.locator(f"[data-hints-for={kind}] :is(.text-success, .text-warning-emphasis)").wait_for()
    visited(page, "verification-form")
    tab_to(page, "[data-testid=submit-verification]")
    press_and_wait(page, "Enter", "**/verification/")
    assert page.get_by_test_id("verification-current-status").get_attribute("data-status") == "pending"
    submission = Submission.objects.get(user=user)
    assert submission.full_name == "周迅" and submission.photos.count() == 3


def open_menu_link(page, href: str, url_pattern) -> None:
    """On a phone the header's links are folded away: open the menu with Enter, then follow ``href``."""
    tab_to(page, ".navbar-toggler")
    page.keyboard.press("Enter")
    assert page.locator(".navbar-toggler").get_attribute("aria-expanded") == "true"
    tab_to(page, f"#main-nav a.nav-link[href='{href}']")
    press_and_wait(page, "Enter", url_pattern)


def choose_radio(page, name: str, value: str, *, limit: int = 6) -> None:
    """Tab into a radio group (focus lands on the chosen one), then move with the arrow keys to ``value``."""
    tab_to(page, f"input[type=radio][name={name}]")
    for _ in range(limit):
        if focused(page, f"input[name={name}][value='{value}']"):
            break
        page.keyboard.press("ArrowDown")
    assert page.locator(f"input[name={name}][value='{value}']").is_checked()


def choose_option(page, name: str, value: str) -> None:
    """Tab to a select and step through its options with the arrow keys (it stays closed) to ``value``."""
    tab_to(page, f"select[name={name}]")
    select = page.locator(f"select[name={name}]")
    target = select.evaluate("(s, value) => [...s.options].findIndex((option) => option.value === value)", value)
    assert target >= 0, f"{value!r} is not an option of {name}"
    steps = target - select.evaluate("s => s.selectedIndex")
    for _ in range(abs(steps)):
        page.keyboard.press("ArrowDown" if steps > 0 else "ArrowUp")
    assert select.input_value() == value


def test_a_customer_renews_pays_in_the_sandbox_tops_up_and_turns_auto_renew_on_by_keyboard(new_page, demo_data):
    user = User.objects.get(phone=DEMO_CUSTOMER)
    line = user.lines.get()
    old_end = line.validity_end
    page = new_page()
    sign_in_by_keyboard(page, "13800138000", "account")

    # Renew: a plan chosen with the arrow keys, a term from the select, then the sandbox's Alipay.
    tab_to(page, "[data-testid=renew-link]")
    press_and_wait(page, "Enter", "**/billing/renew/")
    standard = Plan.objects.get(code="standard", is_current=True)
    choose_radio(page, "plan", str(standard.pk))
    choose_option(page, "term_months", "3")
    tab_to(page, "main form button[type=submit]")
    press_and_wait(page, "Enter", re.compile(r".*/billing/orders/[^/]+/$"))
    order = Order.objects.get(user=user, kind="renewal")
    assert order.term_months == 3 and order.status == "open"
    # ¥100 in the wallet does not cover ¥180: the sandbox's Alipay is chosen already.
    assert page.locator("input[name=method][value=alipay]").is_checked()
    visited(page, "renewal-order")
    tab_to(page, "[data-testid=pay]")
    press_and_wait(page, "Enter", "**/billing/sandbox/cashier/*/")
    tab_to(page, "[data-testid=sandbox-pay]")
    press_and_wait(page, "Enter", re.compile(r".*/billing/orders/[^/]+/$"))
    assert page.get_by_test_id("order-status").get_attribute("data-status") == "paid"
    line.refresh_from_db()
    assert line.validity_end > old_end

    # Top up by a quick amount; then, from the account centre again, by a typed amount paid by card.
    tab_to(page, "a[href='/account/']")
    press_and_wait(page, "Enter", "**/account/")
    tab_to(page, "a[href='/billing/top-up/']")
    press_and_wait(page, "Enter", "**/billing/top-up/")
    tab_to(page, "[data-testid=quick-amount-100]")
    press_and_wait(page, "Space", re.compile(r".*/billing/orders/[^/]+/$"))
    assert page.get_by_test_id("order-amount").inner_text() == "¥100.00"
    open_menu_link(page, "/account/", "**/account/")
    tab_to(page, "a[href='/billing/top-up/']")
    press_and_wait(page, "Enter", "**/billing/top-up/")
    tab_to(page, "input[name=amount]")
    page.keyboard.type("0.5")
    press_and_wait(page, "Enter", "**/billing/top-up/")  # under ¥1: sent back, the focus on the amount
    assert focused(page, "input[name=amount].is-invalid")
    assert not Order.objects.filter(user=user, kind="topup", amount=Decimal("0.5")).exists()
    page.keyboard.press("Control+A")
    page.keyboard.type("75")
    press_and_wait(page, "Enter", re.compile(r".*/billing/orders/[^/]+/$"))
    assert page.get_by_test_id("order-amount").inner_text() == "¥75.00"
    choose_radio(page, "method", "card")
    assert page.get_by_test_id("card-fields").is_visible()  # shown for the card, reachable by Tab
    tab_to(page, "input[name=card_number]")
    page.keyboard.type("4242 4242 4242 4242")
    tab_to(page, "input[name=card_expiry]")
    page.keyboard.type("12/30")
    tab_to(page, "input[name=card_cvc]")
    page.keyboard.type("123")
    visited(page, "top-up-card")
    press_and_wait(page, "Enter", re.compile(r".*/billing/orders/[^/]+/$"))
    assert page.get_by_test_id("order-status").get_attribute("data-status") == "paid"
    amounts = sorted(Order.objects.filter(user=user, kind="topup").values_list("amount", "status"))
    assert amounts == [(Decimal("75.00"), "paid"), (Decimal("100.00"), "open")]

    # Auto-renew: the switch with Space, the method from its select, then Save.
    tab_to(page, "a[href='/account/']")
    press_and_wait(page, "Enter", "**/account/")
    tab_to(page, f"#ar-{line.pk}")
    page.keyboard.press("Space")
    assert page.locator(f"#ar-{line.pk}").is_checked()
    choose_option(page, "method", "wallet_then_card")
    tab_to(page, f"form[action$='/billing/lines/{line.pk}/auto-renew/'] button[type=submit]")
    press_and_wait(page, "Enter", "**/account/", "auto-renew-on")
    service = LineService.objects.get(line=line)
    assert service.auto_renew and service.auto_renew_method == "wallet_then_card"
    assert page.locator(f"#ar-{line.pk}").is_checked()


def test_a_customer_messages_support_downloads_their_data_and_asks_to_cancel_by_keyboard(new_page, demo_data):
    user = User.objects.get(phone=DEMO_CUSTOMER)
    line = user.lines.get()
    page = new_page()
    sign_in_by_keyboard(page, "13800138000")

    # A message to support, from the link in every page's footer.
    tab_to(page, "[data-testid=footer-support]")
    press_and_wait(page, "Enter", "**/support/")
    choose_option(page, "topic", "renewal")
    tab_to(page, "textarea[name=body]")
    page.keyboard.type("我的流量怎么算的？")
    page.keyboard.press("Enter")  # a new line in the message, not a submit
    page.keyboard.type("谢谢")
    visited(page, "support-message")
    tab_to(page, "[data-testid=support-send]")
    press_and_wait(page, "Enter", re.compile(r".*/support/\d+/$"))
    thread = SupportThread.objects.get(customer=user)
    assert thread.messages.get().body.splitlines() == ["我的流量怎么算的？", "谢谢"]

    # The data export: the account centre's link downloads a ZIP.
    open_menu_link(page, "/account/", "**/account/")
    tab_to(page, "a[href='/account/export/']")
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    archive = zipfile.ZipFile(download.value.path())
    assert DEMO_CUSTOMER in json.dumps(json.loads(archive.read("data.json")))

    # Cancellation: the balance is refunded first (a confirmation page), then the request.
    tab_to(page, "[data-testid=cancel-link]")
    press_and_wait(page, "Enter", "**/account/cancel/**", "cancel-blocked")
    tab_to(page, "[data-testid=refund-balance]")
    press_and_wait(page, "Enter", "**/account/refund-balance/**", "refund-confirm")
    tab_to(page, "[data-testid=refund-confirm-button]")
    press_and_wait(page, "Enter", re.compile(r".*/account/cancel/\?line=\d+$"))
    assert LedgerEntry.objects.get(wallet__user=user, kind="refund").amount == Decimal("-100.00")
    assert page.get_by_test_id("no-blockers").is_visible()
    tab_to(page, "input[name=full_name]")
    page.keyboard.type("李雷")
    tab_to(page, "input[name=phone]")
    page.keyboard.type("130 1234 5678")  # neither the account's nor the line's number
    choose_option(page, "reason", "moving_abroad")
    tab_to(page, "textarea[name=reason_detail]")
    page.keyboard.type("下个月出国")
    tab_to(page, "input[name=bindings-0-name]")
    page.keyboard.type("微信")
    tab_to(page, "input[name=bindings-0-unbound]")
    page.keyboard.press("Space")
    visited(page, "cancel-form")
    tab_to(page, "[data-testid=cancel-submit]")
    press_and_wait(page, "Enter", "**/account/cancel/**", "cancel-form-sent-back")
    # Sent back with the focus on the number, the answers kept; nothing is filed.
    assert focused(page, "input[name=phone].is-invalid")
    assert page.locator("input[name=bindings-0-unbound]").is_checked()
    assert not CancellationRequest.objects.exists()
    page.keyboard.press("Control+A")
    page.keyboard.type("138 0013 8000")
    press_and_wait(page, "Enter", re.compile(r".*/account/cancel/\?line=\d+$"))
    assert page.get_by_test_id("cancellation-existing").get_attribute("data-status") == "open"
    request = CancellationRequest.objects.get(line=line)
    assert (request.reason, request.reason_detail, request.status) == ("moving_abroad", "下个月出国", "open")
