"""Verification in person at a service point: the clerk sees the customer and their ID card."""

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from phonenumber_field.phonenumber import to_python

from accounts import message_kinds
from accounts import services as account_services
from accounts.models import Line, ServicePoint, User
from accounts.selectors import line_by_activation_code
from accounts.services.lines import ERR_CODE_UNKNOWN
from reviews import pii
from reviews.certificates import make_number
from reviews.models import Certificate, Submission

from .decisions import VERIFICATION_LINK, submission_approve_locked
from .drafts import desk_drafts_take_over
from .errors import (
    ERR_CODE_ALREADY_VERIFIED,
    ERR_CUSTOMER_ALREADY_VERIFIED,
    ERR_LINE_LIMIT_IN_PERSON,
    ERR_LINE_OF_ANOTHER_NUMBER,
    ERR_NOT_A_VERIFICATION_POINT,
    ERR_OWN_VERIFICATION,
    LineLimitReached,
    ReviewError,
)
from .submissions import PhotoSet, delete_files, referenced_names, submission_create, submission_withdraw_open


def _certificate_issue(*, submission: Submission, line: Line, point: ServicePoint, actor: User, now) -> Certificate:
    ServicePoint.objects.select_for_update().get(pk=point.pk)  # one sequence number at a time per point
    sequence = (Certificate.objects.filter(service_point=point).aggregate(n=Max("sequence"))["n"] or 0) + 1
    return Certificate.objects.create(
        number=make_number(point.code, sequence),
        service_point=point,
        sequence=sequence,
        submission=submission,
        line=line,
        issued_by=actor,
        issued_at=now,
        holder_name_masked=pii.mask_name(submission.full_name),
    )


def _lock_owner_before_line(activation_code: str) -> None:
    """Lock the line's owner's open submission and the owner, before the line is locked.

    An approval locks the submission and its customer, then the customer's lines: the
    desk takes them in the same order, so a clerk verifying a customer while a reviewer
    approves their online submission waits for it (and is then told the line is in
    service) instead of deadlocking with it. A line's owner never changes once set.
    """
    line = line_by_activation_code(activation_code=activation_code)
    if line is None or line.owner_id is None:
        return
    open_submissions = Submission.objects.filter(user_id=line.owner_id, status__in=Submission.OPEN_STATUSES)
    list(open_submissions.select_for_update().values_list("pk", flat=True))
    User.objects.select_for_update().filter(pk=line.owner_id).values_list("pk", flat=True).first()


def submission_verify_in_person(
    *,
    actor: User,
    activation_code: str,
    full_name: str,
    id_number: str,
    customer_phone,
    photos: PhotoSet | None = None,
) -> Certificate:
    """A clerk saw the customer and their ID card: record an approved offline verification.

    The submission is recorded as online ones are (same 一证五号 check) and approved by the
    same code as the review queue's (customer verified, waiting lines activated, history,
    audit, message), with the clerk as decider and their service point recorded; a numbered
    certificate is issued. Everything happens in one transaction: a refusal leaves no
    account, line attachment or submission behind.

    ``photos`` may refer to the clerk's desk drafts for this line (``StoredPhoto``): the
    submission takes their files over, and every clerk's drafts for the line go.
    """
    point = actor.service_point
    if point is None or not point.is_active or point.kind == ServicePoint.Kind.STORE:
        raise ReviewError(ERR_NOT_A_VERIFICATION_POINT)
    with transaction.atomic():
        _lock_owner_before_line(activation_code)
        line = line_by_activation_code(activation_code=activation_code, for_update=True)
        if line is None:
            raise ReviewError(ERR_CODE_UNKNOWN)
        if line.status != Line.Status.INACTIVE:
            raise ReviewError(ERR_CODE_ALREADY_VERIFIED)
        # Whoever attached the line is the one verified: the person at the desk must be them.
        # Otherwise someone who learnt a buyer's code and added the line first would get it
        # verified with the buyer's ID card when the buyer comes in.
        if line.owner is not None and line.owner.phone != to_python(customer_phone):
            raise ReviewError(ERR_LINE_OF_ANOTHER_NUMBER % {"phone": pii.mask_phone(line.owner.phone)})
        customer = line.owner or account_services.customer_for_desk(phone=customer_phone, actor=actor)
        if customer.pk == actor.pk:
            raise ReviewError(ERR_OWN_VERIFICATION)
        # Refused before the line is attached: attaching to a verified customer would activate it.
        if customer.is_real_name_verified:
            raise ReviewError(ERR_CUSTOMER_ALREADY_VERIFIED)
        if line.owner_id is None:
            account_services.line_attach(actor=actor, owner=customer, activation_code=activation_code)
        submission_withdraw_open(
            user=customer,
            actor=actor,
            note=_("Replaced by in-person verification at %(point)s") % {"point": point.code},
        )
        # submission_create locks the customer: the approval below changes their row.
        submission = submission_create(
            user=customer,
            full_name=full_name,
            id_number=id_number,
            contact_phone=customer_phone.as_e164 if hasattr(customer_phone, "as_e164") else str(customer_phone),
            photos=photos or PhotoSet(),  # without photos submission_create would skip the 一证五号 flag
            actor=actor,
            channel=Submission.Channel.OFFLINE,
            service_point=point,
        )
        # Known before approving: after a refusal the transaction takes no more queries. Files
        # the submission only refers to (the clerk's drafts) are not its own to delete.
        used = referenced_names(photos)
        stored = [
            name
            for photo in submission.photos.all()
            for name in (photo.image.name, photo.thumbnail.name)
            if name not in used
        ]
        now = timezone.now()
        certificate = _certificate_issue(submission=submission, line=line, point=point, actor=actor, now=now)
        try:
            submission_approve_locked(
                submission,
                actor=actor,
                now=now,
                verb="verified_in_person",
                notification=(
                    message_kinds.VERIFICATION_APPROVED_IN_PERSON,
                    {"point": point.name, "number": certificate.number},
                    VERIFICATION_LINK,
                ),
                audit_data={"service_point": point.code, "certificate": certificate.number},
            )
        except LineLimitReached as error:
            # The rollback removes the photo rows, not the files just written for them.
            delete_files(stored)
            raise ReviewError(ERR_LINE_LIMIT_IN_PERSON) from error
        desk_drafts_take_over(line=line, used_names=used)
    return certificate
