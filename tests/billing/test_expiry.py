"""The expiry job: lapsed lines expire after the grace period; warnings 7 days and 1 day before; stale orders close."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Line, Notification
from billing import services
from billing.models import LineService, Order
from tests.billing.conftest import fund, renewal_order, verified_customer

pytestmark = pytest.mark.django_db


def line_ending_in(delta: timedelta, *, status=Line.Status.ACTIVE, with_service=True):
    """A verified customer's line whose validity ends ``delta`` from now: (user, line)."""
    user, line = verified_customer()
    if with_service:
        services.autorenew_set(actor=user, line_id=line.pk, enabled=False, method="wallet")
    Line.objects.filter(pk=line.pk).update(validity_end=timezone.now() + delta, status=status)
    line.refresh_from_db()
    return user, line


def warnings_to(user):
    return Notification.objects.filter(user=user, link="/billing/renew/")


def test_a_line_past_validity_and_grace_expires_and_the_owner_is_told(settings):
    settings.LINE_EXPIRY_GRACE_DAYS = 15
    user, lapsed = line_ending_in(-timedelta(days=15, minutes=1))
    _other, in_grace = line_ending_in(-timedelta(days=14, hours=23))
    _third, valid = line_ending_in(timedelta(days=30))

    counts = services.expire_lines_run()

    assert counts["expired"] == 1
    assert {line.pk: line.status for line in Line.objects.filter(pk__in=[lapsed.pk, in_grace.pk, valid.pk])} == {
        lapsed.pk: "expired",
        in_grace.pk: "active",
        valid.pk: "active",
    }
    assert warnings_to(user).count() == 1


def test_the_grace_period_is_configurable(settings):
    settings.LINE_EXPIRY_GRACE_DAYS = 0
    _user, line = line_ending_in(-timedelta(minutes=5))

    services.expire_lines_run()

    line.refresh_from_db()
    assert line.status == Line.Status.EXPIRED


def test_expiry_runs_again_without_touching_expired_lines():
    user, _line = line_ending_in(-timedelta(days=30))
    services.expire_lines_run()

    counts = services.expire_lines_run()

    assert counts["expired"] == 0
    assert warnings_to(user).count() == 1


def test_suspended_and_cancelled_lines_are_not_expired():
    _user, suspended = line_ending_in(-timedelta(days=30), status=Line.Status.SUSPENDED)

    services.expire_lines_run()

    suspended.refresh_from_db()
    assert suspended.status == Line.Status.SUSPENDED


def test_an_expired_line_renewed_comes_back_into_service(plans):
    user, line = line_ending_in(-timedelta(days=30))
    services.expire_lines_run()
    fund(user, "30")
    order = renewal_order(user, line, plans["basic"])

    services.order_pay(order_id=order.pk, method="wallet", actor=user)

    line.refresh_from_db()
    assert line.status == Line.Status.ACTIVE
    assert line.validity_end > timezone.now() + timedelta(days=27)


def test_warnings_go_out_seven_days_and_one_day_before_once_each():
    user, line = line_ending_in(timedelta(days=6, hours=12))
    end = line.validity_end
    now = timezone.now()

    assert services.expiry_warnings_send(now=now) == 1
    assert services.expiry_warnings_send(now=now) == 0
    assert services.expiry_warnings_send(now=now + timedelta(days=3)) == 0
    assert services.expiry_warnings_send(now=end - timedelta(hours=23)) == 1
    assert services.expiry_warnings_send(now=end - timedelta(hours=2)) == 0

    assert warnings_to(user).count() == 2
    assert LineService.objects.get(line=line).expiry_warning_sent_for.endswith(":1")


def test_a_line_first_seen_within_a_day_gets_only_the_last_warning():
    user, _line = line_ending_in(timedelta(hours=20))

    assert services.expiry_warnings_send() == 1
    assert services.expiry_warnings_send() == 0
    assert warnings_to(user).count() == 1


def test_a_renewed_line_is_warned_again_for_its_new_period():
    user, line = line_ending_in(timedelta(days=5))
    services.expiry_warnings_send()
    Line.objects.filter(pk=line.pk).update(validity_end=timezone.now() + timedelta(days=40))

    assert services.expiry_warnings_send(now=timezone.now() + timedelta(days=34)) == 1
    assert warnings_to(user).count() == 2


def test_lines_with_auto_renew_on_are_not_warned(settings):
    user, line = verified_customer()
    services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet")
    Line.objects.filter(pk=line.pk).update(validity_end=timezone.now() + timedelta(days=5))

    assert services.expiry_warnings_send() == 0
    assert not warnings_to(user).exists()


def test_lines_far_from_their_end_are_not_warned():
    user, _line = line_ending_in(timedelta(days=8))

    assert services.expiry_warnings_send() == 0
    assert not warnings_to(user).exists()


def test_stale_open_orders_are_closed_and_fresh_ones_kept(plans):
    user, line = verified_customer()
    stale = renewal_order(user, line, plans["basic"])
    fresh = renewal_order(user, line, plans["basic"])
    paid = renewal_order(user, line, plans["basic"])
    fund(user, "30")
    services.order_pay(order_id=paid.pk, method="wallet", actor=user)
    Order.objects.filter(pk__in=[stale.pk, paid.pk]).update(expires_at=timezone.now() - timedelta(minutes=1))

    counts = services.expire_lines_run()

    assert counts["orders_closed"] == 1
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {stale.pk: "expired", fresh.pk: "open", paid.pk: "paid"}


def test_the_command_reports_its_counts():
    line_ending_in(-timedelta(days=20))
    line_ending_in(timedelta(days=3))
    out = io.StringIO()

    call_command("expire_lines", stdout=out)

    assert out.getvalue().strip() == "expired=1 orders_closed=0 warned=1"


def test_a_line_never_renewed_is_warned_before_its_first_year_ends():
    user, _line = line_ending_in(timedelta(days=5), with_service=False)

    assert services.expiry_warnings_send() == 1
    assert warnings_to(user).count() == 1
