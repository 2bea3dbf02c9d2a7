"""Every state change of a submission: the result, the refusal, the event and the message."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.models import AuditEvent, Line, Notification, OutboundMessage
from reviews import services, validators
from reviews.business_days import add_business_days
from reviews.models import ReasonCode, Submission, SubmissionEvent, SubmissionPhoto
from reviews.selectors import expected_decision_window
from reviews.services import (
    ERR_ALREADY_DECIDED,
    ERR_ALREADY_OPEN,
    ERR_ALREADY_VERIFIED,
    ERR_CLAIM_TAKEN,
    ERR_FINAL_BLOCK,
    ERR_LINE_LIMIT_ONLY_REJECT,
    ERR_NOT_CLAIMED_BY_YOU,
    ERR_NOT_REJECTED_FINAL,
    ERR_NOTHING_TO_RELEASE,
    ERR_REASON_REQUIRED,
    ERR_REASON_UNKNOWN,
    ERR_TOO_MANY_ATTEMPTS,
    ReviewError,
)
from reviews.services import submissions as submission_services
from reviews.validators import (
    ERR_ID_BIRTH_DATE,
    ERR_ID_CHECKSUM,
    ERR_ID_EARLY_BIRTH_DATE,
    ERR_ID_FUTURE_BIRTH_DATE,
    ERR_ID_LENGTH,
    ERR_ID_REGION,
    ERR_NAME,
)
from tests.factories import CustomerFactory, make_line
from tests.reviews.conftest import ID_NUMBER, decide_claimed, expire_claim, private_files, resident_id

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def refused(message, call, *args, **kwargs):
    """Run ``call`` and check it raises ReviewError with exactly ``message``."""
    with pytest.raises(ReviewError) as caught:
        call(*args, **kwargs)
    assert str(caught.value) == str(message)


def verbs(submission) -> list[str]:
    return list(SubmissionEvent.objects.filter(submission=submission).order_by("pk").values_list("verb", flat=True))


def wrong_checksum(number: str) -> str:
    last = "0" if number[-1] != "0" else "1"
    return number[:-1] + last


# What the customer types -------------------------------------------------------------------


def test_valid_resident_id_is_returned_in_canonical_form():
    number = resident_id(sequence="103")  # ends in X
    assert validators.clean_resident_id(f" {number[:6]} {number[6:14]} {number[14:].lower()} ") == number


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (wrong_checksum(ID_NUMBER), ERR_ID_CHECKSUM),
        (resident_id(birth="20991231"), ERR_ID_FUTURE_BIRTH_DATE),
        (resident_id(birth="00010101"), ERR_ID_EARLY_BIRTH_DATE),
        (resident_id(birth="18000101"), ERR_ID_EARLY_BIRTH_DATE),
        (resident_id(birth="18991231"), ERR_ID_EARLY_BIRTH_DATE),
        (resident_id(birth="19900230"), ERR_ID_BIRTH_DATE),
        (resident_id(birth="19901301"), ERR_ID_BIRTH_DATE),
        (resident_id(region="990101"), ERR_ID_REGION),
        (resident_id(region="119999"), ERR_ID_REGION),  # Beijing, but no such county
        (ID_NUMBER[:17], ERR_ID_LENGTH),
        (ID_NUMBER + "1", ERR_ID_LENGTH),
        ("11010519900101A23X", ERR_ID_LENGTH),
        ("", ERR_ID_LENGTH),
    ],
    ids=[
        "checksum",
        "future-birth-date",
        "born-in-year-1",
        "born-1800",
        "born-the-day-before-1900",
        "30-february",
        "13th-month",
        "unknown-province",
        "unknown-county",
        "17-characters",
        "19-characters",
        "letter-inside",
        "empty",
    ],
)
def test_invalid_resident_id_is_refused_with_its_reason(typed, message):
    with pytest.raises(ValidationError) as caught:
        validators.clean_resident_id(typed)
    assert caught.value.messages == [str(message)]


def test_birth_date_today_is_refused_and_the_first_day_of_1900_is_accepted():
    today = timezone.localdate().strftime("%Y%m%d")
    with pytest.raises(ValidationError) as caught:
        validators.clean_resident_id(resident_id(birth=today))
    assert caught.value.messages == [str(ERR_ID_FUTURE_BIRTH_DATE)]
    yesterday = (timezone.localdate() - timedelta(days=1)).strftime("%Y%m%d")
    assert validators.clean_resident_id(resident_id(birth=yesterday)) == resident_id(birth=yesterday)
    assert validators.clean_resident_id(resident_id(birth="19000101")) == resident_id(birth="19000101")


@pytest.mark.parametrize(
    ("typed", "cleaned"),
    [
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("阿依古丽•买买提", "阿依古丽·买买提"),  # bullet typed instead of the middle dot
        ("阿依古丽・买买提", "阿依古丽·买买提"),  # Japanese middle dot
        ("王小明", "王小明"),
        ("  Zhang   San ", "Zhang San"),
        ("O'Brien-Li", "O'Brien-Li"),
    ],
)
def test_names_as_on_the_card_are_accepted(typed, cleaned):
    assert validators.clean_full_name(typed) == cleaned


@pytest.mark.parametrize(
    "typed",
    ["王小明2", "Zhang San 3", "", "   ", "·买买提", "阿依古丽··买买提", "<script>", "王" * 61, "王小明 Zhang"],
)
def test_names_with_digits_or_symbols_are_refused(typed):
    with pytest.raises(ValidationError) as caught:
        validators.clean_full_name(typed)
    assert caught.value.messages == [str(ERR_NAME)]


# Submitting ----------------------------------------------------------------------------------


def test_submission_is_queued_with_its_photos_in_private_storage(submit):
    customer = CustomerFactory()
    before = private_files()

    submission = submit(customer)

    assert submission.status == Submission.Status.PENDING
    assert submission.attempt_number == 1
    assert submission.user == customer
    assert submission.is_flagged is False
    assert submission.flags == {}
    assert verbs(submission) == ["submitted"]
    photos = {photo.kind: photo for photo in submission.photos.all()}
    assert set(photos) == set(SubmissionPhoto.Kind.values)
    new_files = private_files() - before
    assert len(new_files) == 6  # photo + thumbnail per kind
    assert {photo.image.name for photo in photos.values()} <= new_files
    assert all(photo.image.read(2) == b"\xff\xd8" for photo in photos.values())


def test_second_submission_while_one_is_open_is_refused(submit):
    customer = CustomerFactory()
    submit(customer)
    before = private_files()

    refused(ERR_ALREADY_OPEN, submit, customer)

    assert Submission.objects.filter(user=customer).count() == 1
    assert private_files() == before
    assert services.submission_blocker(user=customer) == str(ERR_ALREADY_OPEN)


def test_one_open_submission_per_customer_holds_in_the_database_even_without_the_checks(submit, monkeypatch):
    customer = CustomerFactory()
    first = submit(customer)
    before = private_files()
    # As if two requests had both passed the checks at the same moment.
    monkeypatch.setattr(submission_services, "_resubmission_blocker", lambda user, **kwargs: None)
    monkeypatch.setattr(Submission, "validate_constraints", lambda self, exclude=None: None)

    # Through the service: the constraint turns the double submit into the same clear refusal.
    refused(ERR_ALREADY_OPEN, submit, customer)
    assert private_files() == before

    # Straight into the table: the database itself refuses.
    with pytest.raises(IntegrityError), transaction.atomic():
        Submission.objects.create(
            user=customer,
            attempt_number=2,
            full_name=first.full_name,
            id_number_encrypted=first.id_number_encrypted,
            id_number_masked=first.id_number_masked,
            id_number_index=first.id_number_index,
            contact_phone=first.contact_phone,
            due_at=first.due_at,
        )
    assert Submission.objects.filter(user=customer).count() == 1


def test_submission_failing_halfway_leaves_no_row_and_no_file(submit, monkeypatch):
    before = private_files()

    def broken_event(*args, **kwargs):
        raise RuntimeError("database went away after the photos were written")

    monkeypatch.setattr(submission_services, "submission_event_record", broken_event)
    with pytest.raises(RuntimeError):
        submit()

    assert Submission.objects.count() == 0
    assert SubmissionPhoto.objects.count() == 0
    assert private_files() == before


def test_verified_customer_cannot_submit_again(submit, reviewer, decide):
    customer = CustomerFactory()
    decide(submit(customer), reviewer, "approve")
    refused(ERR_ALREADY_VERIFIED, submit, customer)


def test_resubmission_after_a_retry_rejection_is_attempt_two(submit, reviewer, decide):
    customer = CustomerFactory()
    first = submit(customer)
    decide(first, reviewer, "reject", ["IMG_BLURRY"])
    assert services.submission_blocker(user=customer) is None

    second = submit(customer)

    assert second.attempt_number == 2
    assert second.status == Submission.Status.PENDING
    first.refresh_from_db()
    assert list(first.reasons.values_list("code", flat=True)) == ["IMG_BLURRY"]  # kept in history


def test_final_rejection_blocks_resubmission_until_support_lifts_it(submit, reviewer, support, decide, sent):
    customer = CustomerFactory()
    first = submit(customer)
    decide(first, reviewer, "reject", ["FACE_MISMATCH", "IMG_BLURRY"])

    assert services.submission_blocker(user=customer) == str(ERR_FINAL_BLOCK)
    refused(ERR_FINAL_BLOCK, submit, customer)
    assert Submission.objects.filter(user=customer).count() == 1

    with sent():
        services.submission_lift_final_block(submission_id=first.pk, actor=support, note="Called the customer")

    assert services.submission_blocker(user=customer) is None
    assert submit(customer).attempt_number == 2
    event = SubmissionEvent.objects.get(submission=first, verb="final_block_lifted")
    assert (event.actor, event.internal_note) == (support, "Called the customer")
    assert Notification.objects.filter(user=customer, link="/verification/").count() == 2  # rejected, lifted


def test_lifting_is_refused_unless_the_submission_is_rejected_and_not_yet_lifted(submit, reviewer, support, decide):
    pending = submit()
    refused(
        ERR_NOT_REJECTED_FINAL, services.submission_lift_final_block, submission_id=pending.pk, actor=support, note=""
    )
    rejected = submit()
    decide(rejected, reviewer, "reject", ["DOC_TAMPERED"])
    services.submission_lift_final_block(submission_id=rejected.pk, actor=support, note="")
    refused(
        ERR_NOT_REJECTED_FINAL, services.submission_lift_final_block, submission_id=rejected.pk, actor=support, note=""
    )


def test_too_many_rejected_attempts_are_refused(settings, submit, reviewer, decide):
    settings.MAX_SUBMISSION_ATTEMPTS = 2
    customer = CustomerFactory()
    decide(submit(customer), reviewer, "reject", ["IMG_DARK"])
    decide(submit(customer), reviewer, "reject", ["IMG_GLARE"])

    assert services.submission_blocker(user=customer) == str(ERR_TOO_MANY_ATTEMPTS)
    refused(ERR_TOO_MANY_ATTEMPTS, submit, customer)
    assert Submission.objects.filter(user=customer).count() == 2


def test_default_attempt_limit_is_five(submit, reviewer, decide):
    customer = CustomerFactory()
    for _ in range(5):
        decide(submit(customer, photos=None), reviewer, "reject", ["IMG_BLURRY"])
    refused(ERR_TOO_MANY_ATTEMPTS, submit, customer, photos=None)


# Due date --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("submitted", "due"),
    [
        (datetime(2026, 11, 20, 10, 30, tzinfo=SHANGHAI), datetime(2026, 11, 25, 10, 30, tzinfo=SHANGHAI)),  # Fri→Wed
        (datetime(2026, 11, 20, 23, 50, tzinfo=SHANGHAI), datetime(2026, 11, 25, 23, 50, tzinfo=SHANGHAI)),  # Fri late
        (datetime(2026, 11, 21, 9, 0, tzinfo=SHANGHAI), datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)),  # Sat→Wed
        (datetime(2026, 11, 16, 9, 0, tzinfo=SHANGHAI), datetime(2026, 11, 19, 9, 0, tzinfo=SHANGHAI)),  # Mon→Thu
    ],
    ids=["friday", "friday-late-evening", "saturday", "monday"],
)
def test_due_date_is_three_business_days_after_submission(submitted, due, submit, monkeypatch):
    assert submitted.weekday() in (0, 4, 5)
    monkeypatch.setattr(timezone, "now", lambda: submitted)

    submission = submit(photos=None)

    assert submission.submitted_at == submitted
    assert submission.due_at == due
    assert timezone.localtime(submission.due_at).date() == due.date()


def test_friday_submission_expects_a_decision_between_monday_and_wednesday(submit, monkeypatch):
    friday = datetime(2026, 11, 20, 10, 30, tzinfo=SHANGHAI)
    monkeypatch.setattr(timezone, "now", lambda: friday)
    submission = submit(photos=None)
    start, end = expected_decision_window(submission)
    assert (start.isoformat(), end.isoformat()) == ("2026-11-23", "2026-11-25")
    assert (start.weekday(), end.weekday()) == (0, 2)


def test_sla_business_days_come_from_settings(settings, submit):
    settings.REVIEW_SLA_BUSINESS_DAYS = 1
    submission = submit(photos=None)
    assert submission.due_at == add_business_days(submission.submitted_at, 1)


# Flags -------------------------------------------------------------------------------------------


def approved_with_lines(submit, reviewer, decide, *, lines: int, id_number=ID_NUMBER):
    holder = CustomerFactory()
    for _ in range(lines):
        make_line(owner=holder)
    decide(submit(holder, id_number=id_number), reviewer, "approve")
    assert Line.objects.filter(owner=holder, status=Line.Status.ACTIVE).count() == lines
    return holder


def test_submission_beyond_the_line_limit_is_flagged(settings, submit, reviewer, decide):
    settings.MAX_LINES_PER_ID = 2
    holder = approved_with_lines(submit, reviewer, decide, lines=2)
    customer = CustomerFactory()
    make_line(owner=customer)

    submission = submit(customer, id_number=ID_NUMBER)

    assert submission.is_flagged
    assert submission.flags["line_limit"] == {"held_elsewhere": 2, "this_account": 1, "max": 2}
    assert submission.flags["duplicate_id"] == {"accounts": [holder.pk]}


def test_submission_within_the_line_limit_is_not_line_flagged(settings, submit, reviewer, decide):
    settings.MAX_LINES_PER_ID = 3
    approved_with_lines(submit, reviewer, decide, lines=2)
    customer = CustomerFactory()
    make_line(owner=customer)
    submission = submit(customer, id_number=ID_NUMBER)
    assert "line_limit" not in submission.flags


def test_cancelled_lines_do_not_count_towards_the_line_limit(settings, submit, reviewer, decide):
    settings.MAX_LINES_PER_ID = 1
    holder = approved_with_lines(submit, reviewer, decide, lines=1)
    Line.objects.filter(owner=holder).update(status=Line.Status.CANCELLED, cancelled_at=timezone.now())
    customer = CustomerFactory()
    make_line(owner=customer)
    assert "line_limit" not in submit(customer, id_number=ID_NUMBER).flags


def test_line_limited_submission_can_only_be_rejected_with_line_limit(settings, submit, reviewer, decide):
    settings.MAX_LINES_PER_ID = 1
    approved_with_lines(submit, reviewer, decide, lines=1)
    customer = CustomerFactory()
    make_line(owner=customer)
    submission = submit(customer, id_number=ID_NUMBER)
    services.submission_claim(submission_id=submission.pk, actor=reviewer)

    refused(ERR_LINE_LIMIT_ONLY_REJECT, decide, submission, reviewer, "approve")
    refused(ERR_LINE_LIMIT_ONLY_REJECT, decide, submission, reviewer, "reject", ["IMG_BLURRY"])
    submission.refresh_from_db()
    assert submission.status == Submission.Status.IN_REVIEW

    decide(submission, reviewer, "reject", ["LINE_LIMIT", "IMG_BLURRY"])
    submission.refresh_from_db()
    assert submission.status == Submission.Status.REJECTED
    assert services.submission_blocker(user=customer) == str(ERR_FINAL_BLOCK)
    customer.refresh_from_db()
    assert not customer.is_real_name_verified
    assert Line.objects.get(owner=customer).status == Line.Status.INACTIVE


def test_same_id_on_another_account_is_flagged_on_the_later_submission(submit):
    first_customer = CustomerFactory()
    first = submit(first_customer, id_number=ID_NUMBER)
    second = submit(id_number=ID_NUMBER)
    unrelated = submit(id_number=resident_id(sequence="456"))

    assert "duplicate_id" not in first.flags
    assert second.flags["duplicate_id"] == {"accounts": [first_customer.pk]}
    assert second.is_flagged
    assert unrelated.flags == {}


def test_same_photos_on_another_account_are_flagged(submit, photo_set):
    first = submit(photos=photo_set)
    second = submit(id_number=resident_id(sequence="456"), photos=photo_set)

    assert "duplicate_photo" not in first.flags
    duplicates = second.flags["duplicate_photo"]
    assert {d["kind"] for d in duplicates} == {"id_front", "id_back", "id_handheld"}
    assert {d["submission"] for d in duplicates} == {first.pk}
    assert {d["account"] for d in duplicates} == {first.user_id}
    assert second.is_flagged


def test_customer_resubmitting_their_own_photos_is_not_flagged(submit, photo_set, reviewer, decide):
    customer = CustomerFactory()
    decide(submit(customer, photos=photo_set), reviewer, "reject", ["IMG_DARK"])
    assert submit(customer, photos=photo_set).flags == {}


# Claiming ----------------------------------------------------------------------------------------


def set_due(submission, days_from_now: float):
    due = timezone.now() + timedelta(days=days_from_now)
    Submission.objects.filter(pk=submission.pk).update(due_at=due)
    return due


def test_claim_next_gives_the_oldest_due_first_for_a_lease(submit, reviewer, other_reviewer, settings):
    later, oldest, middle = submit(photos=None), submit(photos=None), submit(photos=None)
    set_due(later, 3)
    set_due(oldest, -1)
    set_due(middle, 1)

    claimed = services.submission_claim_next(actor=reviewer)

    assert claimed.pk == oldest.pk
    claimed.refresh_from_db()
    assert claimed.status == Submission.Status.IN_REVIEW
    assert claimed.claimed_by == reviewer
    lease = claimed.claim_expires_at - timezone.now()
    assert (
        timedelta(minutes=settings.REVIEW_CLAIM_MINUTES - 1) < lease <= timedelta(minutes=settings.REVIEW_CLAIM_MINUTES)
    )
    assert verbs(claimed) == ["submitted", "claimed"]
    assert services.submission_claim_next(actor=other_reviewer).pk == middle.pk


def test_claim_next_returns_the_claim_the_reviewer_already_holds(submit, reviewer):
    first, _second = submit(photos=None), submit(photos=None)
    held = services.submission_claim_next(actor=reviewer)
    assert held.pk == first.pk
    assert services.submission_claim_next(actor=reviewer).pk == first.pk
    assert verbs(first) == ["submitted", "claimed"]
    assert Submission.objects.filter(status=Submission.Status.IN_REVIEW).count() == 1


def test_claim_next_returns_none_when_nothing_is_left(submit, reviewer, other_reviewer):
    assert services.submission_claim_next(actor=reviewer) is None
    submit(photos=None)
    assert services.submission_claim_next(actor=reviewer) is not None
    assert services.submission_claim_next(actor=other_reviewer) is None


def test_claim_next_respects_the_queue_filters(submit, reviewer, decide, photo_set):
    plain = submit(photos=None)
    set_due(plain, -5)
    returning = CustomerFactory()
    decide(submit(returning, photos=None), reviewer, "reject", ["IMG_BLURRY"])
    resubmission = submit(returning, photos=None)
    offline = submit(photos=None, channel=Submission.Channel.OFFLINE)
    submit(photos=photo_set)
    flagged = submit(photos=photo_set, id_number=resident_id(sequence="456"))
    overdue = submit(photos=None)
    set_due(overdue, -1)
    set_due(plain, 2)

    def next_for(**filters):
        claimed = services.submission_claim_next(actor=reviewer, filters=filters)
        services.submission_release(submission_id=claimed.pk, actor=reviewer)
        return claimed.pk

    assert next_for(resubmission=True) == resubmission.pk
    assert next_for(channel="offline") == offline.pk
    assert next_for(flagged=True) == flagged.pk
    assert next_for(overdue=True) == overdue.pk


def test_claim_of_a_particular_submission(submit, reviewer, other_reviewer, decide):
    submission = submit(photos=None)
    claimed = services.submission_claim(submission_id=submission.pk, actor=reviewer)
    assert (claimed.status, claimed.claimed_by) == (Submission.Status.IN_REVIEW, reviewer)

    with pytest.raises(ReviewError, match=str(reviewer)):
        services.submission_claim(submission_id=submission.pk, actor=other_reviewer)

    Submission.objects.filter(pk=submission.pk).update(claim_expires_at=timezone.now() + timedelta(minutes=1))
    renewed = services.submission_claim(submission_id=submission.pk, actor=reviewer)
    assert renewed.claim_expires_at > timezone.now() + timedelta(minutes=10)

    decide(submission, reviewer, "approve")
    refused(ERR_ALREADY_DECIDED, services.submission_claim, submission_id=submission.pk, actor=other_reviewer)


def test_expired_lease_lets_another_reviewer_claim_and_locks_out_the_first(submit, reviewer, other_reviewer):
    submission = submit(photos=None)
    services.submission_claim_next(actor=reviewer)
    assert services.submission_claim_next(actor=other_reviewer) is None

    expire_claim(submission)

    assert services.submission_claim_next(actor=other_reviewer).pk == submission.pk
    submission.refresh_from_db()
    assert submission.claimed_by == other_reviewer
    refused(
        ERR_CLAIM_TAKEN,
        services.submission_approve,
        submission_id=submission.pk,
        actor=reviewer,
    )


def test_expired_claims_are_released_back_to_pending(submit, reviewer, other_reviewer):
    expired, live = submit(photos=None), submit(photos=None)
    services.submission_claim(submission_id=expired.pk, actor=reviewer)
    services.submission_claim(submission_id=live.pk, actor=other_reviewer)
    expire_claim(expired)

    assert services.submissions_release_expired_claims() == 1

    expired.refresh_from_db()
    live.refresh_from_db()
    assert (expired.status, expired.claimed_by, expired.claim_expires_at) == (Submission.Status.PENDING, None, None)
    assert live.status == Submission.Status.IN_REVIEW
    assert verbs(expired) == ["submitted", "claimed", "lease_expired"]
    assert services.submissions_release_expired_claims() == 0


def test_only_the_claimer_can_release(submit, reviewer, other_reviewer):
    submission = submit(photos=None)
    refused(ERR_NOTHING_TO_RELEASE, services.submission_release, submission_id=submission.pk, actor=reviewer)
    services.submission_claim(submission_id=submission.pk, actor=reviewer)

    refused(ERR_NOTHING_TO_RELEASE, services.submission_release, submission_id=submission.pk, actor=other_reviewer)
    submission.refresh_from_db()
    assert submission.claimed_by == reviewer

    services.submission_release(submission_id=submission.pk, actor=reviewer)
    submission.refresh_from_db()
    assert (submission.status, submission.claimed_by) == (Submission.Status.PENDING, None)
    assert verbs(submission) == ["submitted", "claimed", "released"]
    assert services.submission_claim_next(actor=other_reviewer).pk == submission.pk


# Deciding ------------------------------------------------------------------------------------------


@pytest.fixture
def claimed(submit, reviewer):
    submission = submit()
    services.submission_claim(submission_id=submission.pk, actor=reviewer)
    return submission


def assert_still_in_review(submission):
    submission.refresh_from_db()
    assert submission.status == Submission.Status.IN_REVIEW
    assert submission.decided_by is None
    assert not submission.reasons.exists()
    assert verbs(submission) == ["submitted", "claimed"]


def test_decision_needs_a_claim_by_the_deciding_reviewer(submit, reviewer, other_reviewer, claimed):
    refused(ERR_NOT_CLAIMED_BY_YOU, decide_claimed, claimed, other_reviewer)
    unclaimed = submit(photos=None)
    refused(ERR_NOT_CLAIMED_BY_YOU, decide_claimed, unclaimed, reviewer)
    assert_still_in_review(claimed)


def test_decision_after_the_lease_expired_is_applied_when_nobody_claimed_it_since(reviewer, claimed):
    expire_claim(claimed)
    decide_claimed(claimed, reviewer, "approve")
    claimed.refresh_from_db()
    assert (claimed.status, claimed.decided_by) == (Submission.Status.APPROVED, reviewer)


def test_second_decision_on_same_submission_is_refused_and_applied_once(reviewer, claimed):
    decide_claimed(claimed, reviewer, "approve")
    refused(ERR_ALREADY_DECIDED, decide_claimed, claimed, reviewer, "reject", ["FACE_MISMATCH"])
    refused(ERR_ALREADY_DECIDED, decide_claimed, claimed, reviewer, "approve")

    claimed.refresh_from_db()
    assert claimed.status == Submission.Status.APPROVED
    assert not claimed.reasons.exists()
    assert verbs(claimed) == ["submitted", "claimed", "approved"]


@pytest.mark.parametrize(
    ("decision", "codes", "message"),
    [
        ("reject", [], ERR_REASON_REQUIRED),
        ("reject", ["NOT_A_CODE"], ERR_REASON_UNKNOWN),
        ("reject", ["IMG_BLURRY", "NOT_A_CODE"], ERR_REASON_UNKNOWN),
    ],
    ids=["no-reason", "unknown-reason", "one-unknown-reason"],
)
def test_malformed_decision_is_refused_and_changes_nothing(reviewer, claimed, decision, codes, message):
    refused(message, decide_claimed, claimed, reviewer, decision, codes)
    assert_still_in_review(claimed)


def test_inactive_reason_cannot_be_used(reviewer, claimed):
    ReasonCode.objects.filter(code="DOC_EXPIRED").update(is_active=False)
    refused(ERR_REASON_UNKNOWN, decide_claimed, claimed, reviewer, "reject", ["DOC_EXPIRED"])
    assert_still_in_review(claimed)


def test_approval_verifies_the_customer_activates_waiting_lines_and_notifies_after_commit(
    submit, reviewer, sent, sms_outbox
):
    customer = CustomerFactory()
    waiting = [make_line(owner=customer)[0] for _ in range(2)]
    Notification.objects.filter(user=customer).delete()
    submission = submit(customer)
    services.submission_claim(submission_id=submission.pk, actor=reviewer)

    with sent():
        decide_claimed(submission, reviewer, "approve", note="Looks fine")
        assert sms_outbox == []  # nothing leaves before the transaction commits

    submission.refresh_from_db()
    assert submission.status == Submission.Status.APPROVED
    assert (submission.decided_by, submission.claim_expires_at) == (reviewer, None)
    assert submission.internal_note == "Looks fine"
    customer.refresh_from_db()
    assert customer.is_real_name_verified
    year_from_now = timezone.now() + timedelta(days=365)
    for line in waiting:
        line.refresh_from_db()
        assert line.status == Line.Status.ACTIVE
        assert abs(line.validity_end - year_from_now) < timedelta(minutes=1)
    event = SubmissionEvent.objects.get(submission=submission, verb="approved")
    assert (event.actor, event.from_status, event.to_status) == (reviewer, "in_review", "approved")
    assert event.internal_note == "Looks fine"

    approved = Notification.objects.filter(user=customer, link="/verification/").get()
    texts = [message["text"] for message in sms_outbox if message["to"] == customer.phone.as_e164]
    with translation.override("zh-hans"):  # the customer's language
        assert any(approved.subject in text for text in texts)
    assert len(texts) == 2  # the approval and the "your line is active" message
    assert not OutboundMessage.objects.filter(body__contains="Looks fine").exists()


def test_rejection_notifies_with_the_reasons_in_plain_words_but_not_the_note(submit, reviewer, sent, sms_outbox):
    customer = CustomerFactory()
    submission = submit(customer)
    services.submission_claim(submission_id=submission.pk, actor=reviewer)

    with sent():
        decide_claimed(
            submission,
            reviewer,
            "reject",
            ["IMG_GLARE", "DOC_CROPPED"],
            message="  Please photograph the card on a dark table.  ",
            note="glare over the number",
        )

    submission.refresh_from_db()
    assert submission.status == Submission.Status.REJECTED
    assert sorted(submission.reasons.values_list("code", flat=True)) == ["DOC_CROPPED", "IMG_GLARE"]
    assert submission.customer_message == "Please photograph the card on a dark table."
    event = SubmissionEvent.objects.get(submission=submission, verb="rejected")
    assert sorted(event.reason_codes) == ["DOC_CROPPED", "IMG_GLARE"]
    assert (event.customer_message, event.internal_note) == (
        "Please photograph the card on a dark table.",
        "glare over the number",
    )

    notification = Notification.objects.get(user=customer)
    for code in ("IMG_GLARE", "DOC_CROPPED"):
        assert ReasonCode.objects.get(code=code).customer_text() in notification.body
    assert "Please photograph the card on a dark table." in notification.body
    assert "glare over the number" not in notification.body
    texts = [message["text"] for message in sms_outbox if message["to"] == customer.phone.as_e164]
    assert len(texts) == 1
    assert ReasonCode.objects.get(code="IMG_GLARE").customer_text("zh-hans") in texts[0]  # the customer's language
    assert "glare over the number" not in texts[0]
    customer.refresh_from_db()
    assert not customer.is_real_name_verified


def test_final_rejection_sends_the_customer_to_support_a_retry_asks_for_new_photos(submit, reviewer):
    retry, final = submit(), submit()
    for submission, code in ((retry, "IMG_DARK"), (final, "FACE_MISMATCH")):
        services.submission_claim(submission_id=submission.pk, actor=reviewer)
        decide_claimed(submission, reviewer, "reject", [code])

    retry_body = Notification.objects.get(user=retry.user).body
    final_body = Notification.objects.get(user=final.user).body
    take_new_photos = gettext("Please take new photos and submit again.")
    contact_support = gettext("Please contact customer support or visit a service point with your ID card.")
    assert take_new_photos in retry_body
    assert contact_support not in retry_body
    assert contact_support in final_body
    assert take_new_photos not in final_body


def test_every_transition_is_an_event_with_actor_and_states(submit, reviewer, other_reviewer):
    customer = CustomerFactory()
    submission = submit(customer, photos=None)
    services.submission_claim(submission_id=submission.pk, actor=reviewer)
    services.submission_release(submission_id=submission.pk, actor=reviewer)
    services.submission_claim_next(actor=other_reviewer)
    decide_claimed(submission, other_reviewer, "reject", ["IMG_BLURRY"], note="n")

    events = list(SubmissionEvent.objects.filter(submission=submission).order_by("pk"))
    assert [(e.verb, e.actor, e.from_status, e.to_status) for e in events] == [
        ("submitted", customer, "", "pending"),
        ("claimed", reviewer, "pending", "in_review"),
        ("released", reviewer, "in_review", "pending"),
        ("claimed", other_reviewer, "pending", "in_review"),
        ("rejected", other_reviewer, "in_review", "rejected"),
    ]


def test_every_event_of_a_submission_is_also_in_the_staff_audit_trail(
    submit, reviewer, senior_reviewer, support, decide
):
    customer = CustomerFactory()
    first = submit(customer, photos=None)
    services.submission_claim(submission_id=first.pk, actor=reviewer)
    services.submission_release(submission_id=first.pk, actor=reviewer)
    services.submission_claim_next(actor=reviewer)
    expire_claim(first)
    services.submissions_release_expired_claims()
    services.submission_claim(submission_id=first.pk, actor=reviewer)
    services.submission_escalate(submission_id=first.pk, actor=reviewer, note="look at the face")
    decide(first, senior_reviewer, "reject", ["FACE_MISMATCH"], message="Please visit us.", note="not the same person")
    services.submission_lift_final_block(submission_id=first.pk, actor=support, note="called the customer")
    second = submit(customer, photos=None)
    services.submission_withdraw_open(user=customer, actor=support, note="replaced")
    third = submit(customer, photos=None)
    decide(third, reviewer, "approve")
    services.submission_revoke_approval(
        submission_id=third.pk, actor=senior_reviewer, reason_codes=["DOC_TAMPERED"], note="font differs"
    )

    for submission in (first, second, third):
        history = SubmissionEvent.objects.filter(submission=submission).order_by("pk")
        audited = AuditEvent.objects.filter(target_type="reviews.submission", target_id=str(submission.pk))
        assert [(event.verb, event.actor_id) for event in audited.order_by("pk")] == [
            (f"submission.{event.verb}", event.actor_id) for event in history
        ]
    assert verbs(first) == [
        "submitted",
        "claimed",
        "released",
        "claimed",
        "lease_expired",
        "claimed",
        "escalated",
        "claimed",
        "rejected",
        "final_block_lifted",
    ]
    about = AuditEvent.objects.filter(target_type="reviews.submission")
    assert set(about.values_list("subject_user_id", flat=True)) == {customer.pk}
    assert about.get(verb="submission.lease_expired").actor is None
    assert about.get(verb="submission.escalated").data == {
        "from": "in_review",
        "to": "pending",
        "note": "look at the face",
    }
    # What the customer was told stays in the submission; the audit trail has the decision and why.
    assert about.get(verb="submission.rejected").data == {
        "from": "in_review",
        "to": "rejected",
        "reason_codes": ["FACE_MISMATCH"],
        "note": "not the same person",
    }
    assert about.get(verb="submission.approved").data == {"from": "in_review", "to": "approved", "channel": "online"}
    assert about.get(verb="submission.revoked").data == {
        "from": "approved",
        "to": "revoked",
        "reason_codes": ["DOC_TAMPERED"],
        "note": "font differs",
    }
    assert about.get(verb="submission.withdrawn").data == {"from": "pending", "to": "withdrawn", "note": "replaced"}


def test_a_refused_change_leaves_neither_history_nor_audit_event(submit, reviewer, other_reviewer):
    submission = submit(photos=None)
    services.submission_claim(submission_id=submission.pk, actor=reviewer)
    before = AuditEvent.objects.count()

    refused(ERR_NOT_CLAIMED_BY_YOU, services.submission_approve, submission_id=submission.pk, actor=other_reviewer)
    refused(ERR_NOTHING_TO_RELEASE, services.submission_release, submission_id=submission.pk, actor=other_reviewer)

    assert verbs(submission) == ["submitted", "claimed"]
    assert AuditEvent.objects.count() == before
