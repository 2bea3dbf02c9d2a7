"""The auto-renew job against other writers of the same lines at once, with real threads on PostgreSQL.

The job locks a line's service row, then the wallet, then the line, and its orders, audit
events and messages reference the customer's row; a writer that takes these in another
order deadlocks with it.
"""

from datetime import timedelta

from django.utils import timezone

from accounts import services as account_services
from accounts.models import Line
from billing import services
from billing.models import LineService
from tests.billing.conftest import fund, verified_customer
from tests.races import RACE_MARKS, errors, run_together

pytestmark = RACE_MARKS


def due_customers(count=30):
    due = []
    for _ in range(count):
        user, line = verified_customer()
        services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet")
        fund(user, "100")
        due.append((user, line))
    Line.objects.filter(pk__in=[line.pk for _user, line in due]).update(validity_end=timezone.now() + timedelta(days=2))
    return due


def test_revoking_verifications_while_auto_renew_runs_neither_fails():
    due = due_customers()

    def revoke_all():
        for user, _line in reversed(due):  # crossing the job's path (it goes by line id)
            account_services.user_revoke_real_name_verification(user=user, actor=None, reason="test")

    results = run_together(lambda: services.autorenew_run(chunk_size=1), revoke_all)

    assert errors(results) == []
    assert not Line.objects.filter(status=Line.Status.ACTIVE).exists()


def test_changing_auto_renew_while_the_job_runs_neither_fails():
    due = due_customers()

    def change_all():
        for user, line in reversed(due):
            services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet", term_months=3)

    results = run_together(lambda: services.autorenew_run(chunk_size=1), change_all)

    assert errors(results) == []
    assert set(LineService.objects.values_list("auto_renew_term_months", flat=True)) == {3}
