"""Concurrency of cancellation and of the personal-data purge, with real threads on PostgreSQL.

Run with ``DATABASE_URL=postgres://… pytest -m postgres``; on SQLite these are skipped.
Each thread has its own database connection, so the data must really be committed:
transactional tests, with serialized_rollback to bring the seeded roles and plans back.
"""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from accounts import services
from accounts.models import AuditEvent, Line, User
from billing import services as billing_services
from billing.models import LedgerEntry, Wallet
from customers import services as customer_services
from customers.models import CancellationRequest
from customers.services.cancellation import ERR_NOT_OPEN
from tests.factories import CustomerFactory, make_line, make_staff
from tests.races import RACE_MARKS, run_together

pytestmark = RACE_MARKS


def verified_customer():
    user = CustomerFactory()
    line, _code = make_line(owner=user)
    services.user_mark_real_name_verified(user=user, actor=None, channel="online")
    return user, line


def submit(user, line):
    return customer_services.cancellation_request_submit(
        actor=user,
        line_id=line.pk,
        full_name="王芳",
        phone=user.phone,
        reason="moving_abroad",
        reason_detail="",
        bindings=[{"name": "微信", "unbound": True}],
    )


def test_two_submits_at_once_for_the_same_line_create_one_request():
    user, line = verified_customer()

    results = run_together(lambda: submit(user, line), lambda: submit(user, line))

    assert [outcome for outcome, _value in results] == ["ok", "ok"]
    requests = [value[0] for _outcome, value in results]
    assert sorted(value[1] for _outcome, value in results) == [False, True]
    assert requests[0].pk == requests[1].pk
    assert CancellationRequest.objects.filter(line=line).count() == 1
    assert AuditEvent.objects.filter(verb="cancellation.requested").count() == 1


def test_two_approvals_at_once_cancel_and_refund_once():
    user, line = verified_customer()
    request, _created = submit(user, line)
    billing_services.ledger_append(user=user, kind="adjustment", amount=Decimal(20), reference="late")
    first, second = make_staff("support"), make_staff("support")

    results = run_together(
        lambda: customer_services.cancellation_request_approve(request_id=request.pk, actor=first),
        lambda: customer_services.cancellation_request_approve(request_id=request.pk, actor=second),
    )

    outcomes = sorted(outcome for outcome, _value in results)
    assert outcomes == ["error", "ok"]
    [error] = [value for outcome, value in results if outcome == "error"]
    assert isinstance(error, customer_services.CancellationError)
    assert str(error) == str(ERR_NOT_OPEN)
    assert LedgerEntry.objects.filter(wallet__user=user, kind="refund").count() == 1
    assert AuditEvent.objects.filter(verb="cancellation.approved").count() == 1
    assert AuditEvent.objects.filter(verb="line.cancelled").count() == 1
    line.refresh_from_db()
    assert line.status == Line.Status.CANCELLED


def test_withdraw_and_approve_at_once_leave_one_consistent_outcome():
    user, line = verified_customer()
    request, _created = submit(user, line)
    support = make_staff("support")

    results = run_together(
        lambda: customer_services.cancellation_request_withdraw(request_id=request.pk, actor=user),
        lambda: customer_services.cancellation_request_approve(request_id=request.pk, actor=support),
    )

    assert sorted(outcome for outcome, _value in results) == ["error", "ok"]
    request.refresh_from_db()
    line.refresh_from_db()
    if request.status == CancellationRequest.Status.WITHDRAWN:
        assert line.status == Line.Status.ACTIVE
    else:
        assert request.status == CancellationRequest.Status.APPROVED
        assert line.status == Line.Status.CANCELLED


def test_two_purges_at_once_erase_each_customer_once():
    support = make_staff("support")
    customers = []
    for _ in range(4):
        user, line = verified_customer()
        request, _created = submit(user, line)
        customer_services.cancellation_request_approve(request_id=request.pk, actor=support)
        customers.append(user)
    User.objects.filter(pk__in=[user.pk for user in customers]).update(
        service_ended_at=timezone.now() - timedelta(days=settings.PERSONAL_DATA_RETENTION_DAYS + 1)
    )

    results = run_together(customer_services.personal_data_purge, customer_services.personal_data_purge)

    assert [outcome for outcome, _value in results] == ["ok", "ok"]
    assert sum(totals["users"] for _outcome, totals in results) == len(customers)
    for user in customers:
        assert AuditEvent.objects.filter(verb="user.personal_data_erased", subject_user=user).count() == 1
        user.refresh_from_db()
        assert user.personal_data_erased_at is not None
        assert user.phone is None


def test_approvals_while_auto_renew_renews_the_customers_other_lines_neither_fails():
    # Each customer cancels one of two lines with auto-renew on; the other is due and paid
    # from money that arrived after the request. The job locks both lines' service rows and
    # the wallet; the approval refunds the wallet and switches the cancelled line's auto-renew off.
    support = make_staff("support")
    cases = []
    for _ in range(15):
        user, leaving = verified_customer()
        staying, _code = make_line(owner=user)
        services.lines_activate_waiting(user=user, actor=None)
        for line in (leaving, staying):
            billing_services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet")
        request, _created = submit(user, leaving)
        billing_services.ledger_append(user=user, kind="adjustment", amount=Decimal("100"), reference=f"a{user.pk}")
        cases.append((user, leaving, staying, request))
    Line.objects.filter(owner__in=[user for user, *_rest in cases]).update(
        validity_end=timezone.now() + timedelta(days=2)
    )

    def approve_all():
        for _user, _leaving, _staying, request in reversed(cases):  # crossing the job's path
            customer_services.cancellation_request_approve(request_id=request.pk, actor=support)

    results = run_together(lambda: billing_services.autorenew_run(chunk_size=2), approve_all)

    assert [outcome for outcome, _value in results] == ["ok", "ok"], results
    for user, leaving, _staying, request in cases:
        request.refresh_from_db()
        assert request.status == CancellationRequest.Status.APPROVED
        assert Line.objects.get(pk=leaving.pk).status == Line.Status.CANCELLED
        # Renewed before the approval (¥30 charged, ¥70 refunded) or after it (refused: nothing left).
        assert Wallet.objects.get(user=user).balance == Decimal("0.00")
