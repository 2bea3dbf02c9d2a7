"""Two reviewers and one claim that ran out, at once, with real threads on PostgreSQL.

The first reviewer's decision (typed while the claim ran out) and the second reviewer's
claim race for the same row lock: exactly one of them wins, whichever order the database
gives them, and the history says so. On SQLite these are skipped.
"""

import pytest

from reviews import services
from reviews.models import Submission, SubmissionEvent
from reviews.services import ERR_ALREADY_DECIDED, ERR_CLAIM_TAKEN
from tests.factories import make_staff
from tests.races import RACE_MARKS, errors, run_together
from tests.reviews.conftest import expire_claim

pytestmark = RACE_MARKS

ROUNDS = 4


def outcome(submission):
    row = Submission.objects.values("status", "claimed_by", "decided_by").get(pk=submission.pk)
    return row["status"], row["claimed_by"], row["decided_by"]


@pytest.mark.parametrize("lease_job_ran", [False, True], ids=["still-claimed", "back-in-queue"])
def test_a_late_decision_and_another_reviewers_claim_never_both_pass(submit, lease_job_ran):
    first, second = make_staff("reviewer"), make_staff("reviewer")
    winners = set()
    for _ in range(ROUNDS):
        submission = submit(photos=None)
        services.submission_claim(submission_id=submission.pk, actor=first)
        expire_claim(submission)
        if lease_job_ran:
            services.submissions_release_expired_claims()

        results = run_together(
            lambda s=submission: services.submission_reject(
                submission_id=s.pk, actor=first, reason_codes=["IMG_DARK"], message="请重拍"
            ),
            lambda s=submission: services.submission_claim(submission_id=s.pk, actor=second),
        )

        refused = errors(results)
        assert len(refused) == 1, results  # exactly one of the two passed
        status, claimed_by, decided_by = outcome(submission)
        if results[0][0] == "ok":
            winners.add("decision")
            assert str(refused[0]) == str(ERR_ALREADY_DECIDED)
            assert (status, decided_by) == (Submission.Status.REJECTED, first.pk)
        else:
            winners.add("claim")
            assert str(refused[0]) == str(ERR_CLAIM_TAKEN)
            assert (status, claimed_by, decided_by) == (Submission.Status.IN_REVIEW, second.pk, None)
            assert not SubmissionEvent.objects.filter(submission=submission, verb="rejected").exists()
    assert winners  # at least one order was seen; each round asserted its own outcome


def test_two_renewals_and_a_decision_at_once_leave_one_decision(submit):
    reviewer = make_staff("reviewer")
    submission = submit(photos=None)
    services.submission_claim(submission_id=submission.pk, actor=reviewer)
    expire_claim(submission)

    results = run_together(
        lambda: services.submission_claim_renew(submission_id=submission.pk, actor=reviewer),
        lambda: services.submission_approve(submission_id=submission.pk, actor=reviewer),
        lambda: services.submission_claim_renew(submission_id=submission.pk, actor=reviewer),
    )

    assert results[1][0] == "ok", results
    assert all(str(error) == str(ERR_ALREADY_DECIDED) for error in errors(results))
    assert outcome(submission)[0] == Submission.Status.APPROVED
    assert SubmissionEvent.objects.filter(submission=submission, verb="approved").count() == 1
