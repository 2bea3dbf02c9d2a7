import pytest
from django.test import override_settings
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from reviews.demo import submit_demo
from tests.factories import PASSWORD, CustomerFactory, ServicePointFactory, make_line, make_staff
from tests.images import resident_id

# serialized_rollback: the data migrations (roles, reason codes) survive the flush between tests.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def sign_in(page, login):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()


@override_settings(HEYON_REQUIRE_STAFF_2FA=True)
def test_reviewer_with_two_factor_sees_dashboard_matching_the_data_and_opens_the_queue(new_page, live_server):
    for index in range(3):
        customer = CustomerFactory()
        make_line(owner=customer)
        submit_demo(user=customer, full_name="张三", id_number=resident_id(sequence=f"{index + 100}"), seed=index + 1)
    reviewer = make_staff("reviewer", login="reviewer2fa")
    device = TOTPDevice.objects.create(user=reviewer, name="phone", confirmed=True)

    page = new_page({"width": 1280, "height": 900})
    sign_in(page, "reviewer2fa")
    page.wait_for_url("**/staff/2fa/**")
    page.fill("input[name=token]", f"{TOTP(device.bin_key).token():06d}")
    page.get_by_test_id("verify-2fa").click()
    page.wait_for_url("**/staff/")
    assert page.get_by_test_id("figure-queue-depth").inner_text() == "3"
    assert page.get_by_test_id("figure-overdue").inner_text() == "0"
    assert page.get_by_test_id("figure-decisions-today").inner_text() == "0"
    page.get_by_test_id("nav-review-queue").click()
    page.wait_for_url("**/staff/reviews/")
    assert page.locator("[data-testid=queue-table] tbody tr").count() == 3


def test_clerk_does_not_see_the_review_queue_and_cannot_open_it(new_page, live_server):
    make_staff("clerk", login="clerk-nav", service_point=ServicePointFactory())
    page = new_page({"width": 1280, "height": 900})
    sign_in(page, "clerk-nav")
    page.wait_for_url("**/staff/")
    assert page.get_by_test_id("nav-desk").is_visible()
    assert page.get_by_test_id("nav-review-queue").count() == 0
    assert page.get_by_test_id("dashboard-figures").count() == 0
    response = page.goto("/staff/reviews/")
    assert response.status == 403


def review_id(url: str) -> int | None:
    """The submission a review screen's address names, or None elsewhere."""
    last = url.rstrip("/").rsplit("/", 1)[1]
    return int(last) if "/staff/reviews/" in url and last.isdigit() else None


def test_a_reviewer_works_the_queue_with_the_keyboard_deciding_and_taking_the_next(new_page, live_server):
    submissions = []
    for index in range(2):
        customer = CustomerFactory()
        make_line(owner=customer)
        id_number = resident_id(sequence=f"{index + 200}")
        submissions.append(submit_demo(user=customer, full_name="李四", id_number=id_number, seed=index + 7))
    make_staff("reviewer", login="reviewer-keys")
    page = new_page({"width": 1400, "height": 900})
    sign_in(page, "reviewer-keys")
    page.wait_for_url("**/staff/")

    page.goto("/staff/reviews/")
    page.keyboard.press("n")  # N claims the oldest-due one
    page.wait_for_url("**/staff/reviews/*/")
    first = review_id(page.url)
    assert page.locator("input[name=take_next]").is_checked()  # ticked unless the reviewer unticks it
    page.keyboard.press("a")  # A approves, and the next submission opens at once
    page.wait_for_url(lambda url: review_id(url) not in (None, first))
    second = review_id(page.url)
    assert {first, second} == {submission.pk for submission in submissions}
    assert f"#{first}" in page.locator(".alert-success").inner_text()  # the decision's message came along
    assert page.locator("#decision-form").is_visible()  # claimed, ready to decide

    page.keyboard.press("a")
    # The demo cards' backs look alike, so the second is flagged as a reused photo: A asks first.
    page.get_by_test_id("confirm-dialog").locator("[data-confirm-item]:not([hidden]) input").check()
    page.get_by_test_id("confirm-decision").click()
    page.wait_for_url("**/staff/reviews/")  # nothing left: the queue says so
    assert page.locator(".alert-info").count() == 1
