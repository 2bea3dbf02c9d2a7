"""Two confirmed refunds of the same balance at once (a double tap, two tabs): one refund, on PostgreSQL."""

from decimal import Decimal

from billing import services as billing_services
from billing.models import LedgerEntry, Wallet
from tests.factories import CustomerFactory
from tests.races import RACE_MARKS, run_together

pytestmark = RACE_MARKS


def test_two_confirmed_refunds_at_once_refund_the_balance_once():
    user = CustomerFactory()
    billing_services.ledger_append(user=user, kind="topup", amount=Decimal("20"), reference="race-topup")

    def refund(reference):
        return lambda: billing_services.wallet_refund_balance(
            user=user, actor=user, reference=reference, confirmed_amount=Decimal("20.00")
        )

    results = run_together(refund("race-a"), refund("race-b"))

    assert sorted(value for _outcome, value in results) == [Decimal("0.00"), Decimal("20.00")]
    assert LedgerEntry.objects.filter(kind="refund").count() == 1
    assert Wallet.objects.get(user=user).balance == Decimal("0.00")
