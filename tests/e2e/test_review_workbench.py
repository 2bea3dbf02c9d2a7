"""The reviewer's workbench in Chromium at 1440×900: a flagged item with its confirmation, the
ID portrait beside the handheld photo, rejecting with number keys, the queue filter held
through decide-and-next, a claim that runs out mid-decision keeping the decision, and the
queue's machine-checks column and filter."""

import pytest
from django.utils import translation

from reviews import services
from reviews.checks import runner
from reviews.demo import submit_demo
from reviews.models import MachineCheck, Submission
from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD, CustomerFactory, make_line, make_staff
from tests.images import resident_id
from tests.reviews.conftest import expire_claim

# serialized_rollback: the data migrations (roles, reason codes) survive the flush between tests.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

WORKBENCH = {"width": 1440, "height": 900}


def signed_in_reviewer(new_page, login):
    make_staff("reviewer", login=login)
    page = new_page(WORKBENCH)
    page.goto("/accounts/login/")
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/staff/")
    return page


def customer_submits(seed, sequence):
    customer = CustomerFactory()
    make_line(owner=customer)
    return submit_demo(user=customer, full_name="赵六", id_number=resident_id(sequence=sequence), seed=seed)


def in_view(page, locator) -> bool:
    box = locator.bounding_box()
    viewport = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]


def press_number(page, code):
    for digit in page.locator(f"#reason-{code}").get_attribute("data-number"):
        page.keyboard.press(digit)


def pane_box(page, side):
    return page.get_by_test_id(f"viewer-pane-{side}").bounding_box()


def image_box(page, side):
    return page.get_by_test_id(f"viewer-pane-{side}").locator("img").bounding_box()


def test_flagged_items_confirmation_side_by_side_number_keys_and_the_filter_held(new_page, live_server):
    customer_submits(seed=3, sequence="401")  # unflagged, due first
    original = customer_submits(seed=5, sequence="402")  # first to use these photos: not flagged
    first_flagged = customer_submits(seed=5, sequence="403")
    second_flagged = customer_submits(seed=5, sequence="404")
    assert not original.is_flagged and first_flagged.is_flagged and second_flagged.is_flagged
    page = signed_in_reviewer(new_page, "reviewer-bench")

    page.goto("/staff/reviews/?flagged=1")
    page.get_by_test_id("claim-next").click()
    page.wait_for_url(f"**/staff/reviews/{first_flagged.pk}/?flagged=1")
    assert in_view(page, page.get_by_test_id("decide"))  # the decide button is in view without scrolling

    # The ID portrait beside the handheld photo; rotating fits the photo, it does not clip it.
    page.keyboard.press("f")
    handheld = first_flagged.photos.get(kind="id_handheld")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-viewer-image]')].every((img) => img.complete && img.naturalWidth)"
    )
    assert page.get_by_test_id("viewer-pane-b").get_attribute("data-shows") == "this-id_handheld"
    assert f"/verification/photos/{handheld.pk}/full/" in page.get_by_test_id("viewer-pane-b").locator(
        "img"
    ).get_attribute("src")
    for _ in range(2):
        assert pane_box(page, "a")["x"] + pane_box(page, "a")["width"] <= pane_box(page, "b")["x"] + 1  # side by side
        page.keyboard.press("x")  # the other side is active, and back
    page.keyboard.press("]")  # the handheld side (active since the comparison opened) turns
    pane, photo = pane_box(page, "b"), image_box(page, "b")
    assert photo["height"] > photo["width"]  # a landscape card turned upright
    assert photo["x"] >= pane["x"] - 1 and photo["x"] + photo["width"] <= pane["x"] + pane["width"] + 1
    assert photo["y"] >= pane["y"] - 1 and photo["y"] + photo["height"] <= pane["y"] + pane["height"] + 1
    pane = pane_box(page, "a")
    before = image_box(page, "a")["width"]
    page.mouse.move(pane["x"] + pane["width"] / 2, pane["y"] + pane["height"] / 2)
    page.mouse.wheel(0, -300)
    page.wait_for_function(
        "(w) => document.querySelector('[data-viewer-pane=a] img').getBoundingClientRect().width > w", arg=before
    )
    page.keyboard.press("b")
    assert "brightness(1.15)" in page.get_by_test_id("viewer-pane-a").locator("img").get_attribute("style")

    # A approves: the flag must be confirmed by name first.
    page.keyboard.press("a")
    dialog = page.get_by_test_id("confirm-dialog")
    dialog.wait_for(state="visible")
    assert "Photo used by another account" in dialog.inner_text() or "照片" in dialog.inner_text()
    assert page.get_by_test_id("confirm-decision").is_disabled()
    dialog.locator("[data-confirm-item='flag:duplicate_photo'] input").check()
    page.get_by_test_id("confirm-decision").click()

    # The next one opened is flagged too: the filter held.
    page.wait_for_url(f"**/staff/reviews/{second_flagged.pk}/?flagged=1")
    assert Submission.objects.get(pk=first_flagged.pk).status == Submission.Status.APPROVED

    # Rejected with number keys: a retryable and a final reason, the final one confirmed.
    press_number(page, "IMG_GLARE")
    press_number(page, "FACE_MISMATCH")
    page.wait_for_function("() => document.querySelector('#reason-FACE_MISMATCH').checked")
    assert page.locator("input[name=decision][value=reject]").is_checked()
    assert page.locator("#reason-IMG_GLARE").is_checked()
    page.get_by_test_id("decide").click()
    dialog.wait_for(state="visible")
    assert "FACE_MISMATCH" in dialog.inner_text()
    dialog.locator("[data-confirm-item='reason:FACE_MISMATCH'] input").check()
    page.get_by_test_id("confirm-decision").click()
    page.wait_for_url("**/staff/reviews/?flagged=1")  # no flagged one left: the filtered queue
    rejected = Submission.objects.get(pk=second_flagged.pk)
    assert rejected.status == Submission.Status.REJECTED
    assert set(rejected.reasons.values_list("code", flat=True)) >= {"IMG_GLARE", "FACE_MISMATCH"}
    assert Submission.objects.filter(status=Submission.Status.PENDING).count() == 2  # the unflagged ones wait


def test_a_claim_running_out_mid_decision_keeps_the_decision(new_page, live_server):
    submission = customer_submits(seed=8, sequence="405")
    page = signed_in_reviewer(new_page, "reviewer-lapse")
    page.goto("/staff/reviews/")
    page.keyboard.press("n")
    page.wait_for_url(f"**/staff/reviews/{submission.pk}/")
    assert ":" in page.get_by_test_id("claim-countdown").inner_text()

    page.keyboard.press("r")
    press_number(page, "IMG_DARK")
    page.locator("textarea[name=customer_message]").fill("请在光线均匀处重新拍摄")
    # Meanwhile the lease runs out and the lease job puts the submission back in the queue.
    expire_claim(submission)
    assert services.submissions_release_expired_claims() == 1
    page.locator("input[name=take_next]").uncheck()
    page.get_by_test_id("decide").click()

    page.wait_for_url("**/staff/reviews/")
    submission.refresh_from_db()
    assert submission.status == Submission.Status.REJECTED
    assert submission.customer_message == "请在光线均匀处重新拍摄"
    assert "IMG_DARK" in set(submission.reasons.values_list("code", flat=True))


def test_the_queue_says_what_the_machine_checks_found_and_filters_on_it(new_page, live_server, monkeypatch):
    same, other_person = customer_submits(seed=3, sequence="406"), customer_submits(seed=8, sequence="407")
    for submission, band, distance in ((same, "same", 0.3), (other_person, "different", 0.8)):
        outcome = runner.Outcome(face_band=band, face_distance=distance, sides={"front": "ok", "back": "ok"})
        monkeypatch.setattr(runner, "run", lambda outcome=outcome, **photos_and_typing: outcome)
        services.machine_check_run(check_id=submission.machine_check.pk)
    page = signed_in_reviewer(new_page, "reviewer-checks")

    page.goto("/staff/reviews/")
    table = page.get_by_test_id("queue-table").bounding_box()
    assert table["x"] + table["width"] <= WORKBENCH["width"]  # the new column keeps the queue on screen
    found = page.locator("[data-testid=queue-checks][data-problem='1']")
    with translation.override("zh-hans"):
        assert found.inner_text().strip() == str(MachineCheck.FaceBand.DIFFERENT.label)  # in words, not colour
    assert page.locator("[data-testid=queue-checks][data-problem='0']").count() == 1
    screenshot(page, "review-queue-machine-checks")

    page.locator("#f-check-problem").check()
    page.get_by_test_id("queue-filters").locator("button[type=submit]").click()
    page.wait_for_url("**/staff/reviews/?*check_problem=1*")
    assert page.get_by_test_id("queue-checks").count() == 1
    page.keyboard.press("n")
    page.wait_for_url(f"**/staff/reviews/{other_person.pk}/?check_problem=1")
