import pytest
from django.utils import translation

from accounts.models import Line, Notification, OutboundMessage
from tests.factories import PASSWORD, CustomerFactory, make_line, make_staff
from tests.images import jpeg_bytes, resident_id

# serialized_rollback: the data migrations (roles, reason codes) survive the flush between tests.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def sign_in(page, login):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()


def submit_photos(page, tmp_path, seed):
    page.goto("/verification/submit/")
    page.fill("input[name=full_name]", "王小明")
    page.fill("input[name=id_number]", resident_id())
    for offset, kind in enumerate(("id_front", "id_back", "id_handheld")):
        path = tmp_path / f"{kind}-{seed}.jpg"
        path.write_bytes(jpeg_bytes(seed=seed * 10 + offset, gps=True))
        page.set_input_files(f"input[name={kind}]", str(path))
        # The instant pre-check answers for every photo before the customer submits.
        page.locator(f'[data-hints-for="{kind}"] div').first.wait_for()
    page.locator("#submission-form button[type=submit]").click()
    page.wait_for_url("**/verification/")


def test_customer_rejected_then_resubmits_and_is_approved(new_page, live_server, tmp_path):
    customer = CustomerFactory()
    line, _code = make_line(owner=customer)
    make_staff("reviewer", login="reviewer1")

    customer_page = new_page({"width": 390, "height": 844})
    reviewer_page = new_page({"width": 1400, "height": 900})

    sign_in(customer_page, customer.phone.as_national)
    customer_page.wait_for_url("**/account/")
    submit_photos(customer_page, tmp_path, seed=1)
    assert customer_page.get_by_test_id("verification-current-status").get_attribute("data-status") == "pending"

    sign_in(reviewer_page, "reviewer1")
    reviewer_page.goto("/staff/reviews/")
    reviewer_page.get_by_test_id("claim-next").click()
    reviewer_page.wait_for_url("**/staff/reviews/*/")
    assert reviewer_page.locator("[data-testid=review-photos] img").count() == 3
    reviewer_page.keyboard.press("r")  # R selects reject and moves to the reasons
    reviewer_page.locator("input[name=reason_codes][value=IMG_BLURRY]").check()
    reviewer_page.get_by_test_id("decide").click()
    reviewer_page.wait_for_url("**/staff/reviews/")

    customer_page.goto("/verification/")
    # The reason in plain words, in Chinese (the reason code's customer text).
    assert "照片模糊" in customer_page.get_by_test_id("rejection-reasons").inner_text()
    customer_page.get_by_test_id("resubmit").click()
    customer_page.wait_for_url("**/verification/submit/")
    submit_photos(customer_page, tmp_path, seed=2)
    assert customer_page.get_by_test_id("verification-history").is_visible()

    reviewer_page.goto("/staff/reviews/")
    reviewer_page.keyboard.press("n")  # N claims the next one
    reviewer_page.wait_for_url("**/staff/reviews/*/")
    reviewer_page.keyboard.press("a")  # A approves
    reviewer_page.wait_for_url("**/staff/reviews/")

    customer_page.goto("/account/")
    assert customer_page.get_by_test_id("line-status").get_attribute("data-status") == "active"
    line.refresh_from_db()
    assert line.status == Line.Status.ACTIVE
    approved = Notification.objects.filter(user=customer).order_by("-pk").first()
    with translation.override("zh-hans"):  # the language the customer reads in
        subject = approved.subject
    customer_page.goto("/notifications/")
    assert subject in customer_page.get_by_test_id("notification-list").inner_text()
    # Rejection and approval both reached the customer by SMS too.
    assert OutboundMessage.objects.filter(recipient=customer.phone.as_e164, body__contains=subject).exists()

    # Support reads everything that happened to the customer's verification on the audit page.
    make_staff("support", login="support1")
    support_page = new_page({"width": 1400, "height": 900})
    sign_in(support_page, "support1")
    support_page.goto(f"/staff/audit/?customer={customer.pk}")
    trail = support_page.get_by_test_id("audit-table").inner_text()
    for verb in ("submission.claimed", "submission.photo_viewed", "submission.rejected", "submission.approved"):
        assert verb in trail
    assert "实名认证驳回" in trail
