"""A customer's verification attempt: recording it, why one may not be made, withdrawing it."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from accounts.models import User
from reviews import pii, selectors
from reviews.business_days import add_business_days
from reviews.models import ReasonCode, Submission, SubmissionPhoto, private_storage
from reviews.photos import ProcessedPhoto, StoredPhoto, dhash_bands, hamming, signed_hash

from .checks import machine_check_queue
from .drafts import drafts_take_over
from .errors import (
    ERR_ALREADY_OPEN,
    ERR_ALREADY_VERIFIED,
    ERR_FINAL_BLOCK,
    ERR_PHOTO_STORAGE,
    ERR_TOO_MANY_ATTEMPTS,
    PhotoStorageUnavailable,
    ReviewError,
)
from .history import submission_event_record

logger = logging.getLogger(__name__)


@dataclass
class PhotoSet:
    """The three photos of an online submission; at a desk any of them may be missing.

    Each is a new upload (``ProcessedPhoto``, written for the submission) or a photo
    already stored (``StoredPhoto``: the customer's draft, or an earlier attempt's photo a
    resubmission keeps), which the submission refers to without copying its bytes.
    """

    id_front: ProcessedPhoto | StoredPhoto | None = None
    id_back: ProcessedPhoto | StoredPhoto | None = None
    id_handheld: ProcessedPhoto | StoredPhoto | None = None

    def items(self):
        pairs = (
            (SubmissionPhoto.Kind.ID_FRONT, self.id_front),
            (SubmissionPhoto.Kind.ID_BACK, self.id_back),
            (SubmissionPhoto.Kind.ID_HANDHELD, self.id_handheld),
        )
        return tuple((kind, photo) for kind, photo in pairs if photo is not None)


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


def _flags_for(*, user, id_number_index: str, photos: PhotoSet) -> dict:
    """What the reviewer should look at twice: too many lines on the ID, the ID or a photo used elsewhere."""
    flags = {}
    line_limit = selectors.line_limit_flag(user_id=user.pk, id_number_index=id_number_index)
    if line_limit is not None:
        flags["line_limit"] = line_limit
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

    ``user`` is the customer, ``actor`` who submits (the customer, or a clerk at a desk).
    The customer's row is locked and the returned submission carries it. Photos are
    written to private storage before the row commits; if anything fails afterwards
    they are deleted again, so nothing is stored half-way.
    """
    now = timezone.now()
    index = pii.id_number_blind_index(id_number)
    stored_names = []
    try:
        with transaction.atomic():
            user = User.objects.select_for_update(no_key=True).get(pk=user.pk)
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
                full_name_index=pii.name_blind_index(full_name),
                id_number_encrypted=pii.encrypt(pii.normalize_id_number(id_number)),
                id_number_masked=pii.mask_id_number(id_number),
                id_number_index=index,
                contact_phone=contact_phone,
                submitted_at=now,
                due_at=add_business_days(now, settings.REVIEW_SLA_BUSINESS_DAYS),
                flags=flags,
                is_flagged=bool(flags),
                has_photo_hints=any((photo.hints or {}).get("warnings") for _kind, photo in photos.items())
                if photos
                else False,
                service_point=service_point,
            )
            # The one-open-submission rule is the database's: a check here would race with a
            # double submit and raise a ValidationError instead of the IntegrityError below.
            submission.full_clean(validate_unique=False, validate_constraints=False)
            submission.save()
            for kind, photo in photos.items() if photos else ():
                stored_names.extend(_store_photo(submission, kind, photo))
            if channel == Submission.Channel.ONLINE:
                drafts_take_over(user=user, used_names=referenced_names(photos))
            submission_event_record(submission, actor=actor, verb="submitted", to_status=Submission.Status.PENDING)
            if photos:
                machine_check_queue(submission=submission, id_number=pii.normalize_id_number(id_number))
    except IntegrityError as error:
        delete_files(stored_names)
        # The one-open-submission constraint caught a double submit.
        raise ReviewError(ERR_ALREADY_OPEN) from error
    except BaseException:
        delete_files(stored_names)
        raise
    return submission


def referenced_names(photos: PhotoSet | None) -> set[str]:
    """The stored files ``photos`` refer to (drafts, an earlier attempt's): not written for the submission."""
    return {
        name
        for _kind, photo in (photos.items() if photos else ())
        if isinstance(photo, StoredPhoto)
        for name in (photo.image_name, photo.thumbnail_name)
    }


def _store_photo(submission, kind, photo: ProcessedPhoto | StoredPhoto) -> list[str]:
    """Record one photo of the submission; return the names of the files written for it (to undo)."""
    bands = dhash_bands(photo.dhash)
    record = SubmissionPhoto(
        submission=submission,
        kind=kind,
        width=photo.width,
        height=photo.height,
        original_format=photo.original_format,
        original_sha256=photo.original_sha256,
        dhash=signed_hash(photo.dhash),
        dhash_band0=bands[0],
        dhash_band1=bands[1],
        dhash_band2=bands[2],
        dhash_band3=bands[3],
        hints=photo.hints,
    )
    if isinstance(photo, StoredPhoto):
        # The customer's own stored photo: referred to, not copied. Nothing is written, so a
        # failure leaves nothing to delete (the draft or the earlier submission keeps it).
        record.image.name, record.thumbnail.name = photo.image_name, photo.thumbnail_name
        record.save()
        return []
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
        delete_files(names)
        raise PhotoStorageUnavailable(ERR_PHOTO_STORAGE) from error
    try:
        record.save()
    except BaseException:
        delete_files(names)
        raise
    return names


def delete_files(names):
    """Delete photo files written for a submission that is not recorded after all."""
    storage = private_storage()
    for name in names:
        try:
            storage.delete(name)
        except Exception as error:  # noqa: BLE001 - cleaning up must not hide the error being handled
            logger.error("Could not delete %s from private storage after a failed submission: %r", name, error)


def submission_withdraw_open(*, user: User, actor, note: str) -> Submission | None:
    """Close the customer's open submission without a decision (it is replaced by another check)."""
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
        submission_event_record(
            submission, actor=actor, verb="withdrawn", from_status=from_status, to_status=submission.status, note=note
        )
    return submission
