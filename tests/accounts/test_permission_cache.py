"""Staff permission sets and reason codes are kept in the cache: a change in the admin takes effect at once."""

from unittest import mock

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from reviews import selectors
from reviews.models import ReasonCode
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

QUEUE = "/staff/reviews/"


def queue_status(client) -> int:
    return client.get(QUEUE).status_code


def permission_queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(QUEUE).status_code == 200
    return sum("auth_permission" in query["sql"] for query in captured.captured_queries)


def test_permissions_are_read_once_then_kept(client):
    client.force_login(make_staff("reviewer"))
    assert permission_queries(client) == 2  # their own, their groups'
    assert permission_queries(client) == 0


def test_removing_the_group_refuses_the_next_request(client, django_capture_on_commit_callbacks):
    reviewer = make_staff("reviewer")
    client.force_login(reviewer)
    assert queue_status(client) == 200

    with django_capture_on_commit_callbacks(execute=True):
        reviewer.groups.clear()

    assert queue_status(client) == 403


def test_a_permission_taken_from_the_group_is_refused_at_once(client):
    reviewer = make_staff("reviewer")
    client.force_login(reviewer)
    assert queue_status(client) == 200

    Group.objects.get(name="reviewer").permissions.remove(Permission.objects.get(codename="review_submission"))

    assert queue_status(client) == 403


def test_deleting_the_group_refuses_the_next_request(client):
    reviewer = make_staff("reviewer")
    client.force_login(reviewer)
    assert queue_status(client) == 200

    Group.objects.get(name="reviewer").delete()

    assert queue_status(client) == 403


def test_a_permission_given_directly_works_on_the_next_request(client):
    clerk = make_staff("support")
    client.force_login(clerk)
    assert queue_status(client) == 403

    User.objects.get(pk=clerk.pk).user_permissions.add(Permission.objects.get(codename="review_submission"))

    assert queue_status(client) == 200


def test_a_cache_outage_reads_the_database(client):
    client.force_login(make_staff("reviewer"))
    with mock.patch("accounts.backends.cache.get_many", side_effect=ConnectionError("cache down")):
        assert queue_status(client) == 200


def test_reason_codes_are_kept_until_one_is_changed(django_assert_num_queries):
    selectors.all_reason_codes()
    with django_assert_num_queries(0):
        assert selectors.all_reason_codes()["IMG_BLURRY"].is_active

    reason = ReasonCode.objects.get(code="IMG_BLURRY")
    reason.is_active = False
    reason.save()

    assert not selectors.all_reason_codes()["IMG_BLURRY"].is_active
    ReasonCode.objects.create(
        code="NEW_REASON", label_zh="新", customer_text_zh="新", customer_text_en="New", kind="retry"
    )
    assert "NEW_REASON" in selectors.all_reason_codes()
