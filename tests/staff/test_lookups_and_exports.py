"""Staff lookup and admin search by name, ID number and receipt number; the admin's CSV export."""

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers import selectors
from reviews import services as review_services
from reviews.models import Submission
from tests.factories import CustomerFactory, make_staff
from tests.staff.conftest import NAME, pending_submission

pytestmark = pytest.mark.django_db

LOOKUP_URL = "/staff/customers/"
ADMIN_URL = "/admin/reviews/submission/"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def customer_with(name: str, id_number: str | None = None):
    customer = CustomerFactory()
    submission = review_services.submission_create(
        user=customer,
        full_name=name,
        id_number=id_number or "11010519900101" + "1232",
        contact_phone=customer.phone.as_e164,
        photos=None,
        actor=customer,
    )
    return customer, submission


def test_lookup_by_receipt_id_number_and_name(client, world, english):
    client.force_login(world.staff["support"])
    walk_in = world.receipt.user
    for query in (world.receipt.number, world.receipt.number.lower(), world.walk_in_id_number):
        response = client.get(LOOKUP_URL, {"q": query})
        assert response.status_code == 302 and response["Location"] == f"/staff/customers/{walk_in.pk}/", query

    other, _submission = customer_with("赵 子龙")
    response = client.get(LOOKUP_URL, {"q": "赵子龙"})
    assert response["Location"] == f"/staff/customers/{other.pk}/"


def test_a_name_held_by_several_customers_lists_them(client, world, english):
    client.force_login(world.staff["senior_reviewer"])
    # world.customer and the walk-in both carry NAME; one more makes three.
    third, _submission = customer_with(NAME)
    expected = set(Submission.objects.filter(full_name=NAME).values_list("user_id", flat=True))
    assert len(expected) == 3 and third.pk in expected
    with CaptureQueriesContext(connection) as captured:
        response = client.get(LOOKUP_URL, {"q": NAME})
    page = response.content.decode()
    assert response.status_code == 200 and "3 customers match" in page
    assert {pk for pk in expected if f'href="/staff/customers/{pk}/"' in page} == expected
    assert len(captured.captured_queries) <= 12


def test_a_part_of_a_name_or_of_an_id_number_finds_nobody(world):
    assert selectors.customers_search(query=NAME[:2]) == []
    assert selectors.customers_search(query=world.walk_in_id_number[:12]) == []
    assert selectors.customers_search(query="   ") == []


def test_admin_search_by_whole_name_and_id_number(client, world):
    client.force_login(make_staff("admin"))
    _other, named = customer_with("欧阳 娜娜", id_number=world.walk_in_id_number)
    page = client.get(ADMIN_URL, {"q": "欧阳娜娜"}).content.decode()
    assert f"/admin/reviews/submission/{named.pk}/change/" in page
    assert f"/admin/reviews/submission/{world.submission.pk}/change/" not in page
    by_id = client.get(ADMIN_URL, {"q": world.walk_in_id_number}).content.decode()
    assert f"/admin/reviews/submission/{named.pk}/change/" in by_id
    assert "/change/" not in client.get(ADMIN_URL, {"q": "欧阳"}).content.decode().split("result_list")[-1]


def exported(response) -> list[list[str]]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    content = b"".join(response.streaming_content)
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_export_link_streams_every_filtered_row_with_decider_reasons_and_local_time(client, world, english):
    admin = make_staff("admin")
    reviewer = world.staff["reviewer"]
    rejected = []
    for _ in range(3):
        submission = pending_submission()
        review_services.submission_claim(submission_id=submission.pk, actor=reviewer)
        review_services.submission_reject(
            submission_id=submission.pk, actor=reviewer, reason_codes=["IMG_BLURRY", "IMG_DARK"]
        )
        rejected.append(submission.pk)
    moment = datetime(2026, 12, 1, 23, 30, 15, 123456, tzinfo=ZoneInfo("UTC"))  # 07:30:15 the next day in Shanghai
    Submission.objects.filter(pk=rejected[0]).update(decided_at=moment)
    english.force_login(admin)
    changelist = english.get(ADMIN_URL, {"status__exact": "rejected"}).content.decode()
    assert 'href="export/?status__exact=rejected"' in changelist

    with CaptureQueriesContext(connection) as captured:
        rows = exported(english.get(f"{ADMIN_URL}export/", {"status__exact": "rejected"}))
    header, body = rows[0], rows[1:]
    assert {int(row[0]) for row in body} == set(rejected)  # every filtered row, no other
    row = next(row for row in body if int(row[0]) == rejected[0])
    cell = dict(zip(header, row, strict=True))
    assert cell["decided at"] == "2026-12-02 07:30:15"
    assert cell["decided by"] == reviewer.username
    assert cell["reasons"] == "IMG_BLURRY IMG_DARK"
    assert cell["full name"] == "王**"
    assert NAME not in "".join(",".join(row) for row in rows)
    assert len(captured.captured_queries) <= 12

    bigger = len(captured.captured_queries)
    for _ in range(3):
        submission = pending_submission()
        review_services.submission_claim(submission_id=submission.pk, actor=reviewer)
        review_services.submission_reject(submission_id=submission.pk, actor=reviewer, reason_codes=["IMG_GLARE"])
    with CaptureQueriesContext(connection) as more:
        assert len(exported(english.get(f"{ADMIN_URL}export/", {"status__exact": "rejected"}))) == 7
    assert len(more.captured_queries) == bigger


def test_the_export_link_is_for_administrators_only(client, world):
    for role in ("senior_reviewer", "support"):
        client.force_login(world.staff[role])
        assert client.get(f"{ADMIN_URL}export/").status_code == 403, role
        assert "csv-export-filtered" not in client.get(ADMIN_URL).content.decode(), role
    client.force_login(make_staff("admin"))
    assert client.get(f"{ADMIN_URL}export/", {"no_such_field": "1"}).status_code == 403


def test_local_time_has_no_microseconds_for_every_time_column(client, world):
    client.force_login(make_staff("admin"))
    rows = exported(client.get(f"{ADMIN_URL}export/"))
    header, body = rows[0], rows[1:]
    time_columns = [index for index, label in enumerate(header) if label.endswith(("at", "due", "于", "时间"))]
    assert time_columns
    for row in body:
        for index in time_columns:
            if row[index]:
                parsed = datetime.strptime(row[index], "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
                assert abs(parsed - timezone.now()) < timedelta(days=400)
