from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import selectors
from accounts.models import Notification, ServicePoint
from tests.factories import CustomerFactory, ServicePointFactory, make_line

pytestmark = pytest.mark.django_db


def test_notifications_page_walks_the_inbox_newest_first_without_gaps_or_repeats():
    customer = CustomerFactory()
    ids = [Notification.objects.create(user=customer, legacy_subject=f"m{n}", legacy_body="b").pk for n in range(7)]
    Notification.objects.create(user=CustomerFactory(), legacy_subject="not mine", legacy_body="b")

    seen, before = [], None
    while True:
        page, before = selectors.notifications_page(user=customer, before_id=before, size=3)
        seen.extend(n.pk for n in page)
        assert len(page) <= 3
        if before is None:
            break

    assert seen == sorted(ids, reverse=True)


def test_notifications_page_has_no_next_key_when_the_page_is_exactly_full():
    customer = CustomerFactory()
    for n in range(3):
        Notification.objects.create(user=customer, legacy_subject=f"m{n}", legacy_body="b")

    page, before = selectors.notifications_page(user=customer, size=3)

    assert len(page) == 3
    assert before is None


def test_unread_notification_count_counts_only_the_users_unread_messages():
    customer = CustomerFactory()
    Notification.objects.create(user=customer, legacy_subject="unread", legacy_body="b")
    Notification.objects.create(user=customer, legacy_subject="read", legacy_body="b", read_at=timezone.now())
    Notification.objects.create(user=CustomerFactory(), legacy_subject="other", legacy_body="b")

    assert selectors.unread_notification_count(user=customer) == 1


def test_recent_notifications_are_the_newest_five():
    customer = CustomerFactory()
    now = timezone.now()
    for n in range(7):
        Notification.objects.create(
            user=customer, legacy_subject=f"m{n}", legacy_body="b", created_at=now - timedelta(hours=n)
        )

    assert [n.subject for n in selectors.recent_notifications(user=customer)] == ["m0", "m1", "m2", "m3", "m4"]


def test_lines_for_account_centre_are_only_the_owners():
    customer = CustomerFactory()
    first, _ = make_line(owner=customer)
    second, _ = make_line(owner=customer)
    make_line(owner=CustomerFactory())
    make_line()

    assert set(selectors.lines_for_account_centre(user=customer)) == {first, second}


def test_service_point_finder_by_kind_includes_points_that_do_both():
    both = ServicePointFactory(kind=ServicePoint.Kind.BOTH, city="北京")
    store = ServicePointFactory(kind=ServicePoint.Kind.STORE, city="北京")
    verification = ServicePointFactory(kind=ServicePoint.Kind.VERIFICATION, city="上海")
    ServicePointFactory(kind=ServicePoint.Kind.STORE, city="上海", is_active=False)

    assert set(selectors.service_points_for_finder(kind="store")) == {both, store}
    assert set(selectors.service_points_for_finder(kind="verification")) == {both, verification}
    assert set(selectors.service_points_for_finder(kind="both")) == {both}
    assert set(selectors.service_points_for_finder(city="上海")) == {verification}
    assert set(selectors.service_points_for_finder()) == {both, store, verification}


def test_service_point_cities_count_only_active_points():
    ServicePointFactory(city="北京")
    ServicePointFactory(city="北京")
    ServicePointFactory(city="上海")
    ServicePointFactory(city="广州", is_active=False)

    rows = selectors.service_point_cities()

    assert {row["city"]: row["n"] for row in rows} == {"北京": 2, "上海": 1}
    assert len(rows) == 2
