"""The personal-data purge at the moment its customer adds a line, with real threads on PostgreSQL.

The purge erases a customer whose service ended long ago; a customer who adds a line is
coming back. The two take turns on the customer's row: the purge locks it and checks again
that no line is in service; adding a line locks it too and refuses an account already
erased. Each test pauses one side inside its transaction (``Pause``): the interleaving is
certain, not lucky.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts import services
from accounts.models import AuditEvent, Line, User
from accounts.services.lines import ERR_ACCOUNT_ERASED
from customers import services as customer_services
from tests.customers.test_cancellation import submit, verified_customer
from tests.factories import make_line, make_staff
from tests.races import RACE_MARKS, Pause, run_while_held

pytestmark = RACE_MARKS


def customer_gone_long_ago():
    """A verified customer whose only line was cancelled, their service ended past the retention period."""
    user, line = verified_customer()
    request, _created = submit(user, line)
    customer_services.cancellation_request_approve(request_id=request.pk, actor=make_staff("support"))
    User.objects.filter(pk=user.pk).update(
        service_ended_at=timezone.now() - timedelta(days=settings.PERSONAL_DATA_RETENTION_DAYS + 1)
    )
    user.refresh_from_db()
    return user


def test_a_line_added_while_the_purge_erases_the_customer_is_refused_and_nothing_changes(monkeypatch):
    # The purge holds the customer, checked and about to erase them. Before, the line was
    # attached (and activated) as soon as the purge committed: a line in service in an
    # erased, anonymous account that nobody can sign in to.
    user = customer_gone_long_ago()
    new_line, code = make_line()
    pause = Pause(monkeypatch, "accounts.selectors.customer_locked_for_erasure")

    purged, added, _returned_while_held = run_while_held(
        customer_services.personal_data_purge,
        lambda: services.line_attach(actor=user, activation_code=code),
        pause=pause,
    )

    assert purged[0] == "ok" and purged[1]["users"] == 1, purged
    user.refresh_from_db()
    assert user.personal_data_erased_at is not None
    new_line.refresh_from_db()
    assert (new_line.owner_id, new_line.activation_code_used_at, new_line.status) == (None, None, Line.Status.INACTIVE)
    assert not AuditEvent.objects.filter(verb="line.attached", target_id=str(new_line.pk)).exists()
    assert added[0] == "error" and isinstance(added[1], services.LineError), added
    assert str(added[1]) == str(ERR_ACCOUNT_ERASED)


def test_a_customer_adding_a_line_while_the_purge_runs_is_not_erased(monkeypatch):
    # Adding the line holds the customer (it has just activated the line); the purge, which
    # listed them before, leaves them (SKIP LOCKED), and its next run finds them in service.
    user = customer_gone_long_ago()
    new_line, code = make_line()
    pause = Pause(monkeypatch, "accounts.services.lines.lines_activate_waiting")

    added, purged, returned_while_held = run_while_held(
        lambda: services.line_attach(actor=user, activation_code=code),
        customer_services.personal_data_purge,
        pause=pause,
    )

    assert added[0] == "ok" and purged[0] == "ok", (added, purged)
    assert returned_while_held  # the purge did not wait for the customer: it went on without them
    assert purged[1]["users"] == 0
    assert customer_services.personal_data_purge()["users"] == 0
    user.refresh_from_db()
    assert user.personal_data_erased_at is None and user.phone is not None
    new_line.refresh_from_db()
    assert (new_line.owner_id, new_line.status) == (user.pk, Line.Status.ACTIVE)


def test_a_customer_who_comes_back_and_leaves_again_between_the_purges_list_and_its_lock_is_not_erased(monkeypatch):
    # The purge has listed the customer (service ended long ago) and stops there; meanwhile
    # they add a line and have it cancelled again: their service ended today. Before, the
    # purge checked under its lock only that no line was in service, and erased them now
    # instead of a retention period from today.
    user = customer_gone_long_ago()
    support = make_staff("support")
    new_line, code = make_line()
    pause = Pause(monkeypatch, "accounts.selectors.customer_ids_due_for_erasure")

    def come_back_and_leave_again():
        services.line_attach(actor=user, activation_code=code)
        request, _created = submit(user, new_line)
        return customer_services.cancellation_request_approve(request_id=request.pk, actor=support)

    purged, left, returned_while_held = run_while_held(
        customer_services.personal_data_purge, come_back_and_leave_again, pause=pause
    )

    assert left[0] == "ok" and purged[0] == "ok", (left, purged)
    assert returned_while_held  # the purge holds nothing while it lists
    assert purged[1]["users"] == 0
    user.refresh_from_db()
    assert user.service_ended_at > timezone.now() - timedelta(minutes=5)
    assert user.personal_data_erased_at is None and user.phone is not None and user.is_active
    assert not AuditEvent.objects.filter(verb="user.personal_data_erased", subject_user=user).exists()
