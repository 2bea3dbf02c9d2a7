"""The staff dashboard (/staff/): its figures match the data, and its query count is fixed."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers import services as customer_services
from reviews import services as review_services
from reviews.models import Submission
from tests.factories import CustomerFactory, make_staff
from tests.staff.conftest import pending_submission

pytestmark = pytest.mark.django_db


def decide(submission, reviewer, decision="approve", reasons=()):
    review_services.submission_claim(submission_id=submission.pk, actor=reviewer)
    if decision == "approve":
        return review_services.submission_approve(submission_id=submission.pk, actor=reviewer)
    return review_services.submission_reject(submission_id=submission.pk, actor=reviewer, reason_codes=list(reasons))


def move(submission, *, submitted_at=None, decided_at=None, due_at=None):
    """Put a submission's times where the scenario needs them (as if it had happened then)."""
    fields = {"submitted_at": submitted_at, "decided_at": decided_at, "due_at": due_at}
    Submission.objects.filter(pk=submission.pk).update(**{k: v for k, v in fields.items() if v is not None})


def figure(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">(.*?)</(?:div|p)>', html, re.S)
    assert match, f"no {testid} on the page"
    return re.sub(r"<[^>]+>", " ", match.group(1)).split()


def chart_rows(html: str) -> dict[str, tuple[int, int, int]]:
    table = re.search(r'data-testid="dashboard-chart-table">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r"<tr><td>([\d-]+)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td></tr>", table)
    return {day: (int(a), int(b), int(c)) for day, a, b, c in rows}


def reason_rows(html: str) -> dict[str, int]:
    block = re.search(r'data-testid="dashboard-reasons">(.*?)</ul>', html, re.S).group(1)
    return {code: int(n) for code, n in re.findall(r"<code>(\w+)</code>.*?<span>(\d+)</span>", block, re.S)}


@pytest.fixture
def reviewer():
    return make_staff("reviewer")


@pytest.fixture
def scenario(reviewer):
    """Four open submissions (one 50 hours old and overdue, one claimed), decisions today, three days ago and
    40 days ago (outside the 30-day window)."""
    now = timezone.now()
    colleague = make_staff("reviewer")
    old = pending_submission()
    move(old, submitted_at=now - timedelta(hours=50), due_at=now - timedelta(hours=1))
    pending_submission()
    pending_submission()
    claimed = pending_submission()
    review_services.submission_claim(submission_id=claimed.pk, actor=colleague)

    decide(pending_submission(), reviewer)
    decide(pending_submission(), reviewer)
    decide(pending_submission(), colleague, "reject", ["IMG_BLURRY", "SIDE_WRONG"])

    three_days_ago = now - timedelta(days=3)
    earlier = decide(pending_submission(), reviewer, "reject", ["IMG_BLURRY"])
    move(earlier, submitted_at=three_days_ago, decided_at=three_days_ago)

    long_ago = now - timedelta(days=40)
    outside = decide(pending_submission(), reviewer, "reject", ["NOT_ORIGINAL"])
    move(outside, submitted_at=long_ago, decided_at=long_ago)
    return {"now": now, "old": old, "three_days_ago": three_days_ago}


def test_the_figures_match_the_queue_and_the_decisions(english, reviewer, scenario):
    english.force_login(reviewer)

    response = english.get("/staff/")

    assert response.status_code == 200
    figures = response.context["figures"]
    assert figures["queue_depth"] == 4
    assert figures["overdue"] == 1
    assert figures["oldest_pending_hours"] == pytest.approx(50, abs=0.1)
    assert figures["decisions_today"] == 3
    assert figures["approval_rate"] == pytest.approx(2 / 4)
    assert figures["mine_today"] == 2
    assert figures["mine_30_days"] == 3
    assert figures["mine_approval_rate"] == pytest.approx(2 / 3)

    html = response.content.decode()
    assert figure(html, "figure-queue-depth") == ["4"]
    assert figure(html, "figure-oldest") == ["50.0", "h"]
    assert figure(html, "figure-overdue") == ["1"]
    assert figure(html, "figure-decisions-today") == ["3"]
    assert figure(html, "figure-approval-rate") == ["50%"]
    assert figure(html, "figure-mine")[:3] == ["2", "/", "3"]
    assert "approved 67%" in html


def test_the_reasons_breakdown_counts_rejections_of_the_last_30_days(english, reviewer, scenario):
    english.force_login(reviewer)

    html = english.get("/staff/").content.decode()

    assert reason_rows(html) == {"IMG_BLURRY": 2, "SIDE_WRONG": 1}


def test_the_30_day_table_has_one_row_a_day_with_submissions_and_decisions(english, reviewer, scenario):
    english.force_login(reviewer)

    rows = chart_rows(english.get("/staff/").content.decode())

    def day(moment):
        return f"{timezone.localtime(moment).date():%Y-%m-%d}"

    now = scenario["now"]
    expected = {day(now - timedelta(days=back)): [0, 0, 0] for back in range(30)}
    expected[day(now)] = [6, 2, 1]  # two pending, one claimed, three decided today
    expected[day(now - timedelta(hours=50))][0] += 1
    expected[day(scenario["three_days_ago"])][0] += 1
    expected[day(scenario["three_days_ago"])][2] += 1
    # The rejection of 40 days ago is outside the window: in no row.
    assert rows == {key: tuple(value) for key, value in expected.items()}


def test_a_reviewer_sees_their_own_figures_not_a_colleagues(english, scenario):
    newcomer = make_staff("reviewer")
    english.force_login(newcomer)

    figures = english.get("/staff/").context["figures"]

    assert figures["mine_today"] == 0 and figures["mine_30_days"] == 0
    assert figures["mine_approval_rate"] is None
    assert figures["decisions_today"] == 3, "the team's figures are the same for everyone"


def test_an_empty_queue_shows_dashes_not_errors(english, reviewer):
    english.force_login(reviewer)

    response = english.get("/staff/")

    html = response.content.decode()
    assert figure(html, "figure-queue-depth") == ["0"]
    assert figure(html, "figure-oldest") == ["—"]
    assert figure(html, "figure-approval-rate") == ["—"]
    assert "No rejections." in html


def test_roles_that_do_not_review_see_no_queue_figures(english):
    for role in ("clerk", "support"):
        english.force_login(make_staff(role))

        response = english.get("/staff/")

        assert response.status_code == 200
        assert response.context["figures"] is None
        assert 'data-testid="dashboard-figures"' not in response.content.decode()


def dashboard_queries(client) -> int:
    client.get("/staff/")  # warm up: session, permission and content-type caches
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/staff/").status_code == 200
    return len(queries)


def add_rows(reviewer, count):
    colleague = make_staff("reviewer")
    now = timezone.now()
    for index in range(count):
        pending_submission()
        decided = decide(pending_submission(), reviewer if index % 2 else colleague, "reject", ["IMG_BLURRY"])
        move(decided, decided_at=now - timedelta(days=index % 30), submitted_at=now - timedelta(days=index % 30))
        decide(pending_submission(), reviewer)


def test_the_dashboard_query_count_does_not_grow_with_the_data(client, reviewer):
    client.force_login(reviewer)
    add_rows(reviewer, 1)
    few = dashboard_queries(client)

    add_rows(reviewer, 25)
    many = dashboard_queries(client)

    assert Submission.objects.count() > 70
    assert many == few
    assert few <= 12


def test_support_sees_how_many_conversations_wait_and_how_many_cancellations(client, world):
    answered = customer_services.support_thread_open(actor=CustomerFactory(), topic="other", body="谢谢")
    customer_services.support_message_add(thread_id=answered.pk, actor=world.staff["support"], body="不客气")
    customer_services.support_thread_open(actor=CustomerFactory(), topic="verification", body="审核多久？")

    for role, shown in [("support", True), ("admin", True), ("reviewer", False), ("clerk", False)]:
        client.force_login(world.staff[role])
        html = client.get("/staff/").content.decode()
        if shown:
            assert figure(html, "figure-open-support-threads") == ["2"], role
            assert re.search(r'data-testid="figure-open-cancellations">1</p>', html), role
        else:
            assert "figure-open-support-threads" not in html, role
            assert "figure-open-cancellations" not in html, role


def test_after_the_scheduled_refresh_a_view_does_not_count_the_past_days(client, reviewer):
    from django.core.cache import cache

    from reviews import selectors

    client.force_login(reviewer)
    add_rows(reviewer, 3)
    warm = dashboard_queries(client)
    cache.clear()
    with CaptureQueriesContext(connection) as cold:
        html = client.get("/staff/").content.decode()

    cache.clear()
    selectors.dashboard_cache_refresh()
    with CaptureQueriesContext(connection) as refreshed:
        refreshed_html = client.get("/staff/").content.decode()

    assert len(cold) > warm
    # The emptied cache also held the reviewer's permissions: their own and their groups' are read again.
    assert len(refreshed) == warm + 2
    assert chart_rows(refreshed_html) == chart_rows(html)


def test_a_revoked_approval_still_counts_as_the_reviewers_approval_today(english, reviewer):
    senior = make_staff("senior_reviewer")
    approved = decide(pending_submission(), reviewer)
    decide(pending_submission(), reviewer, "reject", ["IMG_BLURRY"])
    english.force_login(reviewer)
    before = english.get("/staff/").context["figures"]

    review_services.submission_revoke_approval(submission_id=approved.pk, actor=senior, reason_codes=["DOC_TAMPERED"])
    after = english.get("/staff/").context["figures"]

    assert (before["decisions_today"], before["approval_rate"]) == (2, pytest.approx(0.5))
    assert (after["decisions_today"], after["approval_rate"]) == (2, pytest.approx(0.5))
    assert after["mine_today"] == 2
