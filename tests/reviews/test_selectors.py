"""Reads behind the queue, the review screen and the customer's page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reviews import selectors, services
from reviews.models import ReasonCode, Submission
from tests.factories import CustomerFactory
from tests.reviews.conftest import resident_id

pytestmark = pytest.mark.django_db

NO_FILTERS = {"channel": "", "overdue": False, "resubmission": False, "flagged": False}


def walk(filters=None, size=5):
    """Every row of the queue, page after page, following ``next_cursor``; also the page count."""
    seen, cursor, pages = [], None, 0
    while True:
        page = selectors.queue_page(filters=filters or NO_FILTERS, cursor=cursor, size=size)
        pages += 1
        assert len(page.rows) <= size
        seen.extend(page.rows)
        if page.next_cursor is None:
            return seen, pages
        assert len(page.rows) == size
        cursor = page.next_cursor


def make_queue(submit, reviewer, decide, *, microsecond=123456):
    """23 open submissions with due dates that tie in groups, and 2 decided ones."""
    base = timezone.now().replace(microsecond=microsecond)
    open_ones = []
    for index in range(23):
        submission = submit(photos=None)
        # Groups of 4 share the same due moment: the id must break the tie.
        Submission.objects.filter(pk=submission.pk).update(due_at=base + timedelta(hours=(index * 7 % 23) // 4))
        open_ones.append(submission.pk)
    services.submission_claim(submission_id=open_ones[3], actor=reviewer)  # in review is still in the queue
    decide(submit(photos=None), reviewer, "approve")
    decide(submit(photos=None), reviewer, "reject", ["IMG_BLURRY"])
    return open_ones


@pytest.fixture
def queue(submit, reviewer, decide):
    return make_queue(submit, reviewer, decide)


@pytest.mark.parametrize("microsecond", [123456, 0], ids=["due-with-microseconds", "due-on-the-second"])
def test_walking_the_pages_visits_every_open_submission_once_in_due_order(submit, reviewer, decide, microsecond):
    queue = make_queue(submit, reviewer, decide, microsecond=microsecond)

    rows, pages = walk(size=5)

    ids = [row.pk for row in rows]
    assert len(ids) == len(set(ids)) == 23
    assert set(ids) == set(queue)
    expected = list(Submission.objects.filter(pk__in=queue).order_by("due_at", "pk").values_list("pk", flat=True))
    assert ids == expected
    assert pages == 5
    assert len({row.due_at for row in rows}) < 23  # the fixture does have ties


@pytest.mark.parametrize("size", [1, 4, 22, 23, 50])
def test_page_size_edges(queue, size):
    rows, pages = walk(size=size)
    assert sorted(row.pk for row in rows) == sorted(queue)
    assert pages == -(-23 // size)


def test_cursor_round_trip_and_malformed_cursor_starts_at_the_first_page(submit):
    submission = submit(photos=None)
    submission.refresh_from_db()
    assert selectors.decode_cursor(selectors.encode_cursor(submission)) == (submission.due_at, submission.pk)
    for bad in (None, "", "nonsense", "2026-13-45|7", "2026-11-21T10:00:00+00:00|x", "|"):
        assert selectors.decode_cursor(bad) is None
        assert [row.pk for row in selectors.queue_page(filters=NO_FILTERS, cursor=bad).rows] == [submission.pk]


def test_queue_page_is_two_queries_with_what_the_table_shows(queue, django_assert_num_queries):
    with django_assert_num_queries(2):  # the rows, and their photos' pre-check hints
        page = selectors.queue_page(filters=NO_FILTERS)
        for row in page.rows:
            shown = (str(row.user.phone), getattr(row.claimed_by, "username", None), row.flags, row.id_number_masked)
            assert shown and (row.full_name, row.hint_codes, row.urgency)


@pytest.fixture
def varied(submit, reviewer, decide, photo_set):
    """One submission per filter, plus a plain one."""
    plain = submit(photos=None)
    returning = CustomerFactory()
    decide(submit(returning, photos=None), reviewer, "reject", ["IMG_BLURRY"])
    resubmission = submit(returning, photos=None)
    offline = submit(photos=None, channel=Submission.Channel.OFFLINE)
    original = submit(photos=photo_set)
    flagged = submit(photos=photo_set, id_number=resident_id(sequence="777"))  # same photos, another account
    overdue = submit(photos=None)
    Submission.objects.filter(pk=overdue.pk).update(due_at=timezone.now() - timedelta(hours=1))
    return {
        "plain": plain.pk,
        "resubmission": resubmission.pk,
        "offline": offline.pk,
        "original": original.pk,
        "flagged": flagged.pk,
        "overdue": overdue.pk,
    }


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, {"plain", "resubmission", "offline", "original", "flagged", "overdue"}),
        ({"channel": "offline"}, {"offline"}),
        ({"channel": "online"}, {"plain", "resubmission", "original", "flagged", "overdue"}),
        ({"channel": "carrier-pigeon"}, {"plain", "resubmission", "offline", "original", "flagged", "overdue"}),
        ({"overdue": True}, {"overdue"}),
        ({"resubmission": True}, {"resubmission"}),
        ({"flagged": True}, {"flagged"}),
        ({"flagged": True, "channel": "offline"}, set()),
    ],
    ids=["none", "offline", "online", "unknown-channel", "overdue", "resubmission", "flagged", "flagged-offline"],
)
def test_queue_filters(varied, filters, expected):
    rows, _pages = walk({**NO_FILTERS, **filters}, size=2)
    assert {row.pk for row in rows} == {varied[name] for name in expected}


def test_filters_from_query_parameters_accept_only_known_values():
    assert selectors.queue_filters_from({"channel": "offline", "overdue": "1", "flagged": "yes", "escalated": "1"}) == {
        "channel": "offline",
        "overdue": True,
        "resubmission": False,
        "flagged": False,
        "hinted": False,
        "check_problem": False,
        "escalated": True,
        "q": "",
        "sort": "",
    }
    assert selectors.queue_filters_from({"channel": "<script>"})["channel"] == ""


def test_customer_history_is_newest_first_with_reasons(submit, reviewer, decide, django_assert_num_queries):
    customer = CustomerFactory()
    first = submit(customer)
    decide(first, reviewer, "reject", ["IMG_DARK"])
    second = submit(customer)

    with django_assert_num_queries(3):  # submissions, reasons, photos
        history = list(selectors.customer_history(user=customer))
        reasons = [[r.code for r in s.reasons.all()] for s in history]
        kinds = [sorted(p.kind for p in s.photos.all()) for s in history]

    assert [s.pk for s in history] == [second.pk, first.pk]
    assert reasons == [[], ["IMG_DARK"]]
    assert kinds[0] == ["id_back", "id_front", "id_handheld"]
    assert selectors.latest_submission(user=customer).pk == second.pk
    assert [s.pk for s in selectors.earlier_submissions(submission=second, viewer=reviewer)] == [first.pk]
    assert list(selectors.earlier_submissions(submission=first, viewer=reviewer)) == []


def test_photo_is_visible_to_its_owner_and_to_photo_reviewers_only(submit, reviewer, support, clerk):
    submission = submit()
    photo = submission.photos.first()

    assert selectors.photo_for_viewer(photo_id=photo.pk, actor=submission.user) == (photo, False)
    assert selectors.photo_for_viewer(photo_id=photo.pk, actor=reviewer) == (photo, True)
    for outsider in (CustomerFactory(), support, clerk):
        assert selectors.photo_for_viewer(photo_id=photo.pk, actor=outsider) == (None, False)
    assert selectors.photo_for_viewer(photo_id=photo.pk + 10_000, actor=reviewer) == (None, False)


def test_active_reason_codes_leave_out_retired_ones():
    ReasonCode.objects.filter(code="WRONG_DOC").update(is_active=False)
    codes = list(selectors.active_reason_codes().values_list("code", flat=True))
    assert "WRONG_DOC" not in codes
    assert {"IMG_BLURRY", "FACE_MISMATCH", "LINE_LIMIT", "RETRY_LIMIT"} <= set(codes)
    assert codes[0] == "IMG_BLURRY"  # in the order reviewers know


def test_seeded_reason_codes_have_the_specified_kinds():
    final = set(ReasonCode.objects.filter(kind=ReasonCode.Kind.FINAL).values_list("code", flat=True))
    assert final == {"UNDERAGE", "FACE_MISMATCH", "DOC_TAMPERED", "DUPLICATE_IDENTITY", "LINE_LIMIT", "RETRY_LIMIT"}
    assert ReasonCode.objects.filter(kind=ReasonCode.Kind.RETRY).count() == 12
    assert all(r.customer_text_zh and r.customer_text_en for r in ReasonCode.objects.all())


def test_queue_depth_counts_open_submissions(submit, reviewer, decide):
    submit(photos=None)
    services.submission_claim_next(actor=reviewer)
    submit(photos=None)
    decide(submit(photos=None), reviewer, "reject", ["IMG_DARK"])
    assert selectors.queue_depth() == 2
