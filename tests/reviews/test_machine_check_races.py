"""Machine checks run twice at once, or erased while running, on PostgreSQL with real threads."""

import threading
import time

import pytest

from accounts.models import AuditEvent
from reviews import services
from reviews.checks import runner
from reviews.models import MachineCheck
from tests.races import RACE_MARKS, errors, run_together, values
from tests.reviews.test_machine_checks import canned_outcome

pytestmark = RACE_MARKS


@pytest.fixture
def slow_run(monkeypatch):
    """The models' work replaced by a pause, so that concurrent runs overlap; counts runs."""
    calls = []
    lock = threading.Lock()

    def run(**kwargs):
        with lock:
            calls.append(kwargs["typed"].full_name)
        time.sleep(0.3)
        return canned_outcome()

    monkeypatch.setattr(runner, "run", run)
    return calls


def test_two_runs_of_one_check_at_once_compute_and_record_it_once(submit, slow_run):
    check = submit().machine_check

    results = run_together(*[lambda: services.machine_check_run(check_id=check.pk) for _ in range(4)])

    assert errors(results) == []
    finished = [value for value in values(results) if value is not None]
    assert len(finished) == 1 and len(slow_run) == 1
    check.refresh_from_db()
    assert (check.status, check.attempts) == ("done", 1)
    assert AuditEvent.objects.filter(verb="submission.machine_checked").count() == 1


def test_two_sweeps_at_once_run_each_pending_check_once(submit, slow_run):
    checks = [submit().machine_check for _ in range(3)]

    results = run_together(services.machine_checks_run_pending, services.machine_checks_run_pending)

    assert errors(results) == []
    assert sum(values(results)) == 3
    assert len(slow_run) == 3
    assert set(MachineCheck.objects.filter(pk__in=[c.pk for c in checks]).values_list("status", flat=True)) == {"done"}


def test_erasure_during_a_run_leaves_nothing_behind(submit, slow_run):
    submission = submit()
    check_id = submission.machine_check.pk

    def erase_midway():
        time.sleep(0.1)  # while the run computes
        return services.submissions_erase_personal_data(user_id=submission.user_id)

    results = run_together(lambda: services.machine_check_run(check_id=check_id), erase_midway)

    assert errors(results) == []
    assert not MachineCheck.objects.filter(pk=check_id).exists()
