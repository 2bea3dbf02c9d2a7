"""Personal data in submissions: who saw it (photo views, full ID numbers) and its erasure."""

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Value
from django.db.models.functions import Concat

from accounts.models import User
from accounts.services.audit import audit_record
from reviews import pii
from reviews.models import (
    Certificate,
    DraftPhoto,
    MachineCheck,
    PhotoAccess,
    QualitySample,
    Submission,
    SubmissionEvent,
    SubmissionPhoto,
    private_storage,
)

from .drafts import drafts_erase
from .history import submission_audit_record

FULL_ID_NUMBER_PERMISSION = "reviews.view_full_id_number"


def photo_access_record(*, photo: SubmissionPhoto, actor: User, variant: str, ip_address: str | None) -> PhotoAccess:
    """Log that a staff member is shown an ID photo: in the photo access log and the audit trail.

    Two appends to logs of a read, without a transaction of their own: a review screen asks
    for its three photos at once, and nothing here is a state that could be half-changed.
    """
    access = PhotoAccess.objects.create(
        staff=actor,
        photo=photo,
        submission_id_copy=photo.submission_id,
        variant=variant,
        ip_address=ip_address,
    )
    submission_audit_record(
        photo.submission,
        actor=actor,
        verb="photo_viewed",
        data={"photo": photo.pk, "kind": photo.kind, "variant": variant},
    )
    return access


def desk_draft_photo_access_record(*, draft: DraftPhoto, actor: User) -> None:
    """Log that a clerk is shown a photo their desk form keeps (no submission yet): in the audit trail.

    Only the clerk who took it can see it (``desk_draft_photo_for_clerk``); it is logged all
    the same, as every staff view of an ID photo is.
    """
    audit_record(
        actor=actor,
        verb="desk_draft_photo.viewed",
        target=draft,
        subject_user=draft.line.owner if draft.line.owner_id else None,
        data={"line": draft.line_id, "kind": draft.kind},
    )


def submission_id_number_reveal(*, submission: Submission, actor: User) -> str | None:
    """The submission's full ID number if ``actor`` may see it, audited; else None."""
    if not actor.has_perm(FULL_ID_NUMBER_PERMISSION):
        return None
    submission_audit_record(submission, actor=actor, verb="id_number_viewed")
    return pii.decrypt(submission.id_number_encrypted)


def submissions_erase_personal_data(*, user_id: int) -> dict:
    """Erase names, ID numbers, contact phones, notes, photos and machine checks of a customer's submissions.

    Notes include the escalation's and the quality check's; the admin's history keeps a
    submission's number only.

    Photo files are deleted from storage before the rows go; decisions (status, reason
    codes, dates) stay as anonymous history. Returns what was erased.
    """
    photos = list(SubmissionPhoto.objects.filter(submission__user_id=user_id))
    storage = private_storage()
    for photo in photos:
        for name in (photo.image.name, photo.thumbnail.name):
            if name:
                storage.delete(name)
    SubmissionPhoto.objects.filter(pk__in=[photo.pk for photo in photos]).delete()
    # What the machine checks read (name, address, birth date) and derived (age): gone
    # with the photos. A run still working finds its row gone and writes nothing.
    machine_checks, _ = MachineCheck.objects.filter(submission__user_id=user_id).delete()
    drafts_erase(user_id=user_id)  # photos kept for a form never submitted
    submissions = Submission.objects.filter(user_id=user_id).update(
        full_name="",
        full_name_index="",
        id_number_encrypted="",
        id_number_masked="",
        id_number_index="",
        contact_phone="",
        customer_message="",
        internal_note="",
        flags={},
        final_rejection_proposal={},
        escalation_note="",
    )
    SubmissionEvent.objects.filter(submission__user_id=user_id).update(customer_message="", internal_note="")
    QualitySample.objects.filter(submission__user_id=user_id).update(note="")
    # Django's admin history names a submission as the admin shows it (with the masked ID number).
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Submission),
        object_id__in=[str(pk) for pk in Submission.objects.filter(user_id=user_id).values_list("pk", flat=True)],
    ).update(object_repr=Concat(Value("#"), "object_id"))
    Certificate.objects.filter(submission__user_id=user_id).update(holder_name_masked="")
    return {"submissions": submissions, "photos": len(photos), "machine_checks": machine_checks}
