"""A top-up and the approval that ends the customer's service, at the same moment, with real threads on PostgreSQL.

The approval of a last line's cancellation holds the customer's row while it checks that
no order or payment is open and ends the service; opening a top-up takes the same row
before it writes. Each test pauses one side inside its transaction (``Pause``): the
interleaving is certain, not lucky.
"""

from decimal import Decimal

from accounts.models import Line
from billing import services
from billing.models import Order
from billing.services.errors import ERR_SERVICE_ENDED
from customers import services as customer_services
from customers.models import CancellationRequest
from tests.billing.conftest import key, verified_customer
from tests.customers.test_cancellation import submit
from tests.factories import make_staff
from tests.races import RACE_MARKS, Pause, run_while_held

pytestmark = RACE_MARKS


def test_a_top_up_opened_while_the_approval_ends_the_service_waits_and_is_refused(monkeypatch):
    # The approval has checked that nothing is open and holds the customer. Before, the top-up
    # took no lock and was opened at once, to be paid into an account with no service.
    user, line = verified_customer()
    request, _created = submit(user, line)
    support = make_staff("support")
    pause = Pause(monkeypatch, "customers.services.cancellation.cancellation_blockers")

    approved, topped_up, returned_while_held = run_while_held(
        lambda: customer_services.cancellation_request_approve(request_id=request.pk, actor=support),
        lambda: services.topup_order_create(user=user, amount=Decimal("50"), idempotency_key=key()),
        pause=pause,
    )

    assert approved[0] == "ok", approved
    assert not returned_while_held  # it waited for the customer's row
    assert topped_up[0] == "error" and isinstance(topped_up[1], services.ServiceEnded), topped_up
    assert str(topped_up[1]) == str(ERR_SERVICE_ENDED)
    assert not Order.objects.filter(user=user).exists()
    assert Line.objects.get(pk=line.pk).status == Line.Status.CANCELLED


def test_an_approval_while_a_top_up_is_being_opened_waits_and_sees_the_order(monkeypatch):
    # The top-up holds the customer and is about to write its order: the approval waits for
    # it, then finds the unpaid order and refuses, as for any order open before it.
    user, line = verified_customer()
    request, _created = submit(user, line)
    support = make_staff("support")
    pause = Pause(monkeypatch, "billing.services.orders._create_once")

    topped_up, approved, returned_while_held = run_while_held(
        lambda: services.topup_order_create(user=user, amount=Decimal("50"), idempotency_key=key()),
        lambda: customer_services.cancellation_request_approve(request_id=request.pk, actor=support),
        pause=pause,
    )

    assert topped_up[0] == "ok", topped_up
    assert not returned_while_held
    assert approved[0] == "error" and isinstance(approved[1], customer_services.CancellationError), approved
    assert topped_up[1].number in str(approved[1])
    assert CancellationRequest.objects.get(pk=request.pk).status == CancellationRequest.Status.OPEN
    assert Line.objects.get(pk=line.pk).status == Line.Status.ACTIVE
    user.refresh_from_db()
    assert user.service_ended_at is None
