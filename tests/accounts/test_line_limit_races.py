"""一证五号 under concurrency, with real threads on PostgreSQL: the lock on the ID decides.

Run with ``DATABASE_URL=postgres://… pytest -m postgres``; on SQLite these are skipped.
"""

import time

from accounts import services
from accounts.models import Line
from accounts.services import lines as line_services
from reviews import pii
from reviews import services as review_services
from tests.factories import CustomerFactory, make_line, make_staff
from tests.images import resident_id
from tests.races import RACE_MARKS, errors, run_together, values

pytestmark = RACE_MARKS

ID_NUMBER = resident_id(birth="19850214", sequence="357")


def verified(lines: int):
    """A customer verified online with ID_NUMBER, with ``lines`` active lines."""
    user = CustomerFactory()
    for _ in range(lines):
        make_line(owner=user)
    submission = review_services.submission_create(
        user=user, full_name="李晓华", id_number=ID_NUMBER, contact_phone=user.phone.as_e164, photos=None, actor=user
    )
    reviewer = make_staff("reviewer")
    review_services.submission_claim(submission_id=submission.pk, actor=reviewer)
    review_services.submission_approve(submission_id=submission.pk, actor=reviewer)
    return user


def active_on_id() -> int:
    index = pii.id_number_blind_index(ID_NUMBER)
    return Line.objects.filter(status=Line.Status.ACTIVE, owner__identity_index=index).count()


def slow_after_activating(monkeypatch):
    """Hold each transaction open a moment after its lines are activated (at the "line active" message).

    Without a lock on the ID the second attach would count while the first is still
    uncommitted, see 4, and pass too.
    """
    notify = line_services.notify

    def slow_notify(**kwargs):
        time.sleep(0.5)
        return notify(**kwargs)

    monkeypatch.setattr(line_services, "notify", slow_notify)


def test_two_attaches_at_once_at_four_active_lines_let_exactly_one_through(settings, monkeypatch):
    settings.MAX_LINES_PER_ID = 5
    first = verified(3)
    second = verified(1)  # another account, the same ID: 4 active lines in all
    codes = [make_line()[1], make_line()[1]]
    slow_after_activating(monkeypatch)

    results = run_together(
        lambda: services.line_attach(actor=first, activation_code=codes[0]),
        lambda: services.line_attach(actor=second, activation_code=codes[1]),
    )

    assert len(values(results)) == 1
    [refused] = errors(results)
    assert isinstance(refused, services.LineLimitExceeded)
    assert active_on_id() == 5


def test_an_approval_and_an_attach_at_once_cannot_both_pass_the_limit(settings):
    settings.MAX_LINES_PER_ID = 2
    holder = verified(1)
    customer = CustomerFactory()
    make_line(owner=customer)
    submission = review_services.submission_create(
        user=customer, full_name="李晓华", id_number=ID_NUMBER, contact_phone=customer.phone.as_e164, photos=None,
        actor=customer,
    )  # fmt: skip
    reviewer = make_staff("reviewer")
    review_services.submission_claim(submission_id=submission.pk, actor=reviewer)
    _line, code = make_line()

    results = run_together(
        lambda: review_services.submission_approve(submission_id=submission.pk, actor=reviewer),
        lambda: services.line_attach(actor=holder, activation_code=code),
    )

    assert len(values(results)) == 1, results
    assert active_on_id() == 2
