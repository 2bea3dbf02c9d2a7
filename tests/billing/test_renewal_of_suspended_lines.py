"""A suspended line never comes back into service by a renewal: paying one is refused, and lines_extend keeps it out."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import services as account_services
from accounts.models import AuditEvent, Line, Notification, User
from billing import services
from billing.models import Payment
from billing.selectors import wallet_balance
from billing.services.errors import ERR_NOT_VERIFIED, BillingError
from tests.billing.conftest import fund, renewal_order, verified_customer
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


def test_lines_extend_extends_a_suspended_line_and_keeps_it_suspended():
    user, line = verified_customer()
    end = line.validity_end
    account_services.user_revoke_real_name_verification(user=user, actor=None, reason="test")

    new_ends = account_services.lines_extend(extensions={line.pk: 1}, actor=None)

    line.refresh_from_db()
    assert line.status == Line.Status.SUSPENDED
    assert line.validity_end == new_ends[line.pk] == account_services.add_months(end, 1)


def test_lines_extend_brings_an_expired_line_back_and_keeps_an_active_one_active():
    _user, expired = verified_customer()
    _other, active = verified_customer()
    Line.objects.filter(pk=expired.pk).update(
        status=Line.Status.EXPIRED, validity_end=timezone.now() - timedelta(days=3)
    )
    now = timezone.now()

    new_ends = account_services.lines_extend(extensions={expired.pk: 1, active.pk: 3}, actor=None, now=now)

    expired.refresh_from_db()
    active.refresh_from_db()
    assert (expired.status, expired.validity_end) == (Line.Status.ACTIVE, account_services.add_months(now, 1))
    assert active.status == Line.Status.ACTIVE
    assert new_ends[active.pk] == active.validity_end
    assert AuditEvent.objects.filter(verb="line.renewed").count() == 2


def test_lines_extend_writes_many_lines_in_a_fixed_number_of_queries(django_assert_max_num_queries):
    lines = [verified_customer()[1] for _ in range(6)]

    # Savepoint, lock, one UPDATE, one INSERT of audit events, release.
    with django_assert_max_num_queries(5):
        account_services.lines_extend(extensions={line.pk: 1 for line in lines}, actor=None)

    assert AuditEvent.objects.filter(verb="line.renewed").count() == 6


def test_an_order_opened_before_a_revocation_cannot_be_paid_and_the_line_stays_suspended(plans):
    user, line = verified_customer()
    fund(user, "100")
    order = renewal_order(user, line, plans["basic"])
    end = line.validity_end
    account_services.user_revoke_real_name_verification(user=user, actor=None, reason="ID reported stolen")

    with pytest.raises(BillingError) as refused:
        services.order_pay(order_id=order.pk, method="wallet", actor=user)

    assert str(refused.value) == str(ERR_NOT_VERIFIED)
    line.refresh_from_db()
    order.refresh_from_db()
    assert order.status == "open"
    assert (line.status, line.validity_end) == (Line.Status.SUSPENDED, end)
    assert wallet_balance(user=user) == Decimal("100.00")


def test_a_provider_success_after_a_revocation_is_refunded_and_the_line_stays_suspended(plans):
    """The card was charged before the revocation landed: the money goes back, the line stays out of service."""
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    payment = Payment.objects.create(order=order, method="card", amount=order.amount, out_trade_no="P-REVOKED-1")
    account_services.user_revoke_real_name_verification(user=user, actor=None, reason="ID reported stolen")

    services.payment_record_result(out_trade_no=payment.out_trade_no, status="succeeded", transaction_id="T1")

    payment.refresh_from_db()
    order.refresh_from_db()
    line.refresh_from_db()
    assert (payment.status, payment.failure_reason) == ("refunded", "line_not_renewable")
    assert Notification.objects.filter(user=user, params__number=order.number).exists()  # told of the refund
    assert order.status == "open"
    assert line.status == Line.Status.SUSPENDED


def test_paying_at_the_counter_after_a_revocation_is_refused(plans):
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    account_services.user_revoke_real_name_verification(user=user, actor=None, reason="ID reported stolen")
    clerk = make_staff("clerk")

    with pytest.raises(BillingError):
        services.payment_record_at_store(order_id=order.pk, method="store_cash", actor=clerk)

    order.refresh_from_db()
    line.refresh_from_db()
    assert (order.status, line.status) == ("open", Line.Status.SUSPENDED)


def test_lines_extend_refuses_to_bring_back_an_expired_line_of_an_unverified_owner():
    user, line = verified_customer()
    Line.objects.filter(pk=line.pk).update(status=Line.Status.EXPIRED, validity_end=timezone.now() - timedelta(days=3))
    User.objects.filter(pk=user.pk).update(real_name_verified_at=None)

    with pytest.raises(account_services.LineError) as refused:
        account_services.lines_extend(extensions={line.pk: 1}, actor=None)

    assert str(refused.value) == str(account_services.ERR_OWNER_NOT_VERIFIED)
    line.refresh_from_db()
    assert line.status == Line.Status.EXPIRED
