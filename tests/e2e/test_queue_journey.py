"""A reviewer works the flagged queue at 1440×900: search, counts, sort; the filter holds through decide-and-next."""

import pytest

from reviews.demo import submit_demo
from reviews.models import Submission
from tests.factories import PASSWORD, CustomerFactory, make_line, make_staff
from tests.images import resident_id

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

WORKSTATION = {"width": 1440, "height": 900}


def review_id(url: str) -> int | None:
    path = url.split("?", 1)[0].rstrip("/")
    last = path.rsplit("/", 1)[1]
    return int(last) if "/staff/reviews/" in path and last.isdigit() else None


def test_the_flagged_filter_holds_through_decide_and_next(new_page, live_server):
    made = []
    for index, name in enumerate(["周一", "吴二", "郑三"]):
        customer = CustomerFactory()
        make_line(owner=customer)
        made.append(
            submit_demo(
                user=customer, full_name=name, id_number=resident_id(sequence=f"{index + 400}"), seed=index + 21
            )
        )
    plain, *flagged = made
    # The unflagged one is due first: a "Next" that dropped the filter would hand it out.
    Submission.objects.filter(pk__in=[s.pk for s in flagged]).update(
        is_flagged=True, flags={"duplicate_id": {"accounts": [plain.user_id]}}
    )
    Submission.objects.filter(pk=plain.pk).update(due_at=plain.due_at.replace(year=plain.due_at.year - 1))
    make_staff("reviewer", login="reviewer-queue")

    page = new_page(WORKSTATION)
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "reviewer-queue")
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/staff/")

    page.goto("/staff/reviews/")
    assert page.get_by_test_id("queue-total").inner_text() == "3"
    assert page.get_by_test_id("count-flagged").inner_text() == "2"
    assert page.locator("[data-urgency=critical]").count() == 1  # a year overdue: the one red row

    page.get_by_test_id("queue-search").fill("吴二")
    page.get_by_test_id("queue-search").press("Enter")
    page.wait_for_url("**/staff/reviews/?q=*")
    assert page.locator("[data-testid=queue-table] tbody tr").count() == 1
    assert "吴二" in page.get_by_test_id("queue-table").inner_text()

    page.goto("/staff/reviews/")
    page.check("#f-flagged")
    page.select_option("[data-testid=queue-sort]", "waiting")
    page.locator("[data-testid=queue-filters] button[type=submit]").click()
    page.wait_for_url("**/staff/reviews/?*flagged=1*")
    assert page.locator("[data-testid=queue-table] tbody tr").count() == 2

    page.keyboard.press("n")
    page.wait_for_url(lambda url: review_id(url) is not None)
    opened = [review_id(page.url)]
    assert "flagged=1" in page.url
    for _ in range(2):
        page.locator("input[name=decision][value=reject]").check()
        page.locator("#reason-box input[value=IMG_BLURRY]").check()
        page.get_by_test_id("decide").click()
        page.wait_for_url(lambda url, done=opened[-1]: review_id(url) != done)
        if review_id(page.url) is not None:
            opened.append(review_id(page.url))
            assert "flagged=1" in page.url
    assert sorted(opened) == sorted(s.pk for s in flagged)
    assert "/staff/reviews/?" in page.url and "flagged=1" in page.url  # back on the flagged queue, now empty
    assert Submission.objects.get(pk=plain.pk).status == Submission.Status.PENDING
