"""Business days on China's official calendar: holidays, adjusted working weekends (调休),
the days administrators enter for a year the library does not know yet, and the warning."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError
from django.utils import timezone

from reviews.business_days import add_business_days, calendar_years_missing, library_knows_year
from reviews.models import CalendarDay
from reviews.selectors import expected_decision_window
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOLIDAY = CalendarDay.Kind.HOLIDAY
WORKING_DAY = CalendarDay.Kind.WORKING_DAY


def at(year, month, day, hour=10, minute=30) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def now_is(monkeypatch):
    def move(moment: datetime) -> datetime:
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    return move


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # 国庆 2026: 1–7 October off, Saturday 10 October worked.
        (at(2026, 9, 30), 1, at(2026, 10, 8)),
        (at(2026, 9, 30), 3, at(2026, 10, 10)),
        (at(2026, 10, 2), 1, at(2026, 10, 8)),
        # 春节 2026: Saturday 14 February worked, 15–23 February off.
        (at(2026, 2, 13), 1, at(2026, 2, 14)),
        (at(2026, 2, 13), 3, at(2026, 2, 25)),
        (at(2026, 2, 13, 23, 50), 2, at(2026, 2, 24, 23, 50)),
        # An ordinary week: the weekend is skipped.
        (at(2026, 11, 20), 3, at(2026, 11, 25)),
    ],
    ids=["guoqing-1", "guoqing-3", "inside-guoqing", "chunjie-1", "chunjie-3", "chunjie-late-evening", "weekend"],
)
def test_business_days_follow_chinas_holidays_and_adjusted_working_weekends(start, days, due):
    assert add_business_days(start, days) == due


def test_a_submission_the_day_before_guoqing_is_due_and_expected_after_the_holiday(submit, now_is):
    now_is(at(2026, 9, 30))

    submission = submit(photos=None)

    assert timezone.localtime(submission.due_at) == at(2026, 10, 10)
    start, end = expected_decision_window(submission)
    assert (start, end) == (date(2026, 10, 8), date(2026, 10, 10))


def test_a_due_date_reaching_a_year_the_library_does_not_know_counts_weekdays_and_does_not_crash(submit, now_is):
    assert not library_knows_year(2027)  # a chinesecalendar release with 2027 makes this test moot
    now_is(at(2026, 12, 30))

    submission = submit(photos=None)

    # 31 December, Friday 1 January (no holiday is known for 2027), Monday 4 January.
    assert timezone.localtime(submission.due_at) == at(2027, 1, 4)
    assert expected_decision_window(submission) == (date(2026, 12, 31), date(2027, 1, 4))


def test_for_an_unknown_year_the_days_an_administrator_entered_are_used():
    CalendarDay.objects.create(date=date(2027, 1, 1), kind=HOLIDAY, name="元旦")
    CalendarDay.objects.create(date=date(2027, 1, 9), kind=WORKING_DAY, name="调休")

    assert add_business_days(at(2026, 12, 30), 3) == at(2027, 1, 5)
    assert add_business_days(at(2027, 1, 7), 2) == at(2027, 1, 9)  # Thu → Fri, Sat worked


def test_an_entered_day_overrides_the_library():
    CalendarDay.objects.create(date=date(2026, 11, 23), kind=HOLIDAY, name="")

    assert add_business_days(at(2026, 11, 20), 1) == at(2026, 11, 24)


def test_a_date_is_entered_once():
    CalendarDay.objects.create(date=date(2027, 1, 1), kind=HOLIDAY)

    with pytest.raises(IntegrityError):
        CalendarDay.objects.create(date=date(2027, 1, 1), kind=WORKING_DAY)


def test_a_year_is_missing_from_a_month_before_it_starts_until_a_day_of_it_is_entered():
    assert calendar_years_missing(today=date(2026, 6, 1)) == []
    assert calendar_years_missing(today=date(2026, 11, 30)) == []
    assert calendar_years_missing(today=date(2026, 12, 2)) == [2027]
    assert calendar_years_missing(today=date(2027, 3, 1)) == [2027]

    CalendarDay.objects.create(date=date(2027, 2, 6), kind=HOLIDAY, name="春节")

    assert calendar_years_missing(today=date(2026, 12, 2)) == []


WARNING = 'data-testid="calendar-missing"'


@pytest.mark.parametrize("path", ["/staff/reviews/", "/staff/"])
def test_staff_are_warned_on_the_queue_and_dashboard_while_next_years_calendar_is_missing(client, now_is, path):
    client.force_login(make_staff("reviewer"))
    client.cookies["django_language"] = "en"
    now_is(at(2026, 12, 2))

    warned = client.get(path)

    assert warned.status_code == 200
    assert WARNING in warned.content.decode()
    assert "The holidays and adjusted working days of 2027 are not known yet" in warned.content.decode()

    CalendarDay.objects.create(date=date(2027, 1, 1), kind=HOLIDAY, name="元旦")
    assert WARNING not in client.get(path).content.decode()


def test_staff_are_not_warned_while_the_library_knows_the_coming_days(client, now_is):
    client.force_login(make_staff("reviewer"))
    now_is(at(2026, 10, 15))

    assert WARNING not in client.get("/staff/reviews/").content.decode()


def test_an_administrator_enters_a_day_in_the_admin(admin_client):
    response = admin_client.post(
        "/admin/reviews/calendarday/add/", {"date": "2027-02-06", "kind": "holiday", "name": "春节"}
    )

    assert response.status_code == 302
    assert CalendarDay.objects.get(date=date(2027, 2, 6)).kind == HOLIDAY
    assert admin_client.get("/admin/reviews/calendarday/").status_code == 200
    assert calendar_years_missing(today=date(2027, 1, 1) - timedelta(days=10)) == []
