"""Cancellation (注销) of a line: what blocks it, identity, one open request, support's decision.

Service tests assert both the result and the refusal (the ERR_* constants); page tests
go through the views as the customer, another customer, the wrong staff role and an
anonymous visitor.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import override

from accounts import services
from accounts.models import AuditEvent, Line, Notification, NumberQuarantine, User
from accounts.services.lines import ERR_NUMBER_QUARANTINED
from billing import services as billing_services
from billing.models import LedgerEntry, LineService, Order, Plan, Wallet
from customers import services as customer_services
from customers.models import CancellationRequest
from customers.services.cancellation import (
    ERR_ALREADY_CANCELLED,
    ERR_BALANCE,
    ERR_BINDINGS,
    ERR_NAME_MISMATCH,
    ERR_NOT_OPEN,
    ERR_NOT_YOUR_LINE,
    ERR_OPEN_ORDERS,
    ERR_PHONE_MISMATCH,
    ERR_REASON_REQUIRED,
)
from reviews import services as review_services
from reviews.demo import resident_id
from tests.factories import CustomerFactory, make_line, make_staff

pytestmark = pytest.mark.django_db

NAME = "王芳"


# Helpers -------------------------------------------------------------------------------


def verified_customer(**fields) -> tuple[User, Line]:
    """A customer verified at a desk (no submission) with one active line."""
    user = CustomerFactory(**fields)
    line, _code = make_line(owner=user)
    services.user_mark_real_name_verified(user=user, actor=None, channel="online")
    line.refresh_from_db()
    return user, line


def submit(user, line, **overrides):
    params = {
        "actor": user,
        "line_id": line.pk,
        "full_name": NAME,
        "phone": user.phone,
        "reason": CancellationRequest.Reason.MOVING_ABROAD,
        "reason_detail": "",
        "bindings": [],
    }
    params.update(overrides)
    return customer_services.cancellation_request_submit(**params)


def fund(user, amount, reference="x"):
    billing_services.ledger_append(user=user, kind="adjustment", amount=Decimal(amount), reference=reference)


def balance(user) -> Decimal:
    return Wallet.objects.filter(user=user).values_list("balance", flat=True).first() or Decimal("0.00")


def open_renewal(user, line, key="renew-1") -> Order:
    plan = Plan.objects.filter(is_current=True, is_active=True).order_by("monthly_price").first()
    return billing_services.renewal_order_create(
        user=user, line_id=line.pk, plan_id=plan.pk, term_months=1, idempotency_key=key
    )


def approve_submission_of(user, full_name=NAME):
    """Verify the customer through an online submission approved by a reviewer (no photos: fast)."""
    submission = review_services.submission_create(
        user=user,
        full_name=full_name,
        id_number=resident_id(sequence="321"),
        contact_phone=user.phone.as_e164,
        photos=None,
        actor=user,
    )
    reviewer = make_staff("reviewer")
    review_services.submission_claim(submission_id=submission.pk, actor=reviewer)
    return review_services.submission_approve(submission_id=submission.pk, actor=reviewer)


def form_data(line, **overrides):
    data = {
        "line": str(line.pk),
        "full_name": NAME,
        "phone": line.owner.phone.as_e164,
        "reason": "moving_abroad",
        "reason_detail": "",
        "bindings-TOTAL_FORMS": "3",
        "bindings-INITIAL_FORMS": "0",
        "bindings-0-name": "",
        "bindings-1-name": "",
        "bindings-2-name": "",
    }
    data.update(overrides)
    return data


def english_message(message, **params) -> str:
    with override("en"):
        return str(message) % params if params else str(message)


def shows(response, text) -> bool:
    return escape(text) in response.content.decode()


@pytest.fixture
def customer_client(client, settings):
    """A signed-in customer with one active line, reading the pages in English."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    user, line = verified_customer()
    client.force_login(user)
    client.user, client.line = user, line
    return client


@pytest.fixture
def support():
    return make_staff("support")


# Blockers: balance, unpaid orders, bound services ---------------------------------------


def test_request_is_refused_while_the_wallet_holds_money_and_nothing_is_created():
    user, line = verified_customer()
    fund(user, 20)

    with pytest.raises(customer_services.CancellationError) as refused:
        submit(user, line)

    assert str(refused.value) == str(ERR_BALANCE) % {"amount": Decimal("20.00")}
    assert "20.00" in str(refused.value)
    assert not CancellationRequest.objects.exists()
    assert not AuditEvent.objects.filter(verb="cancellation.requested").exists()


def test_request_is_refused_while_an_unpaid_order_is_open_and_the_message_names_it():
    user, line = verified_customer()
    order = open_renewal(user, line)

    with pytest.raises(customer_services.CancellationError) as refused:
        submit(user, line)

    assert str(refused.value) == str(ERR_OPEN_ORDERS) % {"numbers": order.number}
    assert order.number in str(refused.value)
    assert not CancellationRequest.objects.exists()


def test_an_expired_unpaid_order_does_not_block(travel):
    user, line = verified_customer()
    open_renewal(user, line)
    travel(timedelta(minutes=settings.ORDER_PAY_WITHIN_MINUTES + 1))

    _request, created = submit(user, line)

    assert created


def test_request_is_refused_until_every_listed_service_is_confirmed_unbound():
    user, line = verified_customer()
    bindings = [{"name": "微信", "unbound": True}, {"name": "招商银行", "unbound": False}]

    with pytest.raises(customer_services.CancellationError) as refused:
        submit(user, line, bindings=bindings)

    assert str(refused.value) == str(ERR_BINDINGS)
    assert not CancellationRequest.objects.exists()

    bindings[1]["unbound"] = True
    request, created = submit(user, line, bindings=bindings)
    assert created
    assert request.third_party_bindings == bindings


def test_cancel_page_shows_each_blocker_and_the_refund_button(customer_client):
    user, line = customer_client.user, customer_client.line
    fund(user, 20)
    order = open_renewal(user, line)

    response = customer_client.get(f"/account/cancel/?line={line.pk}")

    assert response.status_code == 200
    content = response.content.decode()
    balance_item = re.search(r'data-testid="blocker-balance">(.*?)</li>', content, re.S).group(1)
    assert escape(english_message(ERR_BALANCE, amount=Decimal("20.00"))) in balance_item
    assert 'data-testid="refund-balance"' in balance_item
    orders_item = re.search(r'data-testid="blocker-open_orders">(.*?)</li>', content, re.S).group(1)
    assert order.number in orders_item
    assert 'data-testid="no-blockers"' not in content
    assert 'data-testid="export-link"' in content


def test_cancel_page_says_nothing_blocks_when_all_is_clear(customer_client):
    response = customer_client.get(f"/account/cancel/?line={customer_client.line.pk}")

    assert response.status_code == 200
    assert 'data-testid="no-blockers"' in response.content.decode()
    assert 'data-testid="blocker-' not in response.content.decode()


def test_posting_with_a_balance_shows_the_amount_and_creates_nothing(customer_client):
    fund(customer_client.user, 20)

    response = customer_client.post("/account/cancel/", form_data(customer_client.line))

    assert response.status_code == 400
    assert shows(response, english_message(ERR_BALANCE, amount=Decimal("20.00")))
    assert not CancellationRequest.objects.exists()


def test_posting_a_bound_service_not_confirmed_unbound_is_refused(customer_client):
    data = form_data(customer_client.line, **{"bindings-0-name": "支付宝"})

    response = customer_client.post("/account/cancel/", data)

    assert response.status_code == 400
    assert shows(response, "Unbind 支付宝 from this number first, then tick this box.")
    assert not CancellationRequest.objects.exists()


def test_refunding_the_balance_empties_the_wallet_through_the_ledger_then_the_request_goes_through(customer_client):
    user, line = customer_client.user, customer_client.line
    fund(user, 20)
    cancel_page = f"/account/cancel/?line={line.pk}"

    response = customer_client.post(
        "/account/refund-balance/", {"next": cancel_page, "amount": "20.00", "confirm": "yes"}
    )

    assert response.status_code == 302
    assert response["Location"] == cancel_page
    assert balance(user) == Decimal("0.00")
    refund = LedgerEntry.objects.get(wallet__user=user, kind="refund")
    assert refund.amount == Decimal("-20.00")
    assert refund.balance_after == Decimal("0.00")

    data = form_data(line, **{"bindings-0-name": "微信", "bindings-0-unbound": "on"})
    response = customer_client.post("/account/cancel/", data)

    assert response.status_code == 302
    request = CancellationRequest.objects.get()
    assert (request.line, request.user, request.status) == (line, user, CancellationRequest.Status.OPEN)
    assert request.third_party_bindings == [{"name": "微信", "unbound": True}]
    assert request.reason == "moving_abroad"


def test_refund_with_an_empty_wallet_writes_no_ledger_entry(customer_client):
    customer_client.post("/account/refund-balance/", {"next": "/account/cancel/"})

    assert not LedgerEntry.objects.exists()


def test_refund_does_not_redirect_to_another_site(customer_client):
    fund(customer_client.user, 5)

    response = customer_client.post(
        "/account/refund-balance/", {"next": "https://evil.example/steal", "amount": "5.00", "confirm": "yes"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/account/cancel/"


# Identity ------------------------------------------------------------------------------


def test_a_phone_number_that_is_neither_the_account_nor_the_line_is_refused():
    user, line = verified_customer()

    with pytest.raises(customer_services.CancellationError) as refused:
        submit(user, line, phone="+8613012345678")

    assert str(refused.value) == str(ERR_PHONE_MISMATCH)
    assert not CancellationRequest.objects.exists()


def test_the_number_being_cancelled_is_accepted_as_the_phone():
    user, line = verified_customer()

    _request, created = submit(user, line, phone=line.msisdn)

    assert created


def test_a_name_other_than_the_approved_submissions_is_refused():
    user = CustomerFactory()
    line, _code = make_line(owner=user)
    approve_submission_of(user, full_name="王芳")
    line.refresh_from_db()
    assert line.status == Line.Status.ACTIVE

    with pytest.raises(customer_services.CancellationError) as refused:
        submit(user, line, full_name="李娜")

    assert str(refused.value) == str(ERR_NAME_MISMATCH)
    assert not CancellationRequest.objects.exists()
    # Spacing does not matter: "王 芳" is the same name.
    _request, created = submit(user, line, full_name="王 芳")
    assert created


def test_a_customer_cannot_ask_to_cancel_another_customers_line():
    _owner, line = verified_customer()
    intruder, _own_line = verified_customer()

    with CaptureQueriesContext(connection) as queries, pytest.raises(customer_services.CancellationError) as refused:
        submit(intruder, line, phone=intruder.phone)

    assert str(refused.value) == str(ERR_NOT_YOUR_LINE)
    assert not CancellationRequest.objects.exists()
    # Refused before it locks the line's service row, which the auto-renew job would then skip.
    assert not [query for query in queries if "billing_lineservice" in query["sql"]]


def test_a_cancelled_line_cannot_be_asked_for_again(support):
    user, line = verified_customer()
    request, _created = submit(user, line)
    customer_services.cancellation_request_approve(request_id=request.pk, actor=support)

    with pytest.raises(customer_services.CancellationError) as refused:
        submit(user, line)

    assert str(refused.value) == str(ERR_ALREADY_CANCELLED)
    assert CancellationRequest.objects.count() == 1


# One open request per line ---------------------------------------------------------------


def test_a_second_submit_returns_the_open_request_instead_of_a_new_one():
    user, line = verified_customer()

    first, first_created = submit(user, line)
    second, second_created = submit(user, line, reason=CancellationRequest.Reason.COST)

    assert (first_created, second_created) == (True, False)
    assert second.pk == first.pk
    assert second.reason == CancellationRequest.Reason.MOVING_ABROAD
    assert CancellationRequest.objects.count() == 1
    assert AuditEvent.objects.filter(verb="cancellation.requested").count() == 1


def test_posting_the_form_twice_shows_the_existing_request(customer_client):
    line = customer_client.line
    first = customer_client.post("/account/cancel/", form_data(line))
    assert first.status_code == 302

    second = customer_client.post("/account/cancel/", form_data(line), follow=True)

    assert second.status_code == 200
    assert 'data-testid="cancellation-existing" data-status="open"' in second.content.decode()
    assert CancellationRequest.objects.count() == 1


def test_the_database_refuses_a_second_open_request_for_the_same_line():
    user, line = verified_customer()
    submit(user, line)

    with pytest.raises(IntegrityError), transaction.atomic():
        CancellationRequest.objects.create(line=line, user=user, full_name=NAME, phone="x", reason="other")

    assert CancellationRequest.objects.count() == 1


def test_after_a_withdrawal_a_new_request_can_be_made():
    user, line = verified_customer()
    first, _created = submit(user, line)
    customer_services.cancellation_request_withdraw(request_id=first.pk, actor=user)

    second, created = submit(user, line)

    assert created
    assert second.pk != first.pk


# Withdraw and decide ---------------------------------------------------------------------


def test_the_customer_can_withdraw_an_open_request(customer_client):
    user, line = customer_client.user, customer_client.line
    request, _created = submit(user, line)

    response = customer_client.post(f"/account/cancel/{request.pk}/withdraw/")

    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == CancellationRequest.Status.WITHDRAWN
    assert AuditEvent.objects.filter(verb="cancellation.withdrawn", target_id=str(request.pk)).exists()
    line.refresh_from_db()
    assert line.status == Line.Status.ACTIVE


def test_a_withdrawn_request_cannot_be_approved_and_nothing_changes(support):
    user, line = verified_customer()
    request, _created = submit(user, line)
    customer_services.cancellation_request_withdraw(request_id=request.pk, actor=user)
    fund(user, 7)

    with pytest.raises(customer_services.CancellationError) as refused:
        customer_services.cancellation_request_approve(request_id=request.pk, actor=support)

    assert str(refused.value) == str(ERR_NOT_OPEN)
    request.refresh_from_db()
    line.refresh_from_db()
    assert request.status == CancellationRequest.Status.WITHDRAWN
    assert request.decided_by is None
    assert line.status == Line.Status.ACTIVE
    assert line.cancelled_at is None
    assert not NumberQuarantine.objects.exists()
    assert balance(user) == Decimal("7.00")
    assert not AuditEvent.objects.filter(verb__in=["cancellation.approved", "line.cancelled"]).exists()


def test_withdrawing_twice_is_refused():
    user, line = verified_customer()
    request, _created = submit(user, line)
    customer_services.cancellation_request_withdraw(request_id=request.pk, actor=user)

    with pytest.raises(customer_services.CancellationError) as refused:
        customer_services.cancellation_request_withdraw(request_id=request.pk, actor=user)

    assert str(refused.value) == str(ERR_NOT_OPEN)


def test_reject_needs_a_note_and_leaves_the_request_open_without_one(support):
    user, line = verified_customer()
    request, _created = submit(user, line)

    with pytest.raises(customer_services.CancellationError) as refused:
        customer_services.cancellation_request_reject(request_id=request.pk, actor=support, note="   ")

    assert str(refused.value) == str(ERR_REASON_REQUIRED)
    request.refresh_from_db()
    assert request.status == CancellationRequest.Status.OPEN

    customer_services.cancellation_request_reject(
        request_id=request.pk, actor=support, note="  Unpaid usage charges.  "
    )

    request.refresh_from_db()
    line.refresh_from_db()
    assert request.status == CancellationRequest.Status.REJECTED
    assert (request.decided_by, request.decision_note) == (support, "Unpaid usage charges.")
    assert line.status == Line.Status.ACTIVE
    assert Notification.objects.filter(user=user, params__reason="Unpaid usage charges.").exists()


def test_a_decided_request_cannot_be_decided_again(support):
    user, line = verified_customer()
    request, _created = submit(user, line)
    customer_services.cancellation_request_reject(request_id=request.pk, actor=support, note="No.")

    with pytest.raises(customer_services.CancellationError) as refused:
        customer_services.cancellation_request_approve(request_id=request.pk, actor=support)

    assert str(refused.value) == str(ERR_NOT_OPEN)
    line.refresh_from_db()
    assert line.status == Line.Status.ACTIVE


def test_approval_is_refused_while_an_order_opened_after_the_request_is_unpaid(support, monkeypatch):
    user, line = verified_customer()
    request, _created = submit(user, line)
    # A renewal is refused once the request exists; this order stands for one whose request
    # checked just before the cancellation request committed.
    monkeypatch.setattr("billing.services.orders._renewal_refusals", [])
    order = open_renewal(user, line)
    monkeypatch.undo()

    with pytest.raises(customer_services.CancellationError) as refused:
        customer_services.cancellation_request_approve(request_id=request.pk, actor=support)

    assert order.number in str(refused.value)
    request.refresh_from_db()
    line.refresh_from_db()
    assert request.status == CancellationRequest.Status.OPEN
    assert line.status == Line.Status.ACTIVE


# Approval --------------------------------------------------------------------------------


def test_approval_cancels_the_line_refunds_stops_auto_renew_quarantines_and_audits(support, sms_outbox, sent):
    user, line = verified_customer()
    billing_services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet")
    request, _created = submit(user, line)
    fund(user, 20)  # money arrived after the request was filed
    earlier_notifications = set(Notification.objects.values_list("pk", flat=True))

    with sent():
        customer_services.cancellation_request_approve(request_id=request.pk, actor=support, note="Done")
        # Nothing leaves before the commit.
        assert sms_outbox == []
        assert mail.outbox == []

    line.refresh_from_db()
    request.refresh_from_db()
    user.refresh_from_db()
    assert line.status == Line.Status.CANCELLED
    assert line.cancelled_at is not None
    assert request.status == CancellationRequest.Status.APPROVED
    assert (request.decided_by, request.decision_note) == (support, "Done")
    assert LineService.objects.get(line=line).auto_renew is False
    # The balance is handed back through the ledger.
    refund = LedgerEntry.objects.get(wallet__user=user, kind="refund")
    assert (refund.amount, refund.reference) == (Decimal("-20.00"), f"cancellation:{request.pk}")
    assert balance(user) == Decimal("0.00")
    # The number rests for NUMBER_QUARANTINE_DAYS.
    quarantine = NumberQuarantine.objects.get(msisdn=line.msisdn)
    expected_until = line.cancelled_at + timedelta(days=settings.NUMBER_QUARANTINE_DAYS)
    assert abs(quarantine.until - expected_until) < timedelta(seconds=5)
    # Told by SMS, email and in-app message.
    number = line.msisdn.as_national
    assert any(message["to"] == user.phone.as_e164 and number in message["text"] for message in sms_outbox)
    assert any(email.to == [user.email] and number in email.body for email in mail.outbox)
    new_notifications = Notification.objects.filter(user=user).exclude(pk__in=earlier_notifications)
    assert new_notifications.filter(params__number=number, link="/account/").count() == 1
    # Audited.
    approved = AuditEvent.objects.get(verb="cancellation.approved", target_id=str(request.pk))
    assert approved.actor == support
    assert approved.subject_user == user
    assert approved.data["refunded"] == "20.00"
    assert AuditEvent.objects.filter(verb="line.cancelled", target_id=str(line.pk), actor=support).exists()
    # Their only line is gone: service ended.
    assert user.service_ended_at is not None


def test_quarantine_length_follows_the_setting(support, settings):
    settings.NUMBER_QUARANTINE_DAYS = 30
    user, line = verified_customer()
    request, _created = submit(user, line)

    customer_services.cancellation_request_approve(request_id=request.pk, actor=support)

    line.refresh_from_db()
    until = NumberQuarantine.objects.get(msisdn=line.msisdn).until
    assert abs(until - (line.cancelled_at + timedelta(days=30))) < timedelta(seconds=5)


def test_a_quarantined_number_is_not_reissued_until_the_quarantine_ends(support, travel):
    user, line = verified_customer()
    request, _created = submit(user, line)
    customer_services.cancellation_request_approve(request_id=request.pk, actor=support)
    number = line.msisdn

    with pytest.raises(services.LineError) as refused:
        services.line_create(msisdn=number, iccid="89860000000000000001")
    until = NumberQuarantine.objects.get(msisdn=number).until
    assert str(refused.value) == str(ERR_NUMBER_QUARANTINED) % {"until": timezone.localtime(until).date()}

    travel(timedelta(days=settings.NUMBER_QUARANTINE_DAYS) - timedelta(hours=1))
    with pytest.raises(services.LineError):
        services.line_create(msisdn=number, iccid="89860000000000000002")
    assert Line.objects.filter(msisdn=number).count() == 1

    travel(timedelta(hours=2))
    reissued, _code = services.line_create(msisdn=number, iccid="89860000000000000003")

    assert reissued.msisdn == number
    assert reissued.status == Line.Status.INACTIVE
    assert Line.objects.filter(msisdn=number).count() == 2


def test_a_number_whose_quarantine_was_lifted_can_be_reissued(support):
    user, line = verified_customer()
    request, _created = submit(user, line)
    customer_services.cancellation_request_approve(request_id=request.pk, actor=support)
    NumberQuarantine.objects.filter(msisdn=line.msisdn).update(until=timezone.now() - timedelta(minutes=1))

    reissued, _code = services.line_create(msisdn=line.msisdn, iccid="89860000000000000004")

    assert reissued.pk != line.pk


def test_service_ends_only_when_the_last_line_is_cancelled(support):
    user, first = verified_customer()
    second, _code = make_line(owner=user)
    second.refresh_from_db()
    assert second.status == Line.Status.ACTIVE

    request, _created = submit(user, first)
    customer_services.cancellation_request_approve(request_id=request.pk, actor=support)
    user.refresh_from_db()
    assert user.service_ended_at is None

    request, _created = submit(user, second)
    customer_services.cancellation_request_approve(request_id=request.pk, actor=support)
    user.refresh_from_db()
    assert user.service_ended_at is not None


def test_support_approves_through_the_page(client, support, sent, sms_outbox):
    user, line = verified_customer()
    request, _created = submit(user, line)
    client.force_login(support)

    queue = client.get("/staff/cancellations/")
    assert queue.status_code == 200
    assert f"/staff/cancellations/{request.pk}/" in queue.content.decode()
    with sent():
        response = client.post(f"/staff/cancellations/{request.pk}/", {"decision": "approve", "note": ""})

    assert response.status_code == 302
    line.refresh_from_db()
    assert line.status == Line.Status.CANCELLED
    assert any(message["to"] == user.phone.as_e164 for message in sms_outbox)


def test_support_rejecting_without_a_note_sees_the_error_and_nothing_changes(client, support, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    user, line = verified_customer()
    request, _created = submit(user, line)
    client.force_login(support)

    response = client.post(f"/staff/cancellations/{request.pk}/", {"decision": "reject", "note": ""})

    assert response.status_code == 409
    assert shows(response, english_message(ERR_REASON_REQUIRED))
    request.refresh_from_db()
    assert request.status == CancellationRequest.Status.OPEN


# Permissions -------------------------------------------------------------------------------


def test_another_customer_cannot_open_or_post_for_someone_elses_line(client):
    _owner, line = verified_customer()
    intruder, _own_line = verified_customer()
    client.force_login(intruder)

    assert client.get(f"/account/cancel/?line={line.pk}").status_code == 404
    response = client.post("/account/cancel/", form_data(line, phone=intruder.phone.as_e164))

    assert response.status_code == 404
    assert not CancellationRequest.objects.exists()


def test_another_customer_cannot_withdraw_someone_elses_request(client):
    owner, line = verified_customer()
    request, _created = submit(owner, line)
    intruder, _own_line = verified_customer()
    client.force_login(intruder)

    response = client.post(f"/account/cancel/{request.pk}/withdraw/")

    # Someone else's request answers exactly like a missing one.
    assert response.status_code == 404
    assert client.post("/account/cancel/999999/withdraw/").status_code == 404
    request.refresh_from_db()
    assert request.status == CancellationRequest.Status.OPEN
    with pytest.raises(customer_services.CancellationError):
        customer_services.cancellation_request_withdraw(request_id=request.pk, actor=intruder)


def test_another_customers_open_request_is_not_shown(client):
    owner, line = verified_customer()
    submit(owner, line)
    intruder, own_line = verified_customer()
    client.force_login(intruder)

    response = client.get(f"/account/cancel/?line={own_line.pk}")

    assert response.status_code == 200
    assert 'data-testid="cancellation-existing"' not in response.content.decode()
    assert line.msisdn.as_national not in response.content.decode()


@pytest.mark.parametrize("role", ["reviewer", "clerk", "senior_reviewer"])
def test_staff_without_the_permission_get_403_and_cannot_decide(client, role):
    user, line = verified_customer()
    request, _created = submit(user, line)
    client.force_login(make_staff(role))

    assert client.get("/staff/cancellations/").status_code == 403
    assert client.get(f"/staff/cancellations/{request.pk}/").status_code == 403
    response = client.post(f"/staff/cancellations/{request.pk}/", {"decision": "approve", "note": ""})

    assert response.status_code == 403
    request.refresh_from_db()
    assert request.status == CancellationRequest.Status.OPEN


def test_a_customer_gets_403_on_the_support_queue(client):
    user, _line = verified_customer()
    client.force_login(user)

    assert client.get("/staff/cancellations/").status_code == 403


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/account/cancel/"),
        ("post", "/account/cancel/"),
        ("post", "/account/cancel/1/withdraw/"),
        ("post", "/account/refund-balance/"),
        ("get", "/account/export/"),
        ("get", "/staff/cancellations/"),
        ("post", "/staff/cancellations/1/"),
    ],
)
def test_anonymous_visitors_are_sent_to_sign_in(client, method, url):
    response = getattr(client, method)(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_cancel_form_needs_a_csrf_token():
    user, line = verified_customer()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post("/account/cancel/", form_data(line))

    assert response.status_code == 403
    assert not CancellationRequest.objects.exists()


def test_refunding_the_balance_needs_a_csrf_token():
    user, _line = verified_customer()
    fund(user, 20)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post("/account/refund-balance/", {"next": "/account/cancel/"})

    assert response.status_code == 403
    assert balance(user) == Decimal("20.00")
