"""Provider refunds and reconciliation under concurrency, with real threads on PostgreSQL.

Run with ``DATABASE_URL=postgres://… pytest -m postgres``; on SQLite these are skipped.
"""

from decimal import Decimal

from django.utils import timezone

from billing import services
from billing.gateways import RefundResult, StatementLine
from billing.gateways.sandbox import SandboxGateway
from billing.models import Discrepancy, LedgerEntry, Reconciliation, Refund, Wallet
from tests.billing.conftest import key, verified_customer
from tests.races import RACE_MARKS, errors, run_together, values

pytestmark = RACE_MARKS
CARD = {"number": "4242 4242 4242 4242"}


def top_up_by_card(user, amount):
    order = services.topup_order_create(user=user, amount=Decimal(amount), idempotency_key=key())
    return services.order_pay(order_id=order.pk, method="card", actor=user, card=CARD).payment


def test_two_balance_refunds_at_once_refund_the_balance_once():
    user, _line = verified_customer()
    top_up_by_card(user, "40.00")
    top_up_by_card(user, "60.00")

    results = run_together(
        *[
            lambda n=n: services.wallet_refund_balance(user=user, actor=user, reference=f"customer-refund:{n}")
            for n in range(3)
        ]
    )

    assert errors(results) == []
    assert sorted(values(results)) == [Decimal("0.00"), Decimal("0.00"), Decimal("100.00")]
    assert sum(refund.amount for refund in Refund.objects.all()) == Decimal("100.00")
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.held) == (Decimal("0.00"), Decimal("0.00"))


def test_a_confirmation_delivered_three_times_at_once_writes_one_ledger_entry(monkeypatch):
    user, _line = verified_customer()
    top_up_by_card(user, "50.00")
    monkeypatch.setattr(SandboxGateway, "refund", lambda self, **kwargs: RefundResult(status="pending"))
    services.wallet_refund_balance(user=user, actor=user, reference="customer-refund:1")
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.PENDING

    results = run_together(
        *[
            lambda: services.refund_record_result(
                out_refund_no=refund.out_refund_no, status="succeeded", amount=Decimal("50.00")
            )
            for _ in range(3)
        ]
    )

    assert errors(results) == []
    assert LedgerEntry.objects.filter(kind="refund").count() == 1
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.held) == (Decimal("0.00"), Decimal("0.00"))


def test_a_refund_confirmed_while_the_customer_spends_leaves_no_negative_balance(monkeypatch):
    user, _line = verified_customer()
    top_up_by_card(user, "50.00")
    monkeypatch.setattr(SandboxGateway, "refund", lambda self, **kwargs: RefundResult(status="pending"))
    services.wallet_refund_balance(user=user, actor=user, reference="customer-refund:1")
    refund = Refund.objects.get()

    results = run_together(
        lambda: services.refund_record_result(out_refund_no=refund.out_refund_no, status="succeeded"),
        lambda: services.ledger_append(user=user, kind="charge", amount=Decimal("-50.00"), reference="spend"),
    )

    # The held amount was never spendable: the charge is refused whichever ran first.
    assert len(errors(results)) == 1
    assert isinstance(errors(results)[0], services.BillingError)
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.held) == (Decimal("0.00"), Decimal("0.00"))


def test_two_reconciliations_of_the_same_day_at_once_write_one_report():
    day = timezone.localdate()
    lines = [StatementLine(kind="payment", out_trade_no="P-NOT-OURS", transaction_id="T1", amount=Decimal("9.90"))]

    results = run_together(
        *[lambda: services.reconcile(provider="sandbox", day=day, lines=lines, source="file") for _ in range(3)]
    )

    assert errors(results) == []
    assert Reconciliation.objects.count() == 1
    assert Discrepancy.objects.count() == 1
