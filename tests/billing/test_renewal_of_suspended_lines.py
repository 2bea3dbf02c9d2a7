"""A renewal paid for a suspended line extends it but never brings it back into service."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services as account_services
from accounts.models import AuditEvent, Line
from billing import services
from tests.billing.conftest import fund, renewal_order, verified_customer

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


def test_a_payment_after_a_revocation_extends_the_line_but_does_not_reactivate_it(plans):
    user, line = verified_customer()
    fund(user, "100")
    order = renewal_order(user, line, plans["basic"])
    account_services.user_revoke_real_name_verification(user=user, actor=None, reason="ID reported stolen")

    services.order_pay(order_id=order.pk, method="wallet", actor=user)

    line.refresh_from_db()
    order.refresh_from_db()
    assert order.status == "paid"
    assert line.status == Line.Status.SUSPENDED
    assert line.validity_end == order.new_validity_end

    # Verified again: the line comes back with the validity it was paid for.
    account_services.user_mark_real_name_verified(user=user, actor=None, channel="online")
    line.refresh_from_db()
    assert (line.status, line.validity_end) == (Line.Status.ACTIVE, order.new_validity_end)
