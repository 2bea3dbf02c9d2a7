"""Photos kept for a verification form (a customer's, or a clerk's at a desk) between a send-back and the submission."""

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Line, User
from reviews.models import DraftPhoto, private_storage
from reviews.photos import ProcessedPhoto, signed_hash

from .errors import ERR_PHOTO_STORAGE, PhotoStorageUnavailable

logger = logging.getLogger(__name__)


def _delete_quietly(names) -> None:
    storage = private_storage()
    for name in names:
        if not name:
            continue
        try:
            storage.delete(name)
        except Exception as error:  # noqa: BLE001 - a leftover file is logged, not a failed request
            logger.error("Could not delete draft photo file %s: %r", name, error)


def draft_photo_keep(*, user: User, kind: str, photo: ProcessedPhoto, now: datetime | None = None) -> DraftPhoto:
    """Keep ``photo`` as the customer's draft photo of ``kind``, replacing the one kept before.

    The files are written under a fresh random name first; the row is then written under
    the customer's lock (two uploads at once keep the later one, and neither leaves a
    stray row), and the replaced files are deleted after the commit.
    """
    return _keep(form={"user": user}, lock=user, folder=f"drafts/{user.pk}", kind=kind, photo=photo, now=now)


def desk_draft_photo_keep(
    *, clerk: User, line: Line, kind: str, photo: ProcessedPhoto, now: datetime | None = None
) -> DraftPhoto:
    """Keep ``photo`` for ``clerk``'s in-person form for ``line``, replacing the one kept before.

    Keyed by the clerk and the line (the customer being verified may have no account
    yet): another clerk, or the same clerk with another customer's line, never sees it.
    Written as the customer's own drafts are, under the clerk's lock.
    """
    return _keep(
        form={"clerk": clerk, "line": line},
        lock=clerk,
        folder=f"drafts/desk/{clerk.pk}/{line.pk}",
        kind=kind,
        photo=photo,
        now=now,
    )


def _keep(*, form: dict, lock: User, folder: str, kind: str, photo: ProcessedPhoto, now) -> DraftPhoto:
    now = now or timezone.now()
    token = secrets.token_hex(8)
    storage = private_storage()
    names = []
    try:
        for name, content in (
            (f"{folder}/{kind}-{token}.jpg", photo.jpeg),
            (f"{folder}/{kind}-{token}-thumb.jpg", photo.thumbnail),
        ):
            names.append(storage.save(name, ContentFile(content)))
    except Exception as error:
        logger.warning("Keeping the %s draft photo in %s failed: %r", kind, folder, error)
        _delete_quietly(names)
        raise PhotoStorageUnavailable(ERR_PHOTO_STORAGE) from error
    try:
        with transaction.atomic():
            User.objects.select_for_update().filter(pk=lock.pk).values_list("pk").first()
            replaced = DraftPhoto.objects.filter(**form, kind=kind).first()
            old_names = (replaced.image.name, replaced.thumbnail.name) if replaced else ()
            if replaced is not None:
                replaced.delete()
            draft = DraftPhoto.objects.create(
                **form,
                kind=kind,
                image=names[0],
                thumbnail=names[1],
                width=photo.width,
                height=photo.height,
                original_format=photo.original_format,
                original_sha256=photo.original_sha256,
                dhash=signed_hash(photo.dhash),
                hints=photo.hints,
                created_at=now,
                expires_at=now + timedelta(hours=settings.SUBMISSION_DRAFT_HOURS),
            )
            transaction.on_commit(lambda: _delete_quietly(old_names))
    except BaseException:
        _delete_quietly(names)
        raise
    return draft


def drafts_take_over(*, user: User, used_names: set[str]) -> None:
    """Remove the customer's draft rows, in the caller's transaction: a submission took them over.

    Files the submission now refers to (``used_names``) stay; any other draft file is
    deleted after the commit.
    """
    _remove(DraftPhoto.objects.filter(user=user), used_names=used_names)


def desk_drafts_take_over(*, line: Line, used_names: set[str]) -> None:
    """Remove every clerk's desk drafts for ``line``, in the caller's transaction: the line is verified.

    The verifying clerk's own drafts were taken over (``used_names`` stay); another clerk's,
    for a customer now verified, can never be used, so they go too, files after the commit.
    """
    _remove(DraftPhoto.objects.filter(line=line), used_names=used_names)


def _remove(drafts, *, used_names: set[str]) -> None:
    drafts = list(drafts)
    if not drafts:
        return
    leftover = [
        name for draft in drafts for name in (draft.image.name, draft.thumbnail.name) if name and name not in used_names
    ]
    DraftPhoto.objects.filter(pk__in=[draft.pk for draft in drafts]).delete()
    if leftover:
        transaction.on_commit(lambda: _delete_quietly(leftover))


def drafts_erase(*, user_id: int) -> int:
    """Delete a customer's draft photos, files first (the erasure of personal data). Returns how many.

    Their own form's, and those a clerk keeps at a desk for one of their lines.
    """
    drafts = list(DraftPhoto.objects.filter(Q(user_id=user_id) | Q(line__owner_id=user_id)))
    _delete_quietly([name for draft in drafts for name in (draft.image.name, draft.thumbnail.name)])
    DraftPhoto.objects.filter(pk__in=[draft.pk for draft in drafts]).delete()
    return len(drafts)


def drafts_purge_expired(*, now: datetime | None = None, limit: int = 500) -> int:
    """Erase draft photos past their expiry, ``limit`` rows at a time. Returns how many.

    Each chunk's rows are locked with SKIP LOCKED where the database has it and deleted in
    the same transaction, so two copies of the job never fight over a row; files go after
    the commit (a file left by a crash in between is only a file, with no row pointing to it).
    """
    now = now or timezone.now()
    lock = {"skip_locked": True} if transaction.get_connection().features.has_select_for_update_skip_locked else {}
    total = 0
    while True:
        with transaction.atomic():
            drafts = list(
                DraftPhoto.objects.select_for_update(**lock).filter(expires_at__lte=now).order_by("pk")[:limit]
            )
            if not drafts:
                return total
            names = [name for draft in drafts for name in (draft.image.name, draft.thumbnail.name)]
            DraftPhoto.objects.filter(pk__in=[draft.pk for draft in drafts]).delete()
            transaction.on_commit(lambda names=names: _delete_quietly(names))
        total += len(drafts)
