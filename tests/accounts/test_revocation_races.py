"""A revocation at the moment a line becomes active, with real threads on PostgreSQL.

"A line is active only while its owner is verified" must hold when a senior reviewer
revokes the verification while the customer adds a line or pays for an expired one: the
activation reads the owner's verified status under a lock that the revocation takes too.
Run with ``DATABASE_URL=postgres://… pytest -m postgres``; on SQLite these are skipped.
"""

import time
from datetime import timedelta

from django.utils import timezone

from accounts import services
from accounts.models import Line, User
from accounts.services import lines as line_services
from reviews import services as review_services
from tests.factories import CustomerFactory, make_line, make_staff
from tests.images import resident_id
from tests.races import RACE_MARKS, run_together

pytestmark = RACE_MARKS


def verified_customer():
    """A customer verified online, with one active line; returns (customer, approved submission)."""
    user = CustomerFactory()
    make_line(owner=user)
    submission = review_services.submission_create(
        user=user,
        full_name="李晓华",
        id_number=resident_id(birth="19850214", sequence="357"),
        contact_phone=user.phone.as_e164,
        photos=None,
        actor=user,
    )
    reviewer = make_staff("reviewer")
    review_services.submission_claim(submission_id=submission.pk, actor=reviewer)
    return user, review_services.submission_approve(submission_id=submission.pk, actor=reviewer)


def revoke_a_moment_later(submission):
    senior = make_staff("senior_reviewer")

    def revoke():
        time.sleep(0.3)  # the activation has read its owner by now
        return review_services.submission_revoke_approval(
            submission_id=submission.pk, actor=senior, reason_codes=["DOC_TAMPERED"]
        )

    return revoke


def slow(monkeypatch, name):
    """Hold the activation ``name`` of accounts' line services for a second before it runs."""
    original = getattr(line_services, name)

    def slowly(*args, **kwargs):
        time.sleep(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(line_services, name, slowly)


def assert_no_active_line_of_an_unverified_owner(user):
    user = User.objects.get(pk=user.pk)
    assert not user.is_real_name_verified
    assert not Line.objects.filter(owner=user, status=Line.Status.ACTIVE).exists()


def test_a_line_added_while_the_verification_is_revoked_is_not_left_active(monkeypatch):
    user, approved = verified_customer()
    _line, code = make_line()
    slow(monkeypatch, "_activate_waiting")

    results = run_together(
        lambda: services.line_attach(actor=user, activation_code=code), revoke_a_moment_later(approved)
    )

    assert [outcome for outcome, _value in results] == ["ok", "ok"]
    assert_no_active_line_of_an_unverified_owner(user)
    assert Line.objects.get(owner=user, pk=_line.pk).status == Line.Status.SUSPENDED


def test_an_expired_line_renewed_while_the_verification_is_revoked_is_not_brought_back(monkeypatch):
    user, approved = verified_customer()
    expired, _code = make_line()
    Line.objects.filter(pk=expired.pk).update(
        owner=user,
        status=Line.Status.EXPIRED,
        activation_code_used_at=timezone.now(),
        attached_at=timezone.now(),
        activated_at=timezone.now() - timedelta(days=400),
        validity_end=timezone.now() - timedelta(days=3),
    )
    slow(monkeypatch, "lines_activation_allow")

    results = run_together(
        lambda: services.lines_extend(extensions={expired.pk: 1}, actor=user), revoke_a_moment_later(approved)
    )

    assert results[1][0] == "ok", repr(results[1][1])
    assert_no_active_line_of_an_unverified_owner(user)


def test_a_line_in_service_renewed_while_the_verification_is_revoked_is_renewed_and_suspended(monkeypatch):
    user, approved = verified_customer()
    line = Line.objects.get(owner=user)
    slow(monkeypatch, "lines_activation_allow")

    results = run_together(
        lambda: services.lines_extend(extensions={line.pk: 1}, actor=user), revoke_a_moment_later(approved)
    )

    # Neither waits for the other in a circle (the renewal's audit row and the revocation's lock).
    assert [outcome for outcome, _value in results] == ["ok", "ok"], results
    line.refresh_from_db()
    assert (line.status, line.validity_end) == (Line.Status.SUSPENDED, results[0][1][line.pk])
    assert_no_active_line_of_an_unverified_owner(user)


def test_a_suspended_line_renewed_while_the_customer_is_verified_again_is_renewed_and_back_in_service(monkeypatch):
    user, approved = verified_customer()
    line = Line.objects.get(owner=user)
    senior = make_staff("senior_reviewer")
    review_services.submission_revoke_approval(submission_id=approved.pk, actor=senior, reason_codes=["IMG_BLURRY"])
    resubmitted = review_services.submission_create(
        user=user,
        full_name="李晓华",
        id_number=resident_id(birth="19850214", sequence="357"),
        contact_phone=user.phone.as_e164,
        photos=None,
        actor=user,
    )
    review_services.submission_claim(submission_id=resubmitted.pk, actor=senior)
    slow(monkeypatch, "lines_activation_allow")

    def approve_a_moment_later():
        time.sleep(0.3)  # the renewal holds the suspended line by now
        return review_services.submission_approve(submission_id=resubmitted.pk, actor=senior)

    results = run_together(lambda: services.lines_extend(extensions={line.pk: 1}, actor=user), approve_a_moment_later)

    # Neither waits for the other in a circle (the renewal's audit row and the approval's lock on the customer).
    assert [outcome for outcome, _value in results] == ["ok", "ok"], results
    line.refresh_from_db()
    assert (line.status, line.validity_end) == (Line.Status.ACTIVE, results[0][1][line.pk])
