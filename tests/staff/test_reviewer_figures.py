"""Per-reviewer figures on the staff dashboard: decisions a day, median handling time, share overturned, charts."""

import re
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers import charts
from reviews import selectors
from reviews import services as review_services
from reviews.models import QualitySample, Submission, SubmissionEvent
from tests.factories import make_line, make_staff
from tests.staff.conftest import pending_submission

pytestmark = pytest.mark.django_db


def decide(reviewer, decision="approve", *, minutes: float, days_ago: int = 0):
    """A submission ``reviewer`` claimed and decided ``minutes`` later, ``days_ago`` days back."""
    submission = pending_submission()
    if decision == "approve":
        make_line(submission.user)
    review_services.submission_claim(submission_id=submission.pk, actor=reviewer)
    if decision == "approve":
        review_services.submission_approve(submission_id=submission.pk, actor=reviewer)
    else:
        review_services.submission_reject(submission_id=submission.pk, actor=reviewer, reason_codes=["IMG_BLURRY"])
    decided_at = timezone.now() - timedelta(days=days_ago)
    Submission.objects.filter(pk=submission.pk).update(decided_at=decided_at)
    SubmissionEvent.objects.filter(submission=submission, verb="claimed").update(
        created_at=decided_at - timedelta(minutes=minutes)
    )
    return submission


@pytest.fixture
def team(settings):
    cache.clear()
    ann, bob, senior = make_staff("reviewer", "ann"), make_staff("reviewer", "bob"), make_staff("senior_reviewer")
    decide(ann, minutes=2)
    decide(ann, minutes=4, days_ago=1)
    revoked = decide(ann, minutes=9, days_ago=1)
    decide(ann, "reject", minutes=1, days_ago=40)  # outside the 30 days
    review_services.submission_revoke_approval(submission_id=revoked.pk, actor=senior, reason_codes=["IMG_BLURRY"])
    settings.QC_SAMPLE_SHARE = 1
    sampled = decide(bob, "reject", minutes=6)
    settings.QC_SAMPLE_SHARE = 0
    review_services.quality_sample_overturn(
        sample_id=QualitySample.objects.get(submission=sampled).pk, actor=senior, note="可以通过"
    )
    decide(bob, "reject", minutes=10, days_ago=2)
    cache.clear()
    return {"ann": ann, "bob": bob, "senior": senior}


def test_figures_per_reviewer(team):
    figures = {row["username"]: row for row in selectors.reviewer_figures()["reviewers"]}
    assert set(figures) == {"ann", "bob"}
    ann, bob = figures["ann"], figures["bob"]
    assert (ann["decisions"], ann["median_minutes"], ann["overturned"]) == (3, 4, 1)
    assert ann["per_day"][-2:] == [2, 1] and sum(ann["per_day"]) == 3
    assert ann["per_active_day"] == 1.5
    assert (bob["decisions"], bob["median_minutes"], bob["overturned"], bob["overturned_share"]) == (2, 8, 1, 0.5)


def table_rows(html):
    table = re.search(r'data-testid="reviewer-figures-table">(.*?)</table>', html, re.S).group(1)
    return re.findall(r'data-reviewer="(\w+)"', table)


def test_a_senior_sees_the_team_with_dated_charts_a_reviewer_only_themselves(client, team, english):
    client.force_login(team["senior"])
    html = client.get("/staff/").content.decode()
    assert table_rows(html) == ["ann", "bob"]
    for chart in ("chart-decisions", "chart-handling", "chart-overturned"):
        assert f'data-testid="{chart}"' in html
    today = timezone.localtime().date()
    dates = re.findall(r'data-testid="chart-date">([\d-]+)<', html)
    assert dates[-1] == today.strftime("%m-%d") and len(dates) == 5
    assert "Decisions" in html and "Date" in html
    assert "4.0 min" in html and "8.0 min" in html

    client.force_login(team["ann"])
    assert table_rows(client.get("/staff/").content.decode()) == ["ann"]
    client.force_login(make_staff("clerk"))
    assert 'data-testid="reviewer-figures"' not in client.get("/staff/").content.decode()


def test_the_figures_cost_one_query_whatever_the_decisions_and_none_while_cached(team):
    cache.clear()
    with CaptureQueriesContext(connection) as cold:
        selectors.reviewer_figures()
    with CaptureQueriesContext(connection) as warm:
        selectors.reviewer_figures()
    assert (len(cold), len(warm)) == (1, 0)


def test_chart_geometry_has_round_ticks_and_dated_axis():
    assert [charts.nice_ceiling(v) for v in (0, 1, 3, 7, 11, 240)] == [1, 1, 5, 10, 20, 250]
    days = [date(2026, 11, 3) + timedelta(days=n) for n in range(30)]
    chart = charts.line_chart(days=days, series=[("ann", [0] * 29 + [7])])
    assert [tick["label"] for tick in chart["y_ticks"]] == ["0", "2.5", "5", "7.5", "10"]
    assert chart["x_ticks"][-1]["label"] == days[-1] and len(chart["x_ticks"]) == 5
    # 7 of 10 on a 212-pixel plot starting at y=12: the last point is 30 % down, at the right edge.
    assert chart["lines"][0]["points"].endswith(f"{chart['right']:.1f},75.6")
    bars = charts.bar_chart(rows=[("ann", 4.0), ("bob", None)], unit="%")
    assert [bar["value"] for bar in bars["bars"]] == ["4%", "—"]
    assert bars["bars"][1]["width"] == 0
