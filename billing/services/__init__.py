"""Every write in the billing app: one function per state change. Import from here."""

from .autorenew import autorenew_run, autorenew_set
from .card_removal import SavedCardRemoval, saved_card_remove
from .closing import line_billing_close, wallet_refund_balance
from .errors import BillingError, ServiceEnded
from .expiry import expire_lines_run, expiry_warnings_send
from .orders import (
    check_renewable,
    line_renewals_lock,
    order_mark_paid,
    orders_expire_stale,
    renewal_order_create,
    renewal_refusal_add,
    topup_order_create,
)
from .payments import (
    PayOutcome,
    order_pay,
    payment_record_at_store,
    payment_record_result,
    payment_settle_by_query,
    payments_settle,
)
from .plans import line_services_start, plan_version_create
from .privacy import billing_erase_personal_data
from .reconciliation import discrepancy_resolve, reconcile, reconcile_yesterday
from .refunds import refund_record_result, refund_settle_by_query, refund_submit, refunds_settle
from .store import store_renewal
from .usage import ImportReport, usage_import, usage_import_stored
from .usage_partitions import usage_partitions_drop_expired, usage_partitions_ensure, usage_partitions_maintain
from .wallet import DuplicateLedgerEntry, ledger_append, wallet_get_or_create

__all__ = [
    "BillingError",
    "DuplicateLedgerEntry",
    "ImportReport",
    "PayOutcome",
    "SavedCardRemoval",
    "ServiceEnded",
    "autorenew_run",
    "autorenew_set",
    "billing_erase_personal_data",
    "check_renewable",
    "discrepancy_resolve",
    "expire_lines_run",
    "expiry_warnings_send",
    "ledger_append",
    "line_billing_close",
    "line_renewals_lock",
    "line_services_start",
    "order_mark_paid",
    "order_pay",
    "orders_expire_stale",
    "payment_record_at_store",
    "payment_record_result",
    "payment_settle_by_query",
    "payments_settle",
    "plan_version_create",
    "reconcile",
    "reconcile_yesterday",
    "refund_record_result",
    "refund_settle_by_query",
    "refund_submit",
    "refunds_settle",
    "renewal_order_create",
    "renewal_refusal_add",
    "saved_card_remove",
    "store_renewal",
    "topup_order_create",
    "usage_import",
    "usage_import_stored",
    "usage_partitions_drop_expired",
    "usage_partitions_ensure",
    "usage_partitions_maintain",
    "wallet_get_or_create",
    "wallet_refund_balance",
]
