"""The portal's tests use the accounts tests' fixtures and the billing tests' (plans, the ledger check)."""

from tests.accounts.conftest import english, sent, travel
from tests.billing.conftest import _ledger_sum_equals_balance, customer_line, plans

__all__ = ["_ledger_sum_equals_balance", "customer_line", "english", "plans", "sent", "travel"]
