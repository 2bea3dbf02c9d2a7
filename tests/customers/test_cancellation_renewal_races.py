"""A cancellation request at the moment a renewal of its line is under way, with real threads on PostgreSQL.

"A line whose cancellation is requested is not renewed" must hold when the customer asks
while the auto-renew job (or a clerk at a store) renews the line: the renewal checks for a
request after it holds the line's service row, and the request takes that row before it
is made, so one waits for the other. Each test pauses one side inside its transaction
(``Pause``) and runs the other meanwhile: the interleaving is certain, not lucky.
"""

from datetime import timedelta

from django.utils import timezone

from accounts.models import AuditEvent, Line
from billing import services as billing_services
from billing.models import LedgerEntry, Order, Payment, Plan, SavedCard
from customers import services as customer_services
from customers.models import CancellationRequest
from customers.services.cancellation import ERR_CANCELLATION_REQUESTED
from tests.billing.conftest import ID_NUMBER, approved_identity, key
from tests.billing.test_store import clerk_at
from tests.customers.test_cancellation import fund, submit, verified_customer
from tests.races import RACE_MARKS, Pause, run_while_held

pytestmark = RACE_MARKS


def due_with_auto_renew(user, line):
    billing_services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet")
    Line.objects.filter(pk=line.pk).update(validity_end=timezone.now() + timedelta(days=2))


def no_renewal_after_a_request():
    """Whether every order paid came before any cancellation request was made (audit events go in order)."""
    requested = AuditEvent.objects.filter(verb="cancellation.requested").values_list("pk", flat=True)
    paid = AuditEvent.objects.filter(verb="order.paid").values_list("pk", flat=True)
    return all(p < r for p in paid for r in requested)


def test_a_request_made_while_the_job_holds_the_line_waits_for_the_job(monkeypatch):
    # The job has found no request and holds the line's service row; the customer asks to
    # cancel, then money arrives. Before, the request went through at once and the job,
    # let go, spent the new money renewing a line whose cancellation was requested.
    user, line = verified_customer()
    due_with_auto_renew(user, line)
    pause = Pause(monkeypatch, "billing.services.autorenew.renewals_refused")

    def ask_then_top_up():
        request = submit(user, line)
        fund(user, 100)
        return request

    job, asked, returned_while_held = run_while_held(billing_services.autorenew_run, ask_then_top_up, pause=pause)

    assert job[0] == "ok" and asked[0] == "ok", (job, asked)
    assert no_renewal_after_a_request()
    assert not returned_while_held  # the request waited for the job's service row
    # The job went first: no money yet, so nothing renewed (a failed attempt, as without the request).
    assert job[1]["renewed"] == 0
    assert not LedgerEntry.objects.filter(wallet__user=user, kind="charge").exists()
    assert CancellationRequest.objects.filter(line=line, status=CancellationRequest.Status.OPEN).exists()
    assert no_renewal_after_a_request()


def test_a_request_made_while_the_job_charges_the_saved_card_waits_instead_of_a_charge_and_refund(monkeypatch):
    # The card path checks again under the service row before it opens the order and charges.
    # Before, a request made just then went through, the card was charged and, the payment
    # refused when it was recorded, refunded: money moved for nothing.
    user, line = verified_customer()
    SavedCard.objects.create(user=user, token="tok-visa-1", last4="4242")
    billing_services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet_then_card")
    Line.objects.filter(pk=line.pk).update(validity_end=timezone.now() + timedelta(days=2))
    pause = Pause(monkeypatch, "billing.services.autorenew.renewals_refused", call=2)  # the card's own check

    job, asked, returned_while_held = run_while_held(
        billing_services.autorenew_run, lambda: submit(user, line), pause=pause
    )

    assert job[0] == "ok", job
    assert not Payment.objects.filter(status=Payment.Status.REFUNDED).exists()
    assert job[1]["card_renewed"] == 1
    assert not returned_while_held  # the request waited for the job's service row
    # Then the request saw the card payment (refused: wait for it to settle) or came after it.
    if asked[0] == "error":
        assert isinstance(asked[1], customer_services.CancellationError)
        assert {problem.code for problem in asked[1].problems} & {"open_orders", "unsettled_payments"}
    assert no_renewal_after_a_request()


def test_the_job_skips_a_line_while_its_cancellation_request_is_being_made(monkeypatch):
    # The request has checked what is open (nothing, the wallet empty) and not committed; money
    # arrives and the job runs. Before, the job found no request, waited for the line and renewed it.
    user, line = verified_customer()
    due_with_auto_renew(user, line)
    pause = Pause(monkeypatch, "customers.services.cancellation.cancellation_blockers")

    def top_up_then_run_the_job():
        fund(user, 100)
        return billing_services.autorenew_run()

    asked, job, returned_while_held = run_while_held(lambda: submit(user, line), top_up_then_run_the_job, pause=pause)

    assert asked[0] == "ok" and job[0] == "ok", (asked, job)
    assert no_renewal_after_a_request()
    assert returned_while_held  # the job did not wait: it left the line to the request (SKIP LOCKED)
    assert job[1]["renewed"] == 0
    assert not LedgerEntry.objects.filter(wallet__user=user, kind="charge").exists()
    assert not Order.objects.filter(line=line, status=Order.Status.PAID).exists()
    assert CancellationRequest.objects.filter(line=line, status=CancellationRequest.Status.OPEN).exists()
    assert no_renewal_after_a_request()


def test_a_store_renewal_while_the_cancellation_request_is_being_made_is_refused(monkeypatch):
    # The order paths had no such gap (this passed before the fix too): a request locks the
    # line, so a new order of it (its foreign key) waits for the request, and an order open
    # before it refuses the request (ERR_OPEN_ORDERS); paying checks again under the service row.
    user, line = verified_customer()
    approved_identity(user, ID_NUMBER)
    clerk = clerk_at()
    plan = Plan.objects.get(code="basic", is_current=True)
    old_end = line.validity_end
    pause = Pause(monkeypatch, "customers.services.cancellation.cancellation_blockers")

    def renew_at_counter():
        return billing_services.store_renewal(
            actor=clerk, msisdn=line.msisdn, id_number=ID_NUMBER, plan_id=plan.pk, term_months=1,
            method="store_cash", idempotency_key=key(),
        )  # fmt: skip

    asked, renewed, returned_while_held = run_while_held(
        lambda: submit(user, line, full_name="王小明"), renew_at_counter, pause=pause
    )

    assert asked[0] == "ok", asked
    assert not returned_while_held  # the payment waited for the request
    assert renewed[0] == "error" and isinstance(renewed[1], billing_services.BillingError), renewed
    assert str(renewed[1]) == str(ERR_CANCELLATION_REQUESTED)
    line.refresh_from_db()
    assert line.validity_end == old_end
    assert not Order.objects.filter(line=line, status=Order.Status.PAID).exists()
    assert no_renewal_after_a_request()
