"""Every write in the reviews app: one function per state change of a verification submission.

Import from here (``from reviews import services``); the submodules group them. Each
function locks the submission row, checks that the transition is allowed, records the
event in the submission's history and the staff audit trail (``history``), and queues
messages to the customer on commit (through accounts' ``notify``, which uses the outbox).
"""

from .claims import (
    ESCALATED_PERMISSION,
    submission_claim,
    submission_claim_next,
    submission_release,
    submissions_release_expired_claims,
)
from .decisions import (
    LINE_LIMIT_CODE,
    REVOKE_PERMISSION,
    submission_approve,
    submission_escalate,
    submission_lift_final_block,
    submission_reject,
    submission_revoke_approval,
)
from .desk import submission_verify_in_person
from .drafts import draft_photo_keep, drafts_erase, drafts_purge_expired
from .errors import (
    ERR_ALREADY_DECIDED,
    ERR_ALREADY_ESCALATED,
    ERR_ALREADY_OPEN,
    ERR_ALREADY_VERIFIED,
    ERR_CODE_ALREADY_VERIFIED,
    ERR_CUSTOMER_ALREADY_VERIFIED,
    ERR_ESCALATED_SENIOR_ONLY,
    ERR_ESCALATION_NOTE_REQUIRED,
    ERR_FINAL_BLOCK,
    ERR_LINE_LIMIT_IN_PERSON,
    ERR_LINE_LIMIT_ONLY_REJECT,
    ERR_NOT_A_VERIFICATION_POINT,
    ERR_NOT_CLAIMED_BY_YOU,
    ERR_NOT_REJECTED_FINAL,
    ERR_NOT_REVOCABLE,
    ERR_NOTHING_TO_RELEASE,
    ERR_PHOTO_STORAGE,
    ERR_REASON_REQUIRED,
    ERR_REASON_UNKNOWN,
    ERR_REVOKE_NOT_ALLOWED,
    ERR_TOO_MANY_ATTEMPTS,
    LineLimitReached,
    PhotoStorageUnavailable,
    ReviewError,
)
from .privacy import photo_access_record, submission_id_number_reveal, submissions_erase_personal_data
from .submissions import PhotoSet, submission_blocker, submission_create, submission_withdraw_open

__all__ = [
    "ERR_ALREADY_DECIDED",
    "ERR_ALREADY_ESCALATED",
    "ERR_ALREADY_OPEN",
    "ERR_ALREADY_VERIFIED",
    "ERR_CODE_ALREADY_VERIFIED",
    "ERR_CUSTOMER_ALREADY_VERIFIED",
    "ERR_ESCALATED_SENIOR_ONLY",
    "ERR_ESCALATION_NOTE_REQUIRED",
    "ERR_FINAL_BLOCK",
    "ERR_LINE_LIMIT_IN_PERSON",
    "ERR_LINE_LIMIT_ONLY_REJECT",
    "ERR_NOTHING_TO_RELEASE",
    "ERR_NOT_A_VERIFICATION_POINT",
    "ERR_NOT_CLAIMED_BY_YOU",
    "ERR_NOT_REJECTED_FINAL",
    "ERR_NOT_REVOCABLE",
    "ERR_PHOTO_STORAGE",
    "ERR_REASON_REQUIRED",
    "ERR_REASON_UNKNOWN",
    "ERR_REVOKE_NOT_ALLOWED",
    "ERR_TOO_MANY_ATTEMPTS",
    "ESCALATED_PERMISSION",
    "LINE_LIMIT_CODE",
    "REVOKE_PERMISSION",
    "LineLimitReached",
    "PhotoSet",
    "PhotoStorageUnavailable",
    "ReviewError",
    "draft_photo_keep",
    "drafts_erase",
    "drafts_purge_expired",
    "photo_access_record",
    "submission_approve",
    "submission_blocker",
    "submission_claim",
    "submission_claim_next",
    "submission_create",
    "submission_escalate",
    "submission_id_number_reveal",
    "submission_lift_final_block",
    "submission_reject",
    "submission_release",
    "submission_revoke_approval",
    "submission_verify_in_person",
    "submission_withdraw_open",
    "submissions_erase_personal_data",
    "submissions_release_expired_claims",
]
