"""Every state change of a verification submission: one function each.

Each function locks the submission row, checks that the transition is allowed,
writes the SubmissionEvent and queues messages to the customer on commit (through
accounts.services.notify, which uses the outbox).
"""

import functools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import services as account_services
from accounts.models import Line, User
from heyon_site.bulk import insert_columns
from heyon_site.db import STAND_IN_ID, instance_by_pk, refilled
from reviews import pii
from reviews.business_days import add_business_days
from reviews.models import ReasonCode, Submission, SubmissionEvent, SubmissionPhoto
from reviews.photos import ProcessedPhoto, dhash_bands, hamming

logger = logging.getLogger(__name__)

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
ERR_UNKNOWN_DECISION = gettext_lazy("Choose approve or reject.")
ERR_NOT_REJECTED_FINAL = gettext_lazy("Only a final rejection can be lifted.")
ERR_NOTHING_TO_RELEASE = gettext_lazy("This submission is not claimed by you.")
ERR_ESCALATED_SENIOR_ONLY = gettext_lazy("This submission was escalated: only a senior reviewer can decide it.")
ERR_ALREADY_ESCALATED = gettext_lazy("This submission is already escalated to the senior reviewers.")
ERR_ESCALATION_NOTE_REQUIRED = gettext_lazy("Say what the senior reviewer should look at.")
ERR_NOT_REVOCABLE = gettext_lazy("Only the customer's current approved verification can be revoked.")
ERR_REVOKE_NOT_ALLOWED = gettext_lazy("Only a senior reviewer can revoke an approval.")
ESCALATED_PERMISSION = "reviews.decide_escalated"
REVOKE_PERMISSION = "reviews.revoke_approval"

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
ERR_LINE_LIMIT_IN_PERSON = gettext_lazy(
    "This ID already holds the maximum number of lines (一证五号). The customer must cancel a line first."
)

ERR_PHOTO_STORAGE = gettext_lazy(
    "We could not save your photos just now, so nothing was submitted. Please try again in a few minutes."
)

LINE_LIMIT_CODE = "LINE_LIMIT"


class ReviewError(Exception):
    """A verification action was refused; the message is for the person acting."""


class PhotoStorageUnavailable(ReviewError):
    """The photo storage refused a write: the submission was not recorded and may be retried."""


@dataclass
class PhotoSet:
    """The three photos of an online submission; at a desk any of them may be missing."""

    id_front: ProcessedPhoto | None = None
    id_back: ProcessedPhoto | None = None
    id_handheld: ProcessedPhoto | None = None

    def items(self):
        pairs = (
            (SubmissionPhoto.Kind.ID_FRONT, self.id_front),
            (SubmissionPhoto.Kind.ID_BACK, self.id_back),
            (SubmissionPhoto.Kind.ID_HANDHELD, self.id_handheld),
        )
        return tuple((kind, photo) for kind, photo in pairs if photo is not None)


def _event(submission, *, actor, verb, from_status="", to_status="", reasons=(), message="", note=""):
    """Append an event to the submission's history (one row, written from columns: no model save)."""
    insert_columns(
        SubmissionEvent,
        {"verb": [verb]},
        constants={
            "submission_id": submission.pk,
            "actor_id": actor.pk if getattr(actor, "pk", None) else None,
            "from_status": from_status,
            "to_status": to_status,
            "reason_codes": list(reasons),
            "customer_message": message,
            "internal_note": note,
        },
    )


def _resubmission_blocker(user, *, online: bool = True) -> str | None:
    """Return why the user may not submit now, or None.

    Final rejections and the attempt limit stop online submissions only: in person,
    a clerk holds the card and sees the face, which is what those reasons ask for.
    """
    if user.is_real_name_verified:
        return ERR_ALREADY_VERIFIED
    history = Submission.objects.filter(user=user)
    if history.filter(status__in=Submission.OPEN_STATUSES).exists():
        return ERR_ALREADY_OPEN
    if not online:
        return None
    last = history.order_by("-attempt_number").first()
    if (
        last is not None
        and last.status in (Submission.Status.REJECTED, Submission.Status.REVOKED)
        and last.final_block_lifted_at is None
        and last.reasons.filter(kind=ReasonCode.Kind.FINAL).exists()
    ):
        return ERR_FINAL_BLOCK
    rejected = history.filter(status=Submission.Status.REJECTED, final_block_lifted_at__isnull=True).count()
    if rejected >= settings.MAX_SUBMISSION_ATTEMPTS:
        return ERR_TOO_MANY_ATTEMPTS
    return None


def submission_blocker(*, user) -> str | None:
    """Why the customer cannot submit right now (shown before they fill the form)."""
    reason = _resubmission_blocker(user)
    return str(reason) if reason else None


def lines_held_by_identity(*, id_number_index: str, exclude_user=None) -> int:
    """Lines in service (not cancelled) owned by accounts verified with this ID number."""
    holders = Submission.objects.filter(id_number_index=id_number_index, status=Submission.Status.APPROVED)
    if exclude_user is not None:
        holders = holders.exclude(user=exclude_user)
    return Line.objects.filter(owner__in=holders.values("user")).exclude(status__in=[Line.Status.CANCELLED]).count()


def _flags_for(*, user, id_number_index: str, photos: PhotoSet) -> dict:
    flags = {}
    own_lines = Line.objects.filter(owner=user).exclude(status=Line.Status.CANCELLED).count()
    held = lines_held_by_identity(id_number_index=id_number_index, exclude_user=user)
    if held + own_lines > settings.MAX_LINES_PER_ID:
        flags["line_limit"] = {"held_elsewhere": held, "this_account": own_lines, "max": settings.MAX_LINES_PER_ID}
    other_accounts = list(
        Submission.objects.filter(id_number_index=id_number_index)
        .exclude(user=user)
        .values_list("user_id", flat=True)
        .distinct()[:10]
    )
    if other_accounts:
        flags["duplicate_id"] = {"accounts": other_accounts}
    duplicates = []
    for kind, photo in photos.items():
        bands = dhash_bands(photo.dhash)
        candidates = (
            SubmissionPhoto.objects.filter(
                Q(dhash_band0=bands[0])
                | Q(dhash_band1=bands[1])
                | Q(dhash_band2=bands[2])
                | Q(dhash_band3=bands[3])
                | Q(original_sha256=photo.original_sha256)
            )
            .exclude(submission__user=user)
            .values_list("submission_id", "submission__user_id", "dhash", "original_sha256")[:200]
        )
        for submission_id, other_user, other_hash, other_sha in candidates:
            if (
                other_sha == photo.original_sha256
                or hamming(other_hash, photo.dhash) <= settings.PHOTO_DUPLICATE_MAX_DISTANCE
            ):
                duplicates.append({"kind": kind, "submission": submission_id, "account": other_user})
    if duplicates:
        flags["duplicate_photo"] = duplicates[:10]
    return flags


def submission_create(
    *,
    user: User,
    full_name: str,
    id_number: str,
    contact_phone: str,
    photos: PhotoSet | None,
    actor,
    channel: str = Submission.Channel.ONLINE,
    service_point=None,
) -> Submission:
    """Record a customer's verification attempt and put it in the review queue.

    Photos are written to private storage before the row commits; if anything fails
    afterwards they are deleted again, so nothing is stored half-way.
    """
    now = timezone.now()
    index = pii.id_number_blind_index(id_number)
    stored_names = []
    try:
        with transaction.atomic():
            user = User.objects.select_for_update().get(pk=user.pk)
            blocker = _resubmission_blocker(user, online=channel == Submission.Channel.ONLINE)
            if blocker:
                raise ReviewError(blocker)
            last_attempt = Submission.objects.filter(user=user).aggregate(n=Max("attempt_number"))["n"] or 0
            flags = _flags_for(user=user, id_number_index=index, photos=photos) if photos else {}
            submission = Submission(
                user=user,
                channel=channel,
                attempt_number=last_attempt + 1,
                full_name=full_name,
                id_number_encrypted=pii.encrypt(pii.normalize_id_number(id_number)),
                id_number_masked=pii.mask_id_number(id_number),
                id_number_index=index,
                contact_phone=contact_phone,
                submitted_at=now,
                due_at=add_business_days(now, settings.REVIEW_SLA_BUSINESS_DAYS),
                flags=flags,
                is_flagged=bool(flags),
                service_point=service_point,
            )
            # The one-open-submission rule is the database's: a check here would race with a
            # double submit and raise a ValidationError instead of the IntegrityError below.
            submission.full_clean(validate_unique=False, validate_constraints=False)
            submission.save()
            for kind, photo in photos.items() if photos else ():
                stored_names.extend(_store_photo(submission, kind, photo))
            _event(submission, actor=actor, verb="submitted", to_status=Submission.Status.PENDING)
    except IntegrityError as error:
        _delete_files(stored_names)
        # The one-open-submission constraint caught a double submit.
        raise ReviewError(ERR_ALREADY_OPEN) from error
    except BaseException:
        _delete_files(stored_names)
        raise
    return submission


def _store_photo(submission, kind, photo: ProcessedPhoto) -> list[str]:
    from django.core.files.base import ContentFile

    bands = dhash_bands(photo.dhash)
    record = SubmissionPhoto(
        submission=submission,
        kind=kind,
        width=photo.width,
        height=photo.height,
        original_format=photo.original_format,
        original_sha256=photo.original_sha256,
        dhash=photo.dhash - (1 << 64) if photo.dhash >= (1 << 63) else photo.dhash,  # fit a signed bigint
        dhash_band0=bands[0],
        dhash_band1=bands[1],
        dhash_band2=bands[2],
        dhash_band3=bands[3],
        hints=photo.hints,
    )
    folder = f"submissions/{submission.user_id}/{submission.pk}"
    names = []
    try:
        for field, name, content in (
            (record.image, f"{folder}/{kind}.jpg", photo.jpeg),
            (record.thumbnail, f"{folder}/{kind}-thumb.jpg", photo.thumbnail),
        ):
            field.save(name, ContentFile(content), save=False)
            names.append(field.name)  # remembered at once: a later failure must delete it too
    except Exception as error:
        # Disk full, permissions, or the object store refusing or unreachable.
        logger.warning("Storing the %s photo of submission %s failed: %r", kind, submission.pk, error)
        _delete_files(names)
        raise PhotoStorageUnavailable(ERR_PHOTO_STORAGE) from error
    try:
        record.save()
    except BaseException:
        _delete_files(names)
        raise
    return names


def _delete_files(names):
    from reviews.models import private_storage

    storage = private_storage()
    for name in names:
        try:
            storage.delete(name)
        except Exception as error:  # noqa: BLE001 - cleaning up must not hide the error being handled
            logger.error("Could not delete %s from private storage after a failed submission: %r", name, error)


def _claimable(now):
    return Submission.objects.filter(
        Q(status=Submission.Status.PENDING) | Q(status=Submission.Status.IN_REVIEW, claim_expires_at__lte=now)
    )


def submission_claim_next(*, reviewer: User, filters: dict | None = None) -> Submission | None:
    """Give the reviewer the oldest-due submission nobody else holds, for a lease.

    A reviewer who already holds a live claim gets that one back. On PostgreSQL rows
    locked by another reviewer's claim are skipped (SKIP LOCKED); elsewhere the claim is
    a conditional UPDATE that only one reviewer can win.
    """
    from reviews.selectors import apply_queue_filters

    now = timezone.now()
    lease = now + timedelta(minutes=settings.REVIEW_CLAIM_MINUTES)
    held = _held_by(reviewer.pk, now)
    filters = {**(filters or {}), "hide_escalated": not reviewer.has_perm(ESCALATED_PERMISSION)}
    if connection.vendor == "postgresql":
        # Usually the reviewer holds nothing (they just decided): claim at once, unless they
        # hold a live claim, and only then read which one (one statement instead of two).
        with transaction.atomic():
            submission = _claim_first_unlocked(filters, reviewer=reviewer, now=now, lease=lease)
            if submission is not None:
                _event(
                    submission,
                    actor=reviewer,
                    verb="claimed",
                    from_status=submission.claimed_from,
                    to_status=submission.status,
                )
                return submission
        return held.first()
    if (submission := held.first()) is not None:
        return submission
    candidates = apply_queue_filters(_claimable(now), filters, now=now).order_by("due_at", "pk")
    for candidate_id in candidates.values_list("pk", flat=True)[:20]:
        with transaction.atomic():
            won = (
                apply_queue_filters(_claimable(now), filters, now=now)
                .filter(pk=candidate_id)
                .update(status=Submission.Status.IN_REVIEW, claimed_by=reviewer, claim_expires_at=lease)
            )
            if won:
                submission = Submission.objects.get(pk=candidate_id)
                _event(submission, actor=reviewer, verb="claimed", from_status="pending", to_status="in_review")
                return submission
    return None


def _held_by(reviewer_id, now):
    """The reviewer's live claims, oldest due first."""
    return Submission.objects.filter(
        claimed_by_id=reviewer_id, status=Submission.Status.IN_REVIEW, claim_expires_at__gt=now
    ).order_by("due_at", "pk")


# A stand-in for the moment while the claim statement is compiled once (_claim_statement),
# beside heyon_site.db's for the reviewer: each is put back by its value, so neither may be
# a real one.
_COMPILED_AT = datetime(2000, 1, 1, 0, 0, 0, 424_242, tzinfo=UTC)


def _claim_first_unlocked(filters: dict, *, reviewer: User, now, lease) -> Submission | None:
    """Lock the first claimable submission no other transaction holds and claim it, in one statement.

    Nothing is claimed while the reviewer holds a live claim. PostgreSQL only; call inside
    a transaction. The returned row is the claimed submission, with ``claimed_from`` its
    status before the claim.
    """
    sql, template = _claim_statement(tuple(sorted(filters.items())))
    params = [Submission.Status.IN_REVIEW, reviewer.pk, lease]
    params += refilled(template, {_COMPILED_AT: now, STAND_IN_ID: reviewer.pk})
    claimed = list(Submission.objects.raw(sql, params))
    if not claimed:
        return None
    submission = claimed[0]
    submission.claimed_by = reviewer
    return submission


@functools.lru_cache(maxsize=256)
def _claim_statement(filter_items: tuple) -> tuple[str, tuple]:
    """``UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING`` for these queue filters.

    One round trip instead of a locking SELECT and an UPDATE. The candidates' SQL is the
    ORM's (queue filters included), compiled once per process and filter combination with
    stand-ins for the moment and the reviewer, whose places in the parameters are refilled
    at each claim: building and compiling it, ``Exists`` subquery and all, cost more than
    the statement itself (docs/PERFORMANCE.md).
    """
    from reviews.selectors import apply_queue_filters

    filters, now = dict(filter_items), _COMPILED_AT
    candidates = apply_queue_filters(_claimable(now), filters, now=now).order_by("due_at", "pk")
    candidates = candidates.exclude(Exists(_held_by(STAND_IN_ID, now)))
    picked = candidates.select_for_update(skip_locked=True, of=("self",)).values("pk", "status")[:1]
    picked_sql, picked_params = picked.query.sql_with_params()
    meta = Submission._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    status, claimed_by, expires, pk = (
        quote(meta.get_field(name).column) for name in ("status", "claimed_by", "claim_expires_at", "id")
    )
    columns = ", ".join(f"{table}.{quote(field.column)}" for field in meta.concrete_fields)
    # Table and column names come from the model's meta, quoted; every value is a parameter.
    sql = (
        f"UPDATE {table} SET {status} = %s, {claimed_by} = %s, {expires} = %s "  # noqa: S608
        f"FROM ({picked_sql}) AS picked(id, status) WHERE {table}.{pk} = picked.id "
        f"RETURNING {columns}, picked.status AS claimed_from"
    )
    return sql, tuple(picked_params)


def _claim(submission, *, reviewer, now, lease):
    from_status = submission.status
    submission.status = Submission.Status.IN_REVIEW
    submission.claimed_by = reviewer
    submission.claim_expires_at = lease
    submission.save(update_fields=["status", "claimed_by", "claim_expires_at"])
    _event(submission, actor=reviewer, verb="claimed", from_status=from_status, to_status=submission.status)
    return submission


def submission_claim(*, submission_id: int, reviewer: User) -> Submission:
    """Claim one particular submission (opened from the queue list)."""
    now = timezone.now()
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission_id)
        if submission.claimed_by_id == reviewer.pk and submission.claim_is_live(now):
            submission.claim_expires_at = now + timedelta(minutes=settings.REVIEW_CLAIM_MINUTES)
            submission.save(update_fields=["claim_expires_at"])
            return submission
        if not submission.is_open:
            raise ReviewError(ERR_ALREADY_DECIDED)
        if submission.is_escalated and not reviewer.has_perm(ESCALATED_PERMISSION):
            raise ReviewError(ERR_ESCALATED_SENIOR_ONLY)
        if submission.claim_is_live(now):
            raise ReviewError(_("%(name)s is reviewing this submission right now.") % {"name": submission.claimed_by})
        lease = now + timedelta(minutes=settings.REVIEW_CLAIM_MINUTES)
        return _claim(submission, reviewer=reviewer, now=now, lease=lease)


def submission_release(*, submission_id: int, reviewer: User) -> Submission:
    """Give a claimed submission back to the queue."""
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission_id)
        if submission.status != Submission.Status.IN_REVIEW or submission.claimed_by_id != reviewer.pk:
            raise ReviewError(ERR_NOTHING_TO_RELEASE)
        submission.status = Submission.Status.PENDING
        submission.claimed_by = None
        submission.claim_expires_at = None
        submission.save(update_fields=["status", "claimed_by", "claim_expires_at"])
        _event(submission, actor=reviewer, verb="released", from_status="in_review", to_status="pending")
    return submission


def submissions_release_expired_claims() -> int:
    """Put submissions whose lease ran out back to pending (they are claimable anyway)."""
    now = timezone.now()
    expired = Submission.objects.filter(status=Submission.Status.IN_REVIEW, claim_expires_at__lte=now)
    count = 0
    for submission_id in expired.values_list("pk", flat=True):
        with transaction.atomic():
            released = Submission.objects.filter(
                pk=submission_id, status=Submission.Status.IN_REVIEW, claim_expires_at__lte=now
            ).update(status=Submission.Status.PENDING, claimed_by=None, claim_expires_at=None)
            if released:
                submission = Submission(pk=submission_id)
                _event(submission, actor=None, verb="lease_expired", from_status="in_review", to_status="pending")
                count += 1
    return count


def _reasons_for(decision: str, reason_codes) -> list[ReasonCode]:
    """The active reason codes named, required for a rejection (or a revocation)."""
    if decision == "approve":
        return []
    codes = sorted(set(reason_codes))
    if not codes:
        raise ReviewError(ERR_REASON_REQUIRED)
    reasons = list(ReasonCode.objects.filter(code__in=codes, is_active=True))
    if len(reasons) != len(codes):
        raise ReviewError(ERR_REASON_UNKNOWN)
    return reasons


def _lock_claimed_by(submission_id: int, *, actor: User, now, lock_customer: bool = False) -> Submission:
    """Lock the submission; refuse unless it is still open and ``actor`` holds a live claim on it.

    The customer comes with it; ``lock_customer`` locks their row too (an approval changes
    it), as ``User.objects.select_for_update()`` would. Two reads by primary key, planned
    once per connection (heyon_site/db.py), instead of a join the ORM compiles at every
    decision: that compiling cost more than both reads (docs/PERFORMANCE.md).
    """
    submission = instance_by_pk(Submission, submission_id, for_update=True)
    if submission is None:
        raise Submission.DoesNotExist(f"No submission {submission_id}")
    if not submission.is_open:
        raise ReviewError(ERR_ALREADY_DECIDED)
    if submission.claimed_by_id != actor.pk or not submission.claim_is_live(now):
        raise ReviewError(ERR_NOT_CLAIMED_BY_YOU)
    submission.user = instance_by_pk(User, submission.user_id, for_update=lock_customer)
    return submission


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
        submission = _lock_claimed_by(submission_id, actor=actor, now=now)
        if submission.is_escalated:
            raise ReviewError(ERR_ALREADY_ESCALATED)
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
        _event(submission, actor=actor, verb="escalated", from_status="in_review", to_status="pending", note=note)
    return submission


def submission_revoke_approval(
    *,
    submission_id: int,
    actor: User,
    reason_codes: list[str] | tuple,
    customer_message: str = "",
    internal_note: str = "",
) -> Submission:
    """Withdraw an approval found wrong later: the customer is unverified and their lines suspended.

    Only the customer's latest submission, and only while it is approved. The reasons
    work as a rejection's do: retryable ones let the customer submit again, final ones
    wait for support.
    """
    if not actor.has_perm(REVOKE_PERMISSION):
        raise ReviewError(ERR_REVOKE_NOT_ALLOWED)
    reasons = _reasons_for("reject", reason_codes)
    now = timezone.now()
    with transaction.atomic():
        submission = Submission.objects.select_for_update().select_related("user").get(pk=submission_id)
        latest = Submission.objects.filter(user_id=submission.user_id).aggregate(Max("attempt_number"))
        if (
            submission.status != Submission.Status.APPROVED
            or latest["attempt_number__max"] != submission.attempt_number
        ):
            raise ReviewError(ERR_NOT_REVOCABLE)
        submission.status = Submission.Status.REVOKED
        submission.revoked_at = now
        submission.revoked_by = actor
        submission.customer_message = customer_message.strip()
        submission.internal_note = internal_note.strip()
        submission.save(update_fields=["status", "revoked_at", "revoked_by", "customer_message", "internal_note"])
        submission.reasons.set(reasons)
        codes = [reason.code for reason in reasons]
        _event(
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
        texts = "；".join(reason.customer_text() for reason in reasons)
        body = _(
            "Your real-name verification was withdrawn after a further check: %(reasons)s. Your lines are suspended "
            "until you verify again."
        ) % {"reasons": texts}
        if submission.customer_message:
            body = f"{body}\n{submission.customer_message}"
        account_services.notify(
            user=submission.user, subject=_("Real-name verification withdrawn"), body=body, link="/verification/"
        )
    return submission


def submission_decide(
    *,
    submission_id: int,
    actor: User,
    decision: str,
    reason_codes: list[str] | tuple = (),
    customer_message: str = "",
    internal_note: str = "",
) -> Submission:
    """Approve or reject a submission the actor has claimed. Applied once, never twice."""
    if decision not in ("approve", "reject"):
        raise ReviewError(ERR_UNKNOWN_DECISION)
    now = timezone.now()
    with transaction.atomic():
        submission = _lock_claimed_by(submission_id, actor=actor, now=now, lock_customer=decision == "approve")
        if submission.is_escalated and not actor.has_perm(ESCALATED_PERMISSION):
            raise ReviewError(ERR_ESCALATED_SENIOR_ONLY)
        reasons = _reasons_for(decision, reason_codes)
        line_limited = "line_limit" in submission.flags
        if line_limited and (decision == "approve" or LINE_LIMIT_CODE not in {r.code for r in reasons}):
            raise ReviewError(ERR_LINE_LIMIT_ONLY_REJECT)

        from_status = submission.status
        submission.status = Submission.Status.APPROVED if decision == "approve" else Submission.Status.REJECTED
        submission.decided_by = actor
        submission.decided_at = now
        submission.claim_expires_at = None
        submission.customer_message = customer_message.strip()
        submission.internal_note = internal_note.strip()
        submission.save(
            update_fields=[
                "status",
                "decided_by",
                "decided_at",
                "claim_expires_at",
                "customer_message",
                "internal_note",
            ]
        )
        # An open submission has no reasons yet (only closing sets them): adding is setting,
        # without the query for the current ones.
        submission.reasons.add(*reasons)
        _event(
            submission,
            actor=actor,
            verb="approved" if decision == "approve" else "rejected",
            from_status=from_status,
            to_status=submission.status,
            reasons=[r.code for r in reasons],
            message=submission.customer_message,
            note=submission.internal_note,
        )
        if decision == "approve":
            account_services.user_mark_real_name_verified(
                user=submission.user,
                actor=actor,
                channel=submission.channel,
                locked=True,
                message=(
                    _("Real-name verification approved"),
                    _("Your real name is verified. Your lines are active."),
                    "/verification/",
                ),
            )
        else:
            _notify_rejection(submission, reasons)
    return submission


def _notify_rejection(submission, reasons):
    texts = "；".join(reason.customer_text() for reason in reasons)
    final = any(reason.is_final for reason in reasons)
    follow_up = (
        _("Please contact customer support or visit a service point with your ID card.")
        if final
        else _("Please take new photos and submit again.")
    )
    body = _("Reason: %(reasons)s. %(follow_up)s") % {"reasons": texts, "follow_up": follow_up}
    if submission.customer_message:
        body = f"{body}\n{submission.customer_message}"
    account_services.notify(
        user=submission.user,
        subject=_("Real-name verification not approved"),
        body=body,
        link="/verification/",
    )


def submission_withdraw_open(*, user: User, actor, note: str) -> Submission | None:
    """Close the user's open submission without a decision (it is replaced by another check)."""
    with transaction.atomic():
        submission = (
            Submission.objects.select_for_update().filter(user=user, status__in=Submission.OPEN_STATUSES).first()
        )
        if submission is None:
            return None
        from_status = submission.status
        submission.status = Submission.Status.WITHDRAWN
        submission.decided_at = timezone.now()
        submission.claim_expires_at = None
        submission.save(update_fields=["status", "decided_at", "claim_expires_at"])
        _event(
            submission, actor=actor, verb="withdrawn", from_status=from_status, to_status=submission.status, note=note
        )
    return submission


def submission_verify_in_person(
    *,
    clerk: User,
    activation_code: str,
    full_name: str,
    id_number: str,
    customer_phone,
    photos: PhotoSet | None = None,
):
    """A clerk saw the customer and their ID card: record an approved offline verification.

    Uses the same steps as the online path (same 一证五号 check, same events, same line
    activation and messages), with the clerk as decider and their service point
    recorded, and issues a numbered certificate. Everything happens in one transaction:
    a refusal leaves no account, line attachment or submission behind.
    """
    from accounts.models import ServicePoint
    from accounts.selectors import line_by_activation_code
    from reviews.certificates import make_number
    from reviews.models import Certificate

    point = clerk.service_point
    if point is None or not point.is_active or point.kind == ServicePoint.Kind.STORE:
        raise ReviewError(ERR_NOT_A_VERIFICATION_POINT)
    with transaction.atomic():
        line = line_by_activation_code(activation_code=activation_code, for_update=True)
        if line is None:
            raise ReviewError(account_services.lines.ERR_CODE_UNKNOWN)
        if line.owner_id is None:
            customer = account_services.customer_for_desk(phone=customer_phone, actor=clerk)
            account_services.line_attach(actor=clerk, owner=customer, activation_code=activation_code)
        else:
            customer = line.owner
        if line.status != Line.Status.INACTIVE:
            raise ReviewError(ERR_CODE_ALREADY_VERIFIED)
        if customer.is_real_name_verified:
            raise ReviewError(ERR_CUSTOMER_ALREADY_VERIFIED)
        submission_withdraw_open(
            user=customer,
            actor=clerk,
            note=_("Replaced by in-person verification at %(point)s") % {"point": point.code},
        )
        submission = submission_create(
            user=customer,
            full_name=full_name,
            id_number=id_number,
            contact_phone=customer_phone.as_e164 if hasattr(customer_phone, "as_e164") else str(customer_phone),
            photos=photos or PhotoSet(),  # without photos submission_create would skip the 一证五号 flag
            actor=clerk,
            channel=Submission.Channel.OFFLINE,
            service_point=point,
        )
        if "line_limit" in submission.flags:
            # The rollback removes the photo rows, not the files just written for them.
            _delete_files(
                [name for photo in submission.photos.all() for name in (photo.image.name, photo.thumbnail.name)]
            )
            raise ReviewError(ERR_LINE_LIMIT_IN_PERSON)
        now = timezone.now()
        submission.status = Submission.Status.APPROVED
        submission.decided_by = clerk
        submission.decided_at = now
        submission.save(update_fields=["status", "decided_by", "decided_at"])
        _event(submission, actor=clerk, verb="approved", from_status="pending", to_status="approved")
        account_services.user_mark_real_name_verified(user=customer, actor=clerk, channel=Submission.Channel.OFFLINE)

        ServicePoint.objects.select_for_update().get(pk=point.pk)  # one sequence number at a time per point
        sequence = (Certificate.objects.filter(service_point=point).aggregate(n=Max("sequence"))["n"] or 0) + 1
        certificate = Certificate.objects.create(
            number=make_number(point.code, sequence),
            service_point=point,
            sequence=sequence,
            submission=submission,
            line=line,
            issued_by=clerk,
            issued_at=now,
            holder_name_masked=pii.mask_name(full_name),
        )
        account_services.notify(
            user=customer,
            subject=_("Real-name verification approved"),
            body=_("You were verified in person at %(point)s. Certificate number: %(number)s.")
            % {"point": point.name, "number": certificate.number},
            link="/verification/",
        )
    return certificate


def submission_lift_final_block(*, submission_id: int, actor: User, note: str) -> Submission:
    """Let a customer whose submission was finally rejected submit again (support only)."""
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission_id)
        closed_with_reasons = (Submission.Status.REJECTED, Submission.Status.REVOKED)
        if submission.status not in closed_with_reasons or submission.final_block_lifted_at is not None:
            raise ReviewError(ERR_NOT_REJECTED_FINAL)
        submission.final_block_lifted_at = timezone.now()
        submission.save(update_fields=["final_block_lifted_at"])
        _event(submission, actor=actor, verb="final_block_lifted", note=note)
        account_services.notify(
            user=submission.user,
            subject=_("You can verify your real name again"),
            body=_("Support has reviewed your case. You can submit your ID photos again."),
            link="/verification/",
        )
    return submission


def submissions_erase_personal_data(*, user_id: int) -> dict:
    """Erase names, ID numbers, contact phones, notes and photos of a customer's submissions.

    Photo files are deleted from storage before the rows go; decisions (status, reason
    codes, dates) stay as anonymous history. Returns what was erased.
    """
    from reviews.models import Certificate, private_storage

    photos = list(SubmissionPhoto.objects.filter(submission__user_id=user_id))
    storage = private_storage()
    for photo in photos:
        for name in (photo.image.name, photo.thumbnail.name):
            if name:
                storage.delete(name)
    SubmissionPhoto.objects.filter(pk__in=[photo.pk for photo in photos]).delete()
    submissions = Submission.objects.filter(user_id=user_id).update(
        full_name="",
        id_number_encrypted="",
        id_number_masked="",
        id_number_index="",
        contact_phone="",
        customer_message="",
        internal_note="",
        flags={},
    )
    SubmissionEvent.objects.filter(submission__user_id=user_id).update(customer_message="", internal_note="")
    Certificate.objects.filter(submission__user_id=user_id).update(holder_name_masked="")
    return {"submissions": submissions, "photos": len(photos)}
