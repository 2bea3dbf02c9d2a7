"""Concurrency of the review queue, with real threads on PostgreSQL (row locks, SKIP LOCKED).

Run with ``DATABASE_URL=postgres://… pytest -m postgres``; on SQLite these are skipped.
Each thread has its own database connection, so the data must really be committed:
transactional tests, with serialized_rollback to bring the seeded reason codes and
roles back after the flush.
"""

import threading

import pytest
from django.db import connection, transaction

from accounts.models import AuditEvent
from reviews import services
from reviews.models import Submission, SubmissionEvent
from reviews.services import ERR_ALREADY_DECIDED, ERR_ALREADY_OPEN, ReviewError
from tests.factories import CustomerFactory, make_staff
from tests.races import RACE_MARKS, errors, run_together, values
from tests.reviews.conftest import expire_claim, private_files

pytestmark = RACE_MARKS


def test_eight_reviewers_pressing_next_at_once_get_eight_different_submissions(submit):
    submissions = [submit(photos=None) for _ in range(10)]
    reviewers = [make_staff("reviewer") for _ in range(8)]

    results = run_together(*[lambda r=r: services.submission_claim_next(actor=r) for r in reviewers])

    assert errors(results) == []
    claimed = values(results)
    assert None not in claimed
    assert len({s.pk for s in claimed}) == 8
    rows = Submission.objects.filter(status=Submission.Status.IN_REVIEW)
    assert rows.count() == 8
    assert {s.claimed_by_id for s in rows} == {r.pk for r in reviewers}
    for reviewer, submission in zip(reviewers, claimed, strict=True):
        assert Submission.objects.get(pk=submission.pk).claimed_by_id == reviewer.pk
    assert SubmissionEvent.objects.filter(verb="claimed").count() == 8
    # The oldest-due eight were handed out; the two newest wait.
    assert set(Submission.objects.filter(status="pending").values_list("pk", flat=True)) == {
        submissions[8].pk,
        submissions[9].pk,
    }


def test_more_reviewers_than_submissions_some_get_none_nobody_shares(submit):
    for _ in range(3):
        submit(photos=None)
    reviewers = [make_staff("reviewer") for _ in range(6)]

    results = run_together(*[lambda r=r: services.submission_claim_next(actor=r) for r in reviewers])

    assert errors(results) == []
    claimed = [s for s in values(results) if s is not None]
    assert len(claimed) == 3
    assert len({s.pk for s in claimed}) == 3
    assert Submission.objects.filter(status=Submission.Status.PENDING).count() == 0


def test_same_reviewer_posting_two_decisions_at_once_applies_exactly_one(submit):
    reviewer = make_staff("reviewer")
    submission = submit()
    services.submission_claim(submission_id=submission.pk, actor=reviewer)

    results = run_together(
        lambda: services.submission_approve(submission_id=submission.pk, actor=reviewer),
        lambda: services.submission_reject(submission_id=submission.pk, actor=reviewer, reason_codes=["IMG_BLURRY"]),
    )

    assert len(values(results)) == 1
    (error,) = errors(results)
    assert isinstance(error, ReviewError)
    assert str(error) == str(ERR_ALREADY_DECIDED)
    decided = SubmissionEvent.objects.filter(submission=submission, verb__in=["approved", "rejected"])
    assert decided.count() == 1
    submission.refresh_from_db()
    assert submission.status == decided.get().to_status
    submission.user.refresh_from_db()
    assert submission.user.is_real_name_verified == (submission.status == Submission.Status.APPROVED)


def test_concurrent_submissions_by_one_customer_create_one(submit):
    customer = CustomerFactory()
    before = private_files()

    results = run_together(*[lambda: submit(customer) for _ in range(4)])

    assert len(values(results)) == 1
    assert len(errors(results)) == 3
    for error in errors(results):
        assert isinstance(error, ReviewError)
        assert str(error) == str(ERR_ALREADY_OPEN)
    assert Submission.objects.filter(user=customer).count() == 1
    assert SubmissionEvent.objects.filter(verb="submitted").count() == 1
    assert len(private_files() - before) == 6  # the losers left no files behind


def test_expired_lease_is_claimed_again_by_exactly_one_other_reviewer(submit):
    first, second, third = (make_staff("reviewer") for _ in range(3))
    submission = submit(photos=None)
    assert services.submission_claim_next(actor=first).pk == submission.pk
    assert services.submission_claim_next(actor=second) is None

    expire_claim(submission)
    results = run_together(
        lambda: services.submission_claim_next(actor=second),
        lambda: services.submission_claim_next(actor=third),
    )

    assert errors(results) == []
    winners = [s for s in values(results) if s is not None]
    assert [s.pk for s in winners] == [submission.pk]
    submission.refresh_from_db()
    assert submission.claimed_by_id in (second.pk, third.pk)
    with pytest.raises(ReviewError):
        services.submission_approve(submission_id=submission.pk, actor=first)
    winner = second if submission.claimed_by_id == second.pk else third
    services.submission_approve(submission_id=submission.pk, actor=winner)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.APPROVED


def test_releasing_expired_claims_while_a_reviewer_claims_leaves_a_consistent_row(submit):
    first, second = make_staff("reviewer"), make_staff("reviewer")
    submission = submit(photos=None)
    services.submission_claim_next(actor=first)
    expire_claim(submission)

    results = run_together(
        services.submissions_release_expired_claims,
        lambda: services.submission_claim_next(actor=second),
    )

    assert errors(results) == []
    (released, claimed) = values(results)
    submission.refresh_from_db()
    if claimed is not None:
        # Claimed (before or after the release): the second reviewer holds a live lease.
        assert claimed.pk == submission.pk
        assert submission.status == Submission.Status.IN_REVIEW
        assert submission.claimed_by_id == second.pk
        assert submission.claim_is_live()
    else:
        # The release held the row lock, so SKIP LOCKED passed it by: it is back in the queue, unclaimed.
        assert released == 1
        assert (submission.status, submission.claimed_by_id, submission.claim_expires_at) == ("pending", None, None)
    assert submission.claimed_by_id != first.pk


def test_reviewers_deciding_and_taking_the_next_at_once_never_share_a_submission(submit):
    """Four reviewers each decide their claim and take the next, at the same moment, over HTTP."""
    from django.test import Client

    reviewers = [make_staff("reviewer") for _ in range(4)]
    for _ in range(6):
        submit(photos=None)
    held = [services.submission_claim_next(actor=reviewer) for reviewer in reviewers]
    browsers = []
    for reviewer in reviewers:
        browser = Client()
        browser.force_login(reviewer)
        browsers.append(browser)

    def decide_and_take_next(browser, submission):
        form = {"decision": "approve", "take_next": "on"}
        return browser.post(f"/staff/reviews/{submission.pk}/decide/", form)["Location"]

    results = run_together(*[lambda b=b, s=s: decide_and_take_next(b, s) for b, s in zip(browsers, held, strict=True)])

    assert errors(results) == []
    landed = values(results)
    opened = [url for url in landed if url != "/staff/reviews/"]
    assert len(opened) == 2 and len(set(opened)) == 2  # the two left, one each
    assert landed.count("/staff/reviews/") == 2  # the others were told the queue is empty
    assert Submission.objects.filter(status=Submission.Status.APPROVED).count() == 4
    in_review = Submission.objects.filter(status=Submission.Status.IN_REVIEW)
    assert sorted(f"/staff/reviews/{s.pk}/" for s in in_review) == sorted(opened)
    assert len({s.claimed_by_id for s in in_review}) == 2


def test_a_submission_locked_by_another_transaction_is_passed_over_not_waited_for(submit):
    """While one transaction holds the oldest-due row, claiming next hands out the second at once."""
    oldest, second = submit(photos=None), submit(photos=None)
    reviewer = make_staff("reviewer")
    locked, done = threading.Event(), threading.Event()

    def hold_the_oldest():
        try:
            with transaction.atomic():
                Submission.objects.select_for_update().get(pk=oldest.pk)
                locked.set()
                done.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_oldest)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        [(outcome, claimed)] = run_together(lambda: services.submission_claim_next(actor=reviewer), timeout=10)
    finally:
        done.set()
        holder.join(timeout=30)

    assert outcome == "ok"
    assert claimed.pk == second.pk
    assert Submission.objects.get(pk=oldest.pk).status == Submission.Status.PENDING
    assert Submission.objects.get(pk=second.pk).claimed_by_id == reviewer.pk


def test_every_claim_of_a_race_is_in_the_audit_trail_once(submit):
    for _ in range(5):
        submit(photos=None)
    reviewers = [make_staff("reviewer") for _ in range(5)]

    results = run_together(*[lambda r=r: services.submission_claim_next(actor=r) for r in reviewers])

    assert errors(results) == []
    claims = AuditEvent.objects.filter(verb="submission.claimed")
    assert sorted(claims.values_list("actor_id", flat=True)) == sorted(r.pk for r in reviewers)
    assert len(set(claims.values_list("target_id", flat=True))) == 5
