"""Every write in the accounts app: one function per state change.

Import from here (``from accounts import services``); the submodules group them.
"""

from accounts.outbox import outbox_dispatch_due, outbox_send, outbox_send_queued

from .audit import audit_record, audit_record_many
from .codes import (
    CodeError,
    one_time_code_issue,
    one_time_code_issue_without_account,
    one_time_code_verify,
    one_time_code_verify_without_account,
    registration_code_issue,
)
from .lines import (
    ERR_LINE_LIMIT,
    ERR_OWNER_NOT_VERIFIED,
    LineError,
    LineLimitExceeded,
    add_months,
    customer_for_desk,
    line_attach,
    line_cancel,
    line_create,
    lines_activate_waiting,
    lines_activation_allow,
    lines_expire_lapsed,
    lines_extend,
    user_mark_real_name_verified,
    user_revoke_real_name_verification,
)
from .messages import (
    notification_mark_all_read,
    notify,
    notify_many,
    outbox_queue,
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
    customer_erase_personal_data,
    customer_mark_service_ended,
    customer_register,
    login_code_request,
    login_code_verify,
    password_reset_confirm,
    password_reset_request,
    registration_code_resend,
    staff_user_create,
)

__all__ = [
    "ERR_LINE_LIMIT",
    "ERR_OWNER_NOT_VERIFIED",
    "CodeError",
    "LineError",
    "LineLimitExceeded",
    "RegistrationError",
    "add_months",
    "audit_record",
    "audit_record_many",
    "customer_confirm_registration",
    "customer_erase_personal_data",
    "customer_for_desk",
    "customer_mark_service_ended",
    "customer_register",
    "line_attach",
    "line_cancel",
    "line_create",
    "lines_activate_waiting",
    "lines_activation_allow",
    "lines_expire_lapsed",
    "lines_extend",
    "login_code_request",
    "login_code_verify",
    "notification_mark_all_read",
    "notify",
    "notify_many",
    "one_time_code_issue",
    "one_time_code_issue_without_account",
    "one_time_code_verify",
    "one_time_code_verify_without_account",
    "outbox_dispatch_due",
    "outbox_queue",
    "outbox_send",
    "outbox_send_queued",
    "password_reset_confirm",
    "password_reset_request",
    "registration_code_issue",
    "registration_code_resend",
    "staff_recovery_codes_reset",
    "staff_second_factor_verify",
    "staff_totp_device",
    "staff_totp_enrolment_confirm",
    "staff_totp_enrolment_start",
    "staff_user_create",
    "user_mark_real_name_verified",
    "user_revoke_real_name_verification",
]
