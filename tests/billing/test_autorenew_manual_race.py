"""Auto-renew running while customers pay their own renewals from the wallet, with real threads on PostgreSQL."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Line
from billing import services
from billing.models import LedgerEntry, Order, Plan
from tests.billing.conftest import fund, renewal_order, verified_customer, wallet_balance
from tests.races import RACE_MARKS, errors, run_together

pytestmark = RACE_MARKS


@pytest.mark.parametrize("method", ["wallet", "card"])
def test_auto_renew_and_the_customers_own_payments_of_the_same_lines_at_once_neither_fails(method):
    basic = Plan.objects.get(code="basic", is_current=True)
    due = []
    for _ in range(30):
        user, line = verified_customer()
        services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet")
        fund(user, "100")
        due.append((user, line, renewal_order(user, line, basic)))
    Line.objects.filter(pk__in=[line.pk for _user, line, _order in due]).update(
        validity_end=timezone.now() + timedelta(days=2)
    )

    def pay_all():
        for user, _line, order in reversed(due):  # crossing the job's path (it goes by line id)
            services.order_pay(order_id=order.pk, method=method, actor=user, card={"number": "4242424242424242"})

    results = run_together(lambda: services.autorenew_run(chunk_size=1), pay_all)

    assert errors(results) == []
    for user, line, order in due:
        order.refresh_from_db()
        assert order.status == Order.Status.PAID
        charges = LedgerEntry.objects.filter(wallet__user=user, kind="charge").count()
        assert wallet_balance(user) == Decimal("100.00") - 30 * charges
        paid_by_card = 1 if method == "card" else 0
        assert Order.objects.filter(line=line, status=Order.Status.PAID).count() == charges + paid_by_card
