"""Every write in the accounts app: one function per state change.

Import from here (``from accounts import services``); the submodules group them.
"""

from .audit import audit_record, audit_record_many
from .cancellation import (
    CancellationError,
    cancellation_blockers,
    cancellation_request_approve,
    cancellation_request_reject,
    cancellation_request_submit,
    cancellation_request_withdraw,
)
from .codes import CodeError, one_time_code_issue, one_time_code_verify
from .lines import (
    LineError,
    add_months,
    customer_for_desk,
    line_attach,
    line_cancel,
    line_create,
    lines_activate_waiting,
    lines_expire_lapsed,
    lines_extend,
    user_mark_real_name_verified,
    user_revoke_real_name_verification,
)
from .messages import (
    notification_mark_all_read,
    notify,
    notify_many,
    outbox_dispatch_due,
    outbox_queue,
    outbox_send,
    outbox_send_queued,
)
from .privacy import personal_data_purge, user_erase_personal_data
from .support import (
    SupportError,
    support_message_add,
    support_thread_assign,
    support_thread_close,
    support_thread_open,
)
from .twofactor import (
    staff_recovery_codes_reset,
    staff_second_factor_verify,
    staff_totp_device,
    staff_totp_enrolment_confirm,
    staff_totp_enrolment_start,
)
from .users import (
    RegistrationError,
    customer_confirm_registration,
    customer_register,
    login_code_request,
    login_code_verify,
    password_reset_confirm,
    password_reset_request,
    staff_user_create,
)

__all__ = [
    "CancellationError",
    "CodeError",
    "LineError",
    "RegistrationError",
    "SupportError",
    "add_months",
    "audit_record",
    "audit_record_many",
    "cancellation_blockers",
    "cancellation_request_approve",
    "cancellation_request_reject",
    "cancellation_request_submit",
    "cancellation_request_withdraw",
    "customer_confirm_registration",
    "customer_for_desk",
    "customer_register",
    "line_attach",
    "line_cancel",
    "line_create",
    "lines_activate_waiting",
    "lines_expire_lapsed",
    "lines_extend",
    "login_code_request",
    "login_code_verify",
    "notification_mark_all_read",
    "notify",
    "notify_many",
    "one_time_code_issue",
    "one_time_code_verify",
    "outbox_dispatch_due",
    "outbox_queue",
    "outbox_send",
    "outbox_send_queued",
    "password_reset_confirm",
    "password_reset_request",
    "personal_data_purge",
    "staff_recovery_codes_reset",
    "staff_second_factor_verify",
    "staff_totp_device",
    "staff_totp_enrolment_confirm",
    "staff_totp_enrolment_start",
    "staff_user_create",
    "support_message_add",
    "support_thread_assign",
    "support_thread_close",
    "support_thread_open",
    "user_erase_personal_data",
    "user_mark_real_name_verified",
    "user_revoke_real_name_verification",
]
