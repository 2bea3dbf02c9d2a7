"""The per-number daily SMS cap under senders counting at the same moment (real threads, PostgreSQL)."""

from accounts import outbox
from accounts.models import SmsDailyCount
from tests.races import RACE_MARKS, run_together, values

pytestmark = RACE_MARKS

PHONE = "+8613800138000"


def test_the_daily_cap_holds_when_many_senders_count_at_once(settings):
    settings.SMS_DAILY_CAP_PER_NUMBER = 3

    results = run_together(*[lambda: outbox.sms_daily_allowance_take(PHONE) for _ in range(8)])

    assert sorted(values(results)) == [False] * 5 + [True] * 3
    assert SmsDailyCount.objects.get(recipient=PHONE).count == 3
