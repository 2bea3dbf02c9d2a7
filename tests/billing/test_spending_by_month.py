"""Spending per month: renewals count, top-ups do not, a refunded balance was never spent (problem 4)."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from billing import selectors, services
from billing.models import Order
from tests.billing.conftest import fund, key, renewal_order, verified_customer

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def pay_renewal_from_wallet(user, line, plan, term_months=1) -> Order:
    order = renewal_order(user, line, plan, term_months=term_months)
    services.order_pay(order_id=order.pk, method="wallet", actor=user)
    return Order.objects.get(pk=order.pk)


def paid_top_up(user, amount) -> Order:
    order = services.topup_order_create(user=user, amount=Decimal(amount), idempotency_key=key())
    outcome = services.order_pay(
        order_id=order.pk, method="card", actor=user, card={"number": "4242424242424242", "save": False}
    )
    assert outcome.order.status == Order.Status.PAID
    return outcome.order


def spent_this_month(user) -> Decimal:
    rows = selectors.usage_by_month(user=user)
    return rows[0]["spent"] if rows else Decimal("0")


def test_renewals_count_a_refunded_top_up_does_not(plans):
    user, line = verified_customer()
    fund(user, 210)  # money for the two renewals, already in the wallet
    pay_renewal_from_wallet(user, line, plans["standard"], term_months=3)  # ¥180
    pay_renewal_from_wallet(user, line, plans["basic"])  # ¥30
    paid_top_up(user, 100)
    services.wallet_refund_balance(user=user, actor=user, reference="test-refund")

    assert spent_this_month(user) == Decimal("210.00")


def test_a_renewal_paid_from_a_top_up_counts_once():
    user, line = verified_customer()
    plans = {plan.code: plan for plan in selectors.plans_on_sale()}
    paid_top_up(user, 100)
    pay_renewal_from_wallet(user, line, plans["basic"])

    assert spent_this_month(user) == Decimal("30.00")


def test_a_month_of_top_ups_only_spends_nothing():
    user, _line = verified_customer()
    paid_top_up(user, 100)

    assert spent_this_month(user) == Decimal("0")


def test_renewals_fall_in_the_month_they_were_paid_in_shanghai_time(plans, monkeypatch):
    user, line = verified_customer()
    fund(user, 60)
    # 23:30 on 31 October in Shanghai is 15:30 UTC: October's spending.
    for moment in (datetime(2026, 10, 31, 23, 30, tzinfo=SHANGHAI), datetime(2026, 11, 1, 0, 30, tzinfo=SHANGHAI)):
        monkeypatch.setattr(timezone, "now", lambda moment=moment: moment)
        pay_renewal_from_wallet(user, line, plans["basic"])

    rows = {row["month"].strftime("%Y-%m"): row["spent"] for row in selectors.usage_by_month(user=user)}
    assert rows == {"2026-11": Decimal("30.00"), "2026-10": Decimal("30.00")}
