"""Decisions on a submission: approve, reject, escalate, revoke an approval, lift a final block.

``submission_approve_locked`` is the one writer of the approved state: the review queue
(``submission_approve``) and the service-point desk (``desk.submission_verify_in_person``)
both go through it.
"""

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import message_kinds
from accounts import services as account_services
from accounts.models import User
from reviews import selectors
from reviews.models import ReasonCode, Submission

from .claims import ESCALATED_PERMISSION, submission_locked_for_decision
from .errors import (
    ERR_ALREADY_ESCALATED,
    ERR_ESCALATED_SENIOR_ONLY,
    ERR_ESCALATION_NOTE_REQUIRED,
    ERR_LINE_LIMIT_ONLY_REJECT,
    ERR_NOT_REJECTED_FINAL,
    ERR_NOT_REVOCABLE,
    ERR_OWN_VERIFICATION,
    ERR_REASON_REQUIRED,
    ERR_REASON_UNKNOWN,
    ERR_REVOKE_NOT_ALLOWED,
    LineLimitReached,
    ReviewError,
)
from .history import submission_event_record
from .sampling import submission_sample_for_quality_check

REVOKE_PERMISSION = "reviews.revoke_approval"
LINE_LIMIT_CODE = "LINE_LIMIT"
VERIFICATION_LINK = "/verification/"


def _reasons(reason_codes) -> list[ReasonCode]:
    """The active reason codes named; a rejection (or a revocation) needs at least one."""
    codes = sorted(set(reason_codes))
    if not codes:
        raise ReviewError(ERR_REASON_REQUIRED)
    known = selectors.all_reason_codes()
    reasons = [known[code] for code in codes if code in known and known[code].is_active]
    if len(reasons) != len(codes):
        raise ReviewError(ERR_REASON_UNKNOWN)
    return reasons


def _refuse_unless_senior_for_escalated(submission: Submission, actor: User) -> None:
    if submission.is_escalated and not actor.has_perm(ESCALATED_PERMISSION):
        raise ReviewError(ERR_ESCALATED_SENIOR_ONLY)


def submission_approve_locked(
    submission: Submission,
    *,
    actor: User,
    now,
    verb: str = "approved",
    message: str = "",
    note: str = "",
    notification: tuple[message_kinds.MessageKind, dict, str],
    audit_data: dict | None = None,
) -> Submission:
    """Approve ``submission``, locked with its customer by the caller: the one writer of the approved state.

    Refuses when the customer's ID would hold more active lines than allowed: accounts
    counts them now (not when the customer submitted), under its lock on the ID, as the
    lines activate; the caller's transaction then rolls the decision back. Marks the
    customer verified, activates their waiting lines (accounts' line services), records the
    event in the history and the audit trail, and sends ``notification`` (kind, params,
    link) with the "line active" message after commit.
    """
    from_status = _close(submission, Submission.Status.APPROVED, actor=actor, now=now, message=message, note=note)
    audit = []  # the decision's audit event goes in with the verification's and the lines'
    submission_event_record(
        submission,
        actor=actor,
        verb=verb,
        from_status=from_status,
        to_status=submission.status,
        message=submission.customer_message,
        note=submission.internal_note,
        data={"channel": submission.channel, **(audit_data or {})},
        audit_later=audit,
    )
    try:
        account_services.user_mark_real_name_verified(
            user=submission.user,
            actor=actor,
            channel=submission.channel,
            identity_index=submission.id_number_index,
            locked=True,
            message=notification,
            audit=audit,
        )
    except account_services.LineLimitExceeded as error:
        # The ID's lines would pass 一证五号 (counted under accounts' lock on the ID).
        # The caller's transaction rolls back the decision.
        raise LineLimitReached(ERR_LINE_LIMIT_ONLY_REJECT) from error
    return submission


def _over_line_limit(submission: Submission) -> bool:
    """Whether approving now would take the ID past 一证五号 (today's count, not the submission-time flag)."""
    return selectors.line_limit_flag(user_id=submission.user_id, id_number_index=submission.id_number_index) is not None


def submission_approve(*, submission_id: int, actor: User, message: str = "", note: str = "") -> Submission:
    """Approve a submission the actor has claimed: the customer is verified and their lines activated."""
    now = timezone.now()
    with transaction.atomic():
        submission = submission_locked_for_decision(
            submission_id=submission_id, actor=actor, now=now, lock_customer=True
        )
        _refuse_unless_senior_for_escalated(submission, actor)
        submission_approve_locked(
            submission,
            actor=actor,
            now=now,
            message=message,
            note=note,
            notification=(message_kinds.VERIFICATION_APPROVED, {}, VERIFICATION_LINK),
        )
        submission_sample_for_quality_check(submission, now=now)
        return submission


def needs_second_reviewer(reasons) -> bool:
    """Whether rejecting with ``reasons`` waits for a second senior reviewer (four eyes, when on).

    LINE_LIMIT is counted, not judged: it never waits.
    """
    return settings.REVIEW_FINAL_REJECTION_FOUR_EYES and any(
        reason.is_final and reason.code != LINE_LIMIT_CODE for reason in reasons
    )


def submission_reject(
    *, submission_id: int, actor: User, reason_codes: list[str] | tuple, message: str = "", note: str = ""
) -> Submission:
    """Reject a submission the actor has claimed, with at least one reason; the customer is told why.

    With four eyes on, a final reason makes the first such rejection a proposal
    (``_propose_final_rejection``): the customer hears nothing until another senior
    reviewer decides. Whoever proposed it never decides it (a database constraint).
    """
    now = timezone.now()
    with transaction.atomic():
        submission = submission_locked_for_decision(submission_id=submission_id, actor=actor, now=now)
        _refuse_unless_senior_for_escalated(submission, actor)
        reasons = _reasons(reason_codes)
        if LINE_LIMIT_CODE not in {reason.code for reason in reasons} and _over_line_limit(submission):
            raise ReviewError(ERR_LINE_LIMIT_ONLY_REJECT)
        if needs_second_reviewer(reasons) and not submission.has_final_rejection_proposal:
            return _propose_final_rejection(
                submission, actor=actor, now=now, reasons=reasons, message=message, note=note
            )
        from_status = _close(submission, Submission.Status.REJECTED, actor=actor, now=now, message=message, note=note)
        # An open submission has no reasons yet (only closing sets them): adding is setting,
        # without the query for the current ones.
        submission.reasons.add(*reasons)
        submission_event_record(
            submission,
            actor=actor,
            verb="rejected",
            from_status=from_status,
            to_status=submission.status,
            reasons=[reason.code for reason in reasons],
            message=submission.customer_message,
            note=submission.internal_note,
            data={"proposed_by": submission.final_rejection_proposed_by_id}
            if submission.has_final_rejection_proposal
            else None,
        )
        _notify_rejection(submission, reasons)
        submission_sample_for_quality_check(submission, now=now)
    return submission


def _propose_final_rejection(
    submission: Submission, *, actor: User, now, reasons: list[ReasonCode], message: str, note: str
) -> Submission:
    """Record a final rejection as a proposal on the locked submission and hand it to the senior reviewers.

    The claim ends and the submission waits in the queue, escalated (if it was not already),
    for a senior reviewer other than ``actor``: they confirm the proposal by rejecting, or
    decide otherwise. Nothing is sent to the customer.
    """
    codes = [reason.code for reason in reasons]
    from_status = submission.status
    submission.final_rejection_proposed_at = now
    submission.final_rejection_proposed_by = actor
    submission.final_rejection_proposal = {"reason_codes": codes, "message": message.strip(), "note": note.strip()}
    fields = ["final_rejection_proposed_at", "final_rejection_proposed_by", "final_rejection_proposal"]
    if not submission.is_escalated:
        submission.escalated_at = now
        submission.escalated_by = actor
        submission.escalation_note = _("Final rejection proposed: %(codes)s") % {"codes": ", ".join(codes)}
        fields += ["escalated_at", "escalated_by", "escalation_note"]
    submission.status = Submission.Status.PENDING
    submission.claimed_by = None
    submission.claim_expires_at = None
    submission.save(update_fields=[*fields, "status", "claimed_by", "claim_expires_at"])
    submission_event_record(
        submission,
        actor=actor,
        verb="final_rejection_proposed",
        from_status=from_status,
        to_status=submission.status,
        reasons=codes,
        message=submission.final_rejection_proposal["message"],
        note=submission.final_rejection_proposal["note"],
    )
    return submission


def _close(submission: Submission, status: str, *, actor: User, now, message: str, note: str) -> str:
    """Write a decision's fields on a locked submission; return the status it had."""
    from_status = submission.status
    submission.status = status
    submission.decided_by = actor
    submission.decided_at = now
    submission.claim_expires_at = None
    submission.customer_message = message.strip()
    submission.internal_note = note.strip()
    submission.save(
        update_fields=["status", "decided_by", "decided_at", "claim_expires_at", "customer_message", "internal_note"]
    )
    return from_status


def _reasons_param(reasons: list[ReasonCode]) -> dict:
    """The reasons' customer texts in both languages, so the message reads in whichever the customer uses."""
    return message_kinds.texts_param(
        *({"zh-hans": reason.customer_text_zh, "en": reason.customer_text_en} for reason in reasons)
    )


def _notify_rejection(submission: Submission, reasons: list[ReasonCode]) -> None:
    final = any(reason.is_final for reason in reasons)
    follow_up = message_kinds.FOLLOW_UP_FINAL if final else message_kinds.FOLLOW_UP_RETRY
    account_services.notify(
        user=submission.user,
        kind=message_kinds.VERIFICATION_REJECTED,
        params={
            "reasons": _reasons_param(reasons),
            "follow_up": message_kinds.msgid_param(follow_up),
            "note": submission.customer_message,
        },
        link=VERIFICATION_LINK,
    )


def submission_escalate(*, submission_id: int, actor: User, note: str) -> Submission:
    """Hand a claimed submission to the senior reviewers, with a note of what to look at.

    The claim ends and the submission goes back to the queue, where only reviewers
    allowed to decide escalated submissions can claim it.
    """
    note = note.strip()
    if not note:
        raise ReviewError(ERR_ESCALATION_NOTE_REQUIRED)
    now = timezone.now()
    with transaction.atomic():
        submission = submission_locked_for_decision(submission_id=submission_id, actor=actor, now=now)
        if submission.is_escalated:
            raise ReviewError(ERR_ALREADY_ESCALATED)
        from_status = submission.status
        submission.escalated_at = now
        submission.escalated_by = actor
        submission.escalation_note = note
        submission.status = Submission.Status.PENDING
        submission.claimed_by = None
        submission.claim_expires_at = None
        submission.save(
            update_fields=[
                "escalated_at",
                "escalated_by",
                "escalation_note",
                "status",
                "claimed_by",
                "claim_expires_at",
            ]
        )
        submission_event_record(
            submission, actor=actor, verb="escalated", from_status=from_status, to_status=submission.status, note=note
        )
    return submission


def submission_revoke_approval(
    *, submission_id: int, actor: User, reason_codes: list[str] | tuple, message: str = "", note: str = ""
) -> Submission:
    """Withdraw an approval found wrong later: the customer is unverified and their lines suspended.

    Only the customer's latest submission, and only while it is approved. The reasons
    work as a rejection's do: retryable ones let the customer submit again, final ones
    wait for support.
    """
    if not actor.has_perm(REVOKE_PERMISSION):
        raise ReviewError(ERR_REVOKE_NOT_ALLOWED)
    reasons = _reasons(reason_codes)
    now = timezone.now()
    with transaction.atomic():
        # The customer's row is locked by the revocation of their verification, which suspends their lines.
        submission = Submission.objects.select_for_update(of=("self",)).select_related("user").get(pk=submission_id)
        if submission.user_id == actor.pk:
            raise ReviewError(ERR_OWN_VERIFICATION)
        latest = Submission.objects.filter(user_id=submission.user_id).aggregate(Max("attempt_number"))
        if (
            submission.status != Submission.Status.APPROVED
            or latest["attempt_number__max"] != submission.attempt_number
        ):
            raise ReviewError(ERR_NOT_REVOCABLE)
        submission.status = Submission.Status.REVOKED
        submission.revoked_at = now
        submission.revoked_by = actor
        submission.customer_message = message.strip()
        submission.internal_note = note.strip()
        submission.save(update_fields=["status", "revoked_at", "revoked_by", "customer_message", "internal_note"])
        submission.reasons.set(reasons)
        codes = [reason.code for reason in reasons]
        submission_event_record(
            submission,
            actor=actor,
            verb="revoked",
            from_status=Submission.Status.APPROVED,
            to_status=submission.status,
            reasons=codes,
            message=submission.customer_message,
            note=submission.internal_note,
        )
        account_services.user_revoke_real_name_verification(user=submission.user, actor=actor, reason=",".join(codes))
        account_services.notify(
            user=submission.user,
            kind=message_kinds.VERIFICATION_REVOKED,
            params={"reasons": _reasons_param(reasons), "note": submission.customer_message},
            link=VERIFICATION_LINK,
        )
    return submission


def submission_lift_final_block(*, submission_id: int, actor: User, note: str) -> Submission:
    """Let a customer whose submission was finally rejected submit again (support only)."""
    with transaction.atomic():
        submission = Submission.objects.select_for_update(of=("self",)).select_related("user").get(pk=submission_id)
        # Support staff may be customers too: a final rejection of their own is lifted by someone else.
        if submission.user_id == actor.pk:
            raise ReviewError(ERR_OWN_VERIFICATION)
        closed_with_reasons = (Submission.Status.REJECTED, Submission.Status.REVOKED)
        if submission.status not in closed_with_reasons or submission.final_block_lifted_at is not None:
            raise ReviewError(ERR_NOT_REJECTED_FINAL)
        submission.final_block_lifted_at = timezone.now()
        submission.save(update_fields=["final_block_lifted_at"])
        submission_event_record(submission, actor=actor, verb="final_block_lifted", note=note)
        account_services.notify(user=submission.user, kind=message_kinds.VERIFICATION_UNBLOCKED, link=VERIFICATION_LINK)
    return submission
