"""Business-day arithmetic in the operator's time zone (Asia/Shanghai).

Weekends are skipped; public holidays and the adjusted working weekends of the
Chinese calendar are not modelled yet (see docs/DECISIONS.md).
"""

from datetime import datetime, timedelta

from django.utils import timezone


def add_business_days(start: datetime, days: int) -> datetime:
    local = timezone.localtime(start)
    added = 0
    while added < days:
        local += timedelta(days=1)
        if local.weekday() < 5:
            added += 1
    return local
