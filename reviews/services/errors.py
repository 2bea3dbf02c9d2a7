"""Why a verification action was refused: the errors and the messages the tests assert on."""

from django.utils.translation import gettext_lazy

ERR_ALREADY_OPEN = gettext_lazy("You already have a submission waiting for review. You will hear from us soon.")
ERR_ALREADY_VERIFIED = gettext_lazy("Your real name is already verified.")
ERR_FINAL_BLOCK = gettext_lazy(
    "Your last submission was rejected for a reason that cannot be fixed by resubmitting. "
    "Please contact customer support or visit a service point with your ID card."
)
ERR_TOO_MANY_ATTEMPTS = gettext_lazy(
    "Too many submissions were rejected. Please visit a service point with your ID card, or contact support."
)
ERR_NOT_CLAIMED_BY_YOU = gettext_lazy("This submission is not claimed by you (or your claim expired). Claim it first.")
ERR_ALREADY_DECIDED = gettext_lazy("This submission has already been decided.")
ERR_REASON_REQUIRED = gettext_lazy("Choose at least one reason to reject.")
ERR_REASON_UNKNOWN = gettext_lazy("One of the reasons is unknown or no longer in use.")
ERR_LINE_LIMIT_ONLY_REJECT = gettext_lazy(
    "This ID already holds the maximum number of lines: the submission can only be rejected with LINE_LIMIT."
)
ERR_NOT_REJECTED_FINAL = gettext_lazy("Only a final rejection can be lifted.")
ERR_NOTHING_TO_RELEASE = gettext_lazy("This submission is not claimed by you.")
ERR_ESCALATED_SENIOR_ONLY = gettext_lazy("This submission was escalated: only a senior reviewer can decide it.")
ERR_ALREADY_ESCALATED = gettext_lazy("This submission is already escalated to the senior reviewers.")
ERR_ESCALATION_NOTE_REQUIRED = gettext_lazy("Say what the senior reviewer should look at.")
ERR_NOT_REVOCABLE = gettext_lazy("Only the customer's current approved verification can be revoked.")
ERR_REVOKE_NOT_ALLOWED = gettext_lazy("Only a senior reviewer can revoke an approval.")
ERR_SAMPLE_ALREADY_CHECKED = gettext_lazy("This sampled decision has already been checked.")
ERR_SAMPLE_OWN_DECISION = gettext_lazy("A sampled decision is checked by another senior reviewer, not by its reviewer.")
ERR_SAMPLE_CHECK_NOT_ALLOWED = gettext_lazy("Only a senior reviewer can check sampled decisions.")
ERR_CLAIM_TAKEN = gettext_lazy(
    "Your claim ran out and another reviewer has claimed this submission since: your decision was not "
    "recorded. It is kept below so that you can tell them."
)
ERR_FOUR_EYES_SAME_PERSON = gettext_lazy(
    "You proposed the final rejection of this submission: another senior reviewer must decide it."
)
ERR_OWN_VERIFICATION = gettext_lazy("This is your own real-name verification: another member of staff must decide it.")

ERR_NOT_A_VERIFICATION_POINT = gettext_lazy(
    "Your account is not assigned to an active verification point, so you cannot verify customers."
)
ERR_CODE_ALREADY_VERIFIED = gettext_lazy(
    "This activation code has already been used: the line's owner is verified and the line is in service."
)
ERR_CUSTOMER_ALREADY_VERIFIED = gettext_lazy(
    "The account with this mobile number is already verified: the customer can add the line online "
    "with the activation code, and it activates at once."
)
ERR_LINE_OF_ANOTHER_NUMBER = gettext_lazy(
    "This line is in the account of another mobile number (%(phone)s). Type that account's number: "
    "only the account holder can be verified for it, with their own ID card."
)
ERR_LINE_LIMIT_IN_PERSON = gettext_lazy(
    "This ID already holds the maximum number of lines (一证五号). The customer must cancel a line first."
)

ERR_PHOTO_STORAGE = gettext_lazy(
    "We could not save your photos just now, so nothing was submitted. Please try again in a few minutes."
)


class ReviewError(Exception):
    """A verification action was refused; the message is for the person acting."""


class PhotoStorageUnavailable(ReviewError):
    """The photo storage refused a write: the submission was not recorded and may be retried."""


class LineLimitReached(ReviewError):
    """Approving would give the customer's ID more lines than allowed (一证五号)."""
