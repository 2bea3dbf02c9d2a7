"""Business days in the operator's time zone (Asia/Shanghai), on China's official calendar.

A day is a working day by, in this order: a day an administrator entered (``CalendarDay``),
``chinesecalendar`` (public holidays and the adjusted working weekends, 调休, of the years
it was released for), and for a year it does not know, Monday to Friday. Staff are
warned while a year about to be used has neither (``calendar_years_missing``).
"""

from datetime import date, datetime, timedelta

import chinese_calendar
from django.utils import timezone

from reviews.models import CalendarDay

# A due date is a few business days ahead; the longest holiday (春节) adds about ten
# calendar days. Entered days are read for this many calendar days per business day.
_CALENDAR_DAYS_PER_BUSINESS_DAY = 4
_READ_MARGIN_DAYS = 20
# Staff are warned about a year this many days before it starts.
WARN_DAYS_AHEAD = 31


def library_knows_year(year: int) -> bool:
    """Whether the installed ``chinesecalendar`` has the State Council's calendar for ``year``."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _entered_days(first: date, last: date) -> dict[date, str]:
    return dict(CalendarDay.objects.filter(date__range=(first, last)).values_list("date", "kind"))


def is_business_day(day: date, entered: dict[date, str]) -> bool:
    """Whether ``day`` is a working day; ``entered`` holds the administrators' days around it."""
    kind = entered.get(day)
    if kind is not None:
        return kind == CalendarDay.Kind.WORKING_DAY
    if library_knows_year(day.year):
        return chinese_calendar.is_workday(day)
    return day.weekday() < 5


def add_business_days(start: datetime, days: int) -> datetime:
    """Return the moment ``days`` business days after ``start``, at the same local time of day."""
    local = timezone.localtime(start)
    first = local.date() + timedelta(days=1)
    entered = _entered_days(first, first + timedelta(days=days * _CALENDAR_DAYS_PER_BUSINESS_DAY + _READ_MARGIN_DAYS))
    added = 0
    while added < days:
        local += timedelta(days=1)
        if is_business_day(local.date(), entered):
            added += 1
    return local


def calendar_years_missing(*, today: date | None = None) -> list[int]:
    """Return the years a due date may soon fall in that neither the library nor an administrator knows.

    This year, and the next one from ``WARN_DAYS_AHEAD`` days before it starts. Due dates
    in such a year count Monday to Friday only, holidays included.
    """
    today = today or timezone.localdate()
    years = sorted({today.year, (today + timedelta(days=WARN_DAYS_AHEAD)).year})
    unknown = [year for year in years if not library_knows_year(year)]
    if not unknown:
        return []
    entered = set(CalendarDay.objects.filter(date__year__in=unknown).values_list("date__year", flat=True))
    return [year for year in unknown if year not in entered]
