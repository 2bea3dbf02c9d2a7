"""Machine checks of a submission: the pending row, its run after the commit, the record of what it found.

The checks are evidence: nothing here approves, rejects or flags a submission. A run
takes seconds (OCR, face embeddings), so it never holds a transaction or a row lock
while it works: it takes the row with a conditional UPDATE (a lease), computes, then
writes the result under ``select_for_update`` only if the row is still its own.
"""

import datetime
import io
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from PIL import Image

from reviews import pii
from reviews.checks import runner
from reviews.models import MachineCheck, Submission, SubmissionPhoto
from reviews.validators import age_on

from .history import submission_audit_record

logger = logging.getLogger(__name__)

RUN_TASK = "reviews.tasks.run_machine_check"

_executor = None
_executor_lock = threading.Lock()


def background_executor() -> ThreadPoolExecutor:
    """The web process's one background thread for machine checks (the "thread" runner).

    One thread: checks run one after another, so a burst of submissions queues here
    instead of taking every core from the requests.
    """
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="machine-checks")
    return _executor


def machine_check_queue(*, submission: Submission, id_number: str) -> MachineCheck | None:
    """Create the submission's pending check, with its age, and have it run after the commit.

    Call inside the transaction that creates the submission. Online submissions only: at
    a desk the clerk holds the card and sees the person.
    """
    if submission.channel != Submission.Channel.ONLINE:
        return None
    age = age_on(id_number, timezone.localtime(submission.submitted_at).date())
    check = MachineCheck.objects.create(
        submission=submission, age=age, is_underage=age < settings.MIN_SELF_REGISTRATION_AGE
    )
    if settings.MACHINE_CHECKS_RUNNER in ("thread", "celery"):
        check_id = check.pk
        transaction.on_commit(lambda: _start(check_id))
    return check


def _start(check_id: int) -> None:
    # After the customer's commit: a failure here must not turn their submission into an
    # error page. The row stays pending and `run_machine_checks` runs it.
    try:
        if settings.MACHINE_CHECKS_RUNNER == "celery":
            current_app.send_task(RUN_TASK, args=[check_id])
        else:
            background_executor().submit(_run_in_background, check_id)
    except Exception:
        logger.exception("Starting machine check %s failed; run_machine_checks will run it", check_id)


def _run_in_background(check_id: int) -> None:
    try:
        machine_check_run(check_id=check_id)
    except Exception:
        logger.exception("Machine check %s failed in the background thread", check_id)
    finally:
        connection.close()  # this thread's own connection


def _take(check_id: int, *, now) -> bool:
    """Take the row for one run: pending, and no other run's lease still running."""
    lease_start = now - datetime.timedelta(seconds=settings.MACHINE_CHECK_LEASE_SECONDS)
    return bool(
        MachineCheck.objects.filter(pk=check_id, status=MachineCheck.Status.PENDING)
        .filter(Q(started_at__isnull=True) | Q(started_at__lt=lease_start))
        .update(started_at=now, attempts=F("attempts") + 1)
    )


def _open_image(photo: SubmissionPhoto | None) -> Image.Image | None:
    """The stored photo, read through its private storage as the review screen's photo view reads it.

    Its bytes are read here and its pixels left undecoded: the runner decodes each photo
    once, at the size the checks work on (``runner.working_copy``).
    """
    if photo is None or not photo.image:
        return None
    with photo.image.storage.open(photo.image.name, "rb") as handle:
        return Image.open(io.BytesIO(handle.read()))


def machine_check_run(*, check_id: int) -> MachineCheck | None:
    """Run the checks of one pending row and record them; None if another run has it or it is finished.

    Safe to call twice at once, or again after a crash: the lease lets one run at a time
    work, and the result is written only by the run that still holds the row.
    """
    now = timezone.now()
    if not _take(check_id, now=now):
        return None
    check = MachineCheck.objects.select_related("submission").get(pk=check_id)
    if check.attempts > settings.MACHINE_CHECK_MAX_RUNS:
        return _finish(check_id, started_at=now, failure="GaveUpAfterRepeatedRuns")
    submission = check.submission
    try:
        photos = {photo.kind: photo for photo in SubmissionPhoto.objects.filter(submission=submission)}
        outcome = runner.run(
            front=_open_image(photos.get(SubmissionPhoto.Kind.ID_FRONT)),
            back=_open_image(photos.get(SubmissionPhoto.Kind.ID_BACK)),
            handheld=_open_image(photos.get(SubmissionPhoto.Kind.ID_HANDHELD)),
            typed=runner.Typed(full_name=submission.full_name, id_number=pii.decrypt(submission.id_number_encrypted)),
            on_day=timezone.localtime(submission.submitted_at).date(),
            thresholds=runner.Thresholds(
                face_same_max=settings.FACE_MATCH_SAME_MAX_DISTANCE,
                face_different_min=settings.FACE_MATCH_DIFFERENT_MIN_DISTANCE,
            ),
        )
    except Exception as error:
        # Erased photos, storage down, a photo the decoder refuses: the reviewer decides
        # from the photos as before. The class name only: messages can quote data.
        logger.exception("Machine check %s could not run", check_id)
        return _finish(check_id, started_at=now, failure=type(error).__name__)
    return _finish(check_id, started_at=now, outcome=outcome)


def _stored_fields(fields: dict, typed_id_number: str) -> dict:
    """The read ID number masked like the typed one, with the positions where the two differ."""
    fields = {key: dict(value) for key, value in fields.items()}
    number = fields.get("id_number")
    if number and number.get("read"):
        read = number["read"]
        if read != typed_id_number:
            number["differs_at"] = [
                position + 1
                for position in range(max(len(read), len(typed_id_number)))
                if read[position : position + 1] != typed_id_number[position : position + 1]
            ]
        number["read"] = pii.mask_id_number(read)
    return fields


def _finish(check_id: int, *, started_at, outcome: runner.Outcome | None = None, failure: str = ""):
    with transaction.atomic():
        check = (
            MachineCheck.objects.select_for_update()
            .select_related("submission")
            .filter(pk=check_id, status=MachineCheck.Status.PENDING, started_at=started_at)
            .first()
        )
        if check is None:
            return None  # erased meanwhile, or our lease ran out and another run took the row
        check.finished_at = timezone.now()
        update = ["status", "finished_at", "failure", "timings"]
        if outcome is None:
            check.status = MachineCheck.Status.FAILED
            check.failure = failure[:100]
        else:
            submission = check.submission
            check.status = MachineCheck.Status.DONE
            check.fields = _stored_fields(outcome.fields, pii.decrypt(submission.id_number_encrypted))
            check.mismatch_count = sum(1 for result in check.fields.values() if result.get("outcome") == "mismatch")
            check.sides = outcome.sides
            check.face_distance = outcome.face_distance
            check.face_band = outcome.face_band
            check.face_note = outcome.face_note
            check.document_expiry = outcome.document_expiry
            check.document_valid_from = outcome.valid_from
            check.document_valid_until = outcome.valid_until
            check.timings = outcome.timings
            update += [
                "fields",
                "mismatch_count",
                "sides",
                "face_distance",
                "face_band",
                "face_note",
                "document_expiry",
                "document_valid_from",
                "document_valid_until",
            ]
        check.full_clean(exclude=["submission"], validate_constraints=False)
        check.save(update_fields=update)
        submission_audit_record(
            check.submission,
            actor=None,
            verb="machine_checked",
            data={
                "status": check.status,
                "face_band": check.face_band,
                "document_expiry": check.document_expiry,
                "failure": check.failure,
            },
        )
    return check


def machine_checks_run_pending(*, limit: int = 50) -> int:
    """Run pending checks that no thread or task is running (never started, or their lease ran out)."""
    lease_start = timezone.now() - datetime.timedelta(seconds=settings.MACHINE_CHECK_LEASE_SECONDS)
    ids = list(
        MachineCheck.objects.filter(status=MachineCheck.Status.PENDING)
        .filter(Q(started_at__isnull=True) | Q(started_at__lt=lease_start))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for check_id in ids if machine_check_run(check_id=check_id) is not None)
