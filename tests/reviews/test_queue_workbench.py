"""The queue a team can run: search, sort, counts, columns, overdue by degree, filters through decide-and-next."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviews import pii, selectors, services
from reviews.models import Submission, SubmissionPhoto
from tests.factories import CustomerFactory
from tests.reviews.conftest import resident_id

pytestmark = pytest.mark.django_db

QUEUE_URL = "/staff/reviews/"
NEXT_URL = "/staff/reviews/next/"
FILTERS = selectors.queue_filters_from({})


def signed_in(client, user):
    client.force_login(user)
    return client


def rows_of(filters) -> list[int]:
    """Every row the queue shows for ``filters``, walking the pages three rows at a time."""
    seen, cursor = [], None
    while True:
        page = selectors.queue_page(filters={**FILTERS, **filters}, cursor=cursor, size=3)
        seen.extend(row.pk for row in page.rows)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


@pytest.fixture
def people(submit):
    """Three customers with names, phones and ID numbers to search for."""
    wang = submit(CustomerFactory(phone="+8613911112222"), full_name="王小明", photos=None)
    li = submit(full_name="李 娜", id_number=resident_id(birth="19920202", sequence="321"), photos=None)
    ali = submit(full_name="艾力·买买提", photos=None)
    Submission.objects.filter(pk=li.pk).update(contact_phone="+8613788889999")
    return {"wang": wang, "li": li, "ali": ali}


@pytest.mark.parametrize(
    ("term", "who", "kind"),
    [
        ("王小明", "wang", "name"),
        (" 王 小明 ", "wang", "name"),
        ("李娜", "li", "name"),
        ("艾力买买提", "ali", "name"),
        ("艾力・买买提", "ali", "name"),
        ("139 1111 2222", "wang", "phone"),
        ("+8613788889999", "li", "phone"),
        (resident_id(birth="19920202", sequence="321").lower(), "li", "id_number"),
    ],
)
def test_search_finds_a_whole_name_phone_or_id_number(people, term, who, kind):
    assert selectors.queue_search(term).kind == kind
    assert rows_of({"q": term}) == [people[who].pk]


def test_search_by_submission_number_and_what_finds_nothing(people):
    assert rows_of({"q": f"#{people['ali'].pk}"}) == [people["ali"].pk]
    assert rows_of({"q": str(people["li"].pk)}) == [people["li"].pk]
    # A part of a name or of an ID number is no match: the indexes are of whole values.
    for term in ("王", "小明", resident_id(birth="19920202", sequence="321")[:10], "#99999999999999999999999"):
        assert rows_of({"q": term}) == []


def test_the_name_index_is_written_on_submission_and_erased_with_the_name(people):
    wang = Submission.objects.get(pk=people["wang"].pk)
    assert wang.full_name_index == pii.name_blind_index("王小明") != ""
    assert "王小明" not in wang.full_name_index
    services.submissions_erase_personal_data(user_id=wang.user_id)
    wang.refresh_from_db()
    assert (wang.full_name, wang.full_name_index) == ("", "")


@pytest.fixture
def sortable(submit, reviewer, decide):
    """Five open submissions: submitted, due and attempt all in different orders."""
    now = timezone.now()
    made = []
    for hours_ago, due_in, attempts in [(5, 30, 1), (50, 10, 1), (20, -3, 2), (1, 40, 3), (9, 10, 1)]:
        customer = CustomerFactory()
        for _ in range(attempts - 1):
            decide(submit(customer, photos=None), reviewer, "reject", ["IMG_BLURRY"])
        submission = submit(customer, photos=None)
        Submission.objects.filter(pk=submission.pk).update(
            submitted_at=now - timedelta(hours=hours_ago), due_at=now + timedelta(hours=due_in)
        )
        made.append(submission.pk)
    return made


@pytest.mark.parametrize("sort", ["", "due", "waiting", "attempt"])
def test_each_sort_walks_every_open_submission_once_in_its_order(sortable, sort):
    order = {"": ["due_at"], "due": ["due_at"], "waiting": ["submitted_at"], "attempt": ["-attempt_number", "due_at"]}
    expected = list(
        Submission.objects.filter(pk__in=sortable).order_by(*order[sort], "pk").values_list("pk", flat=True)
    )
    assert rows_of({"sort": selectors.queue_filters_from({"sort": sort})["sort"]}) == expected


def test_a_cursor_of_another_sort_or_malformed_starts_at_the_first_page(sortable):
    first = rows_of({"sort": "waiting"})[0]
    for bad in ("2026-01-01T00:00:00+00:00|1", "x|y|z", "3|nonsense|4", "|"):
        page = selectors.queue_page(
            filters={**FILTERS, "sort": "attempt" if bad.count("|") != 2 else "waiting"}, cursor=bad
        )
        assert page.rows  # never an error page
    assert selectors.queue_page(filters={**FILTERS, "sort": "waiting"}, cursor="junk").rows[0].pk == first


def test_counts_per_filter_and_matching(submit, photo_set, senior_reviewer):
    plain = submit(photos=None)
    submit(photos=photo_set)
    flagged = submit(photos=photo_set, id_number=resident_id(sequence="778"))
    Submission.objects.filter(pk=plain.pk).update(due_at=timezone.now() - timedelta(hours=2))
    Submission.objects.update(has_photo_hints=False)
    Submission.objects.filter(pk=flagged.pk).update(has_photo_hints=True)
    counts = selectors.queue_counts(filters={**FILTERS, "flagged": True}, now=timezone.now())
    assert counts == {
        "total": 3,
        "matching": 1,
        "overdue": 1,
        "resubmission": 0,
        "flagged": 1,
        "hinted": 1,
        "check_problem": 0,  # the checks are still running
        "escalated": 0,
        "online": 3,
        "offline": 0,
        "capped": False,
    }
    assert rows_of({"hinted": True}) == [flagged.pk]


def test_a_submission_knows_whether_its_photos_left_a_warning(submit, photo_set):
    with_photos = submit(photos=photo_set)
    warned = any(photo.hints.get("warnings") for photo in SubmissionPhoto.objects.filter(submission=with_photos))
    assert with_photos.has_photo_hints == warned
    assert submit(photos=None).has_photo_hints is False


def test_counts_stop_at_the_cap(submit, monkeypatch):
    for _ in range(4):
        submit(photos=None)
    monkeypatch.setattr(selectors, "QUEUE_COUNT_CAP", 3)
    counts = selectors.queue_counts(filters=FILTERS, now=timezone.now())
    assert counts["total"] == 3 and counts["capped"]


def test_overdue_is_marked_by_degree():
    now = timezone.now()

    def urgency(hours):
        return selectors.queue_urgency(Submission(due_at=now + timedelta(hours=hours)), now)

    assert [urgency(h) for h in (30, 3, -2, -30, -100)] == ["", "due_soon", "late", "later", "critical"]


def test_queue_page_shows_counts_name_waiting_attempt_and_degrees(client, submit, reviewer, english):
    late = submit(full_name="赵钱孙", photos=None)
    very_late = submit(photos=None)
    Submission.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=2))
    Submission.objects.filter(pk=very_late.pk).update(due_at=timezone.now() - timedelta(days=5))
    page = signed_in(client, reviewer).get(QUEUE_URL).content.decode()
    assert 'data-testid="queue-total"' in page and ">2<" in page.split('data-testid="queue-total"')[1][:120]
    assert "赵钱孙" in page
    assert page.count('class="table-danger"') == 1  # only the submission days late is red
    assert 'data-urgency="late"' in page and 'data-urgency="critical"' in page
    searched = client.get(QUEUE_URL, {"q": "赵钱孙"}).content.decode()
    assert "Searched by full name (whole, exactly)." in searched
    assert "1 submission matches." in searched


def test_queue_query_count_is_the_same_for_every_search_and_sort(client, submit, reviewer):
    for _ in range(12):
        submit(full_name="王小明", photos=None)
    signed_in(client, reviewer)
    counts = set()
    for params in ({}, {"q": "王小明"}, {"q": "13911112222"}, {"sort": "waiting"}, {"sort": "attempt", "hinted": "1"}):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(QUEUE_URL, params).status_code == 200
        counts.add(len(captured.captured_queries))
    assert max(counts) <= 8


def test_next_takes_the_first_row_of_the_searched_and_sorted_queue(client, submit, reviewer, sortable):
    qian = submit(full_name="钱多多", photos=None)
    response = signed_in(client, reviewer).post(NEXT_URL, {"q": "钱多多"})
    assert response["Location"] == f"/staff/reviews/{qian.pk}/?{urlencode({'q': '钱多多'})}"
    services.submission_release(submission_id=qian.pk, actor=reviewer)
    longest_waiting = rows_of({"sort": "waiting"})[0]
    response = client.post(NEXT_URL, {"sort": "waiting"})
    assert response["Location"] == f"/staff/reviews/{longest_waiting}/?sort=waiting"


def test_open_from_the_queue_carries_the_filters(client, submit, reviewer):
    submission = submit(photos=None)
    response = signed_in(client, reviewer).post(f"/staff/reviews/{submission.pk}/claim/", {"flagged": "1"})
    assert response["Location"] == f"/staff/reviews/{submission.pk}/?flagged=1"
    page = client.get(response["Location"]).content.decode()
    assert f'action="/staff/reviews/{submission.pk}/decide/?flagged=1"' in page


def test_decide_and_next_stays_in_the_filtered_queue(client, submit, reviewer, photo_set):
    first = submit(photos=photo_set)
    submit(photos=None)  # unflagged and due first: a plain "Next" would hand it out
    second = submit(photos=photo_set, id_number=resident_id(sequence="779"))
    third = submit(photos=photo_set, id_number=resident_id(sequence="780"))
    Submission.objects.filter(pk=first.pk).update(is_flagged=True, flags={"duplicate_photo": []})
    Submission.objects.exclude(pk__in=[first.pk, second.pk, third.pk]).update(due_at=timezone.now() - timedelta(days=9))
    signed_in(client, reviewer)
    location = client.post(NEXT_URL, {"flagged": "1"})["Location"]
    opened = []
    for _ in range(3):
        submission_id = int(location.split("/")[3])
        opened.append(submission_id)
        decide = f"/staff/reviews/{submission_id}/decide/?flagged=1"
        location = client.post(decide, {"decision": "reject", "reason_codes": ["IMG_BLURRY"], "take_next": "on"})[
            "Location"
        ]
    assert sorted(opened) == sorted([first.pk, second.pk, third.pk])
    assert location == f"{QUEUE_URL}?flagged=1"  # the flagged queue is empty; the unflagged one waits
    assert Submission.objects.filter(status=Submission.Status.PENDING, is_flagged=False).count() == 1
