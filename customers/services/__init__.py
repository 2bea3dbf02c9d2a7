"""Every write of the customer portal: one function per state change.

Import from here (``from customers import services``); the submodules group them.
"""

from .cancellation import (
    CHECKLIST_CODES,
    Blocker,
    CancellationError,
    cancellation_blockers,
    cancellation_identity_problems,
    cancellation_request_approve,
    cancellation_request_reject,
    cancellation_request_submit,
    cancellation_request_withdraw,
)
from .privacy import personal_data_purge, user_erase_personal_data
from .staff import customer_id_numbers_reveal
from .support import (
    SupportError,
    support_message_add,
    support_thread_assign,
    support_thread_close,
    support_thread_open,
)

__all__ = [
    "CHECKLIST_CODES",
    "Blocker",
    "CancellationError",
    "SupportError",
    "cancellation_blockers",
    "cancellation_identity_problems",
    "cancellation_request_approve",
    "cancellation_request_reject",
    "cancellation_request_submit",
    "cancellation_request_withdraw",
    "customer_id_numbers_reveal",
    "personal_data_purge",
    "support_message_add",
    "support_thread_assign",
    "support_thread_close",
    "support_thread_open",
    "user_erase_personal_data",
]
