"""A reviewer escalates, a senior reviewer approves, later revokes; the customer sees each step."""

import pytest

from accounts.models import Line
from reviews.demo import submit_demo
from tests.factories import PASSWORD, CustomerFactory, make_line, make_staff
from tests.images import resident_id

# serialized_rollback: the data migrations (roles, reason codes) survive the flush between tests.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

DESKTOP = {"width": 1280, "height": 900}


def signed_in_page(new_page, login):
    page = new_page(DESKTOP)
    page.goto("/accounts/login/")
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    return page


def test_escalated_submission_goes_to_a_senior_who_approves_and_later_revokes(new_page, live_server):
    customer = CustomerFactory()
    line, _code = make_line(owner=customer)
    submission = submit_demo(user=customer, full_name="李四", id_number=resident_id(sequence="321"), seed=5)
    make_staff("reviewer", login="reviewer-esc")
    make_staff("senior_reviewer", login="senior-esc")

    # The reviewer is unsure and escalates with a note; the queue no longer offers it to them.
    reviewer = signed_in_page(new_page, "reviewer-esc")
    reviewer.goto("/staff/reviews/")
    reviewer.get_by_test_id("claim-next").click()
    reviewer.wait_for_url(f"**/staff/reviews/{submission.pk}/")
    reviewer.get_by_test_id("escalate").locator("summary").click()
    reviewer.get_by_test_id("escalate").locator("textarea[name=note]").fill("手持照中的人脸与证件照不太像")
    reviewer.get_by_test_id("escalate").locator("button[type=submit]").click()
    reviewer.wait_for_url("**/staff/reviews/")
    assert reviewer.locator(f"[formaction='/staff/reviews/{submission.pk}/claim/']").count() == 0

    # The senior reviewer sees it flagged, reads the note and approves.
    senior = signed_in_page(new_page, "senior-esc")
    senior.goto("/staff/reviews/?escalated=1")
    senior.locator(f"[formaction='/staff/reviews/{submission.pk}/claim/']").click()
    senior.wait_for_url(f"**/staff/reviews/{submission.pk}/?escalated=1")  # the queue's filter travels along
    assert "手持照中的人脸与证件照不太像" in senior.get_by_test_id("review-escalation").inner_text()
    senior.locator("input[name=decision][value=approve]").check()
    senior.get_by_test_id("decide").click()
    senior.wait_for_url("**/staff/reviews/?escalated=1")
    line.refresh_from_db()
    assert line.status == Line.Status.ACTIVE

    # Later the approval is found wrong: revoked with a reason; the line is suspended.
    senior.goto(f"/staff/reviews/{submission.pk}/")
    senior.get_by_test_id("revoke").locator("summary").click()
    senior.get_by_test_id("revoke").locator("input[name=reason_codes][value=DOC_TAMPERED]").check()
    senior.get_by_test_id("revoke-submit").click()
    senior.wait_for_url(f"**/staff/reviews/{submission.pk}/")
    assert senior.get_by_test_id("review-revoked").is_visible()
    line.refresh_from_db()
    assert line.status == Line.Status.SUSPENDED

    # The customer reads why, on a phone.
    phone = new_page({"width": 390, "height": 844})
    phone.goto("/accounts/login/")
    phone.fill("input[name=username]", customer.phone.as_national)
    phone.fill("input[name=password]", PASSWORD)
    phone.locator("main form button[type=submit]").click()
    phone.wait_for_url("**/account/")
    phone.goto("/verification/")
    assert phone.get_by_test_id("verification-current-status").get_attribute("data-status") == "revoked"
    assert phone.get_by_test_id("rejection-reasons").inner_text().strip() != ""
