"""Customer journeys through the forms of issue 16, on a 390×844 phone in Chromium, in Chinese and in English.

Each journey taps the page's own buttons and links (no request is posted by the test) and
saves its key screens to var/screenshots/. The staff side and the starting state (a
verified customer, a rejected attempt) are set up through the services.
"""

import re
from decimal import Decimal

import pytest

from accounts import services as account_services
from billing import services as billing_services
from billing.models import LedgerEntry, Order, Plan
from customers.models import CancellationRequest
from reviews import services as review_services
from reviews.demo import demo_photo_set
from reviews.models import Submission
from tests.e2e.conftest import key_screen
from tests.factories import PASSWORD, CustomerFactory, make_line, make_staff
from tests.images import jpeg_bytes, resident_id

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
LANGUAGES = ["zh-hans", "en"]
TEXT = {
    "zh-hans": {"top_up": "充值金额", "kept": "已保留", "region": "不是有效的地区代码", "checksum": "校验位"},
    "en": {
        "top_up": "Top-up amount",
        "kept": "Kept:",
        "region": "not a known region code",
        "checksum": "last character",
    },
}


@pytest.fixture
def phone(new_page, live_server):
    def open_in(language):
        page = new_page({"width": 390, "height": 844})
        page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
        return page

    return open_in


def sign_in(page, user):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.phone.as_national)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/account/")


def verified_customer():
    user = CustomerFactory()
    line, _code = make_line(owner=user)
    account_services.user_mark_real_name_verified(user=user, actor=None, channel="online")
    return user, line


@pytest.mark.parametrize("language", LANGUAGES)
def test_top_up_by_quick_button_then_by_typed_amount(phone, language):
    user, _line = verified_customer()
    page = phone(language)
    sign_in(page, user)

    page.locator("a[href='/billing/top-up/']").first.click()
    page.wait_for_url("**/billing/top-up/")
    key_screen(page, f"top-up-{language}")
    page.get_by_test_id("quick-amount-100").click()
    page.wait_for_url("**/billing/orders/*/")
    assert page.get_by_test_id("order-amount").inner_text() == "¥100.00"
    assert page.get_by_test_id("order-amount-label").inner_text() == TEXT[language]["top_up"]
    # A method is chosen already, and the card's fields show only for the card.
    assert page.locator("input[name=method][value=alipay]").is_checked()
    assert not page.get_by_test_id("card-fields").is_visible()
    page.locator("input[name=method][value=card]").check()
    assert page.get_by_test_id("card-fields").is_visible()
    box = page.get_by_test_id("order-summary").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390  # the order card fits the screen
    key_screen(page, f"top-up-order-card-{language}")

    page.go_back()
    page.wait_for_url("**/billing/top-up/")
    page.reload()  # a fresh form: its idempotency key names a new request
    page.fill("input[name=amount]", "75")
    page.press("input[name=amount]", "Enter")  # Enter submits the typed amount, not a quick one
    page.wait_for_url("**/billing/orders/*/")
    assert page.get_by_test_id("order-amount").inner_text() == "¥75.00"
    assert sorted(Order.objects.filter(user=user).values_list("amount", flat=True)) == [Decimal("75"), Decimal("100")]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_wrong_id_number_keeps_the_photos(phone, language, tmp_path):
    user = CustomerFactory()
    make_line(owner=user)
    page = phone(language)
    sign_in(page, user)
    page.goto("/verification/")
    page.locator("a[href='/verification/submit/']").first.click()
    page.wait_for_url("**/verification/submit/")

    page.fill("input[name=full_name]", "王小明")
    good = resident_id()
    page.fill("input[name=id_number]", good[:-1] + ("0" if good[-1] != "0" else "1"))
    page.locator("input[name=contact_phone]").click()  # leaving the field checks its last digit
    assert TEXT[language]["checksum"] in page.get_by_test_id("id-number-live-check").inner_text()

    page.fill("input[name=id_number]", resident_id(region="990101"))  # a right check digit, an unknown region
    for offset, kind in enumerate(("id_front", "id_back", "id_handheld")):
        path = tmp_path / f"{kind}.jpg"
        path.write_bytes(jpeg_bytes(seed=70 + offset))
        page.set_input_files(f"input[name={kind}]", str(path))
    page.get_by_test_id("submit-verification").click()
    page.wait_for_load_state()
    assert TEXT[language]["region"] in page.locator("#submission-form").inner_text()
    for kind in ("id_front", "id_back", "id_handheld"):
        kept = page.get_by_test_id(f"kept-{kind}")
        assert TEXT[language]["kept"] in kept.inner_text()
        assert kept.locator("img").evaluate("img => img.naturalWidth") > 0
    key_screen(page, f"verification-photos-kept-{language}")

    page.fill("input[name=id_number]", good)
    page.get_by_test_id("submit-verification").click()
    page.wait_for_url("**/verification/")
    assert page.get_by_test_id("verification-current-status").get_attribute("data-status") == "pending"
    assert Submission.objects.get(user=user).photos.count() == 3


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_handheld_rejection_is_fixed_by_replacing_that_photo_only(phone, language, tmp_path):
    user = CustomerFactory()
    make_line(owner=user)
    first = review_services.submission_create(
        user=user,
        full_name="王小明",
        id_number=resident_id(sequence="611"),
        contact_phone=user.phone.as_e164,
        photos=demo_photo_set(seed=61),
        actor=user,
    )
    reviewer = make_staff("reviewer")
    review_services.submission_claim(submission_id=first.pk, actor=reviewer)
    review_services.submission_reject(submission_id=first.pk, actor=reviewer, reason_codes=["HANDHELD_BAD"])
    page = phone(language)
    sign_in(page, user)

    page.goto("/verification/")
    page.get_by_test_id("resubmit").click()
    page.wait_for_url("**/verification/submit/")
    assert page.get_by_test_id("resubmission-reasons").is_visible()
    assert page.locator("input[name=id_number]").input_value() == resident_id(sequence="611")
    assert page.get_by_test_id("kept-id_front").is_visible() and page.get_by_test_id("kept-id_back").is_visible()
    assert page.get_by_test_id("replace-id_handheld").is_visible()
    key_screen(page, f"resubmission-prefilled-{language}")
    path = tmp_path / "me.jpg"
    path.write_bytes(jpeg_bytes(seed=62))
    page.set_input_files("input[name=id_handheld]", str(path))
    page.get_by_test_id("submit-verification").click()
    page.wait_for_url("**/verification/")

    second = Submission.objects.filter(user=user).order_by("-attempt_number").first()
    assert second.attempt_number == 2
    before = {photo.kind: photo.image.name for photo in first.photos.all()}
    after = {photo.kind: photo.image.name for photo in second.photos.all()}
    assert after["id_front"] == before["id_front"] and after["id_back"] == before["id_back"]
    assert after["id_handheld"] != before["id_handheld"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_cancellation_shows_every_blocker_at_once_and_the_refund_asks_first(phone, language):
    user, line = verified_customer()
    billing_services.ledger_append(user=user, kind="topup", amount=Decimal("20"), reference=f"e2e-{language}")
    plan = Plan.objects.filter(is_current=True, is_active=True).order_by("monthly_price").first()
    order = billing_services.renewal_order_create(
        user=user, line_id=line.pk, plan_id=plan.pk, term_months=1, idempotency_key=f"e2e-cancel-{language}"
    )
    page = phone(language)
    sign_in(page, user)

    page.get_by_test_id("cancel-link").click()
    page.wait_for_url("**/account/cancel/")
    page.fill("input[name=full_name]", "王芳")
    page.fill("input[name=phone]", "130 1234 5678")  # neither the account's nor the line's number
    page.fill("input[name=bindings-0-name]", "招商银行")  # listed, not confirmed unbound
    page.get_by_test_id("cancel-submit").click()
    page.wait_for_load_state()
    body = page.locator("main").inner_text()
    assert page.get_by_test_id("blocker-balance").is_visible()
    assert page.get_by_test_id("blocker-open_orders").is_visible()
    assert page.get_by_test_id("cancel-blocked").is_visible()
    assert body.count(order.number) == 1
    assert len(page.locator(".invalid-feedback:visible, .invalid-feedback.d-block").all()) >= 2  # phone, binding
    key_screen(page, f"cancellation-every-blocker-{language}")

    page.get_by_test_id("refund-balance").click()
    page.wait_for_url("**/account/refund-balance/**")
    assert page.get_by_test_id("refund-amount").inner_text() == "¥20.00"
    assert not LedgerEntry.objects.filter(kind="refund").exists()  # nothing until confirmed
    key_screen(page, f"refund-confirmation-{language}")
    page.get_by_test_id("refund-confirm-button").click()
    page.wait_for_url(re.compile(r".*/account/cancel/\?line=\d+$"))
    assert page.get_by_test_id("blocker-balance").count() == 0
    assert LedgerEntry.objects.get(kind="refund").amount == Decimal("-20.00")
    assert not CancellationRequest.objects.exists()
