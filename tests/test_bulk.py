"""heyon_site.bulk.insert_columns writes what the ORM would write, one row per index of its columns."""

from datetime import timedelta

import pytest
from django.db import DataError, connection, transaction
from django.utils import timezone

from accounts.models import AuditEvent, Notification
from heyon_site.bulk import insert_columns
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_insert_columns_writes_each_rows_values_constants_and_field_defaults():
    owner = CustomerFactory()
    other = CustomerFactory()

    returned = insert_columns(
        Notification,
        {"user_id": [owner.pk, other.pk], "body": ['第一条, with "quotes" and \\ backslash', "second"]},
        constants={"subject": "Renewal paid"},
        returning=["body", "id"],
    )

    rows = list(Notification.objects.order_by("pk").values_list("id", "user_id", "subject", "body", "link", "read_at"))
    assert [(body, pk) for pk, _user, _subject, body, _link, _read in rows] == returned
    assert [row[1:] for row in rows] == [
        (owner.pk, "Renewal paid", '第一条, with "quotes" and \\ backslash', "", None),
        (other.pk, "Renewal paid", "second", "", None),
    ]
    assert Notification.objects.filter(created_at__isnull=True).count() == 0  # its default, now


def test_insert_columns_stores_decimals_datetimes_nulls_and_json_exactly():
    owner = CustomerFactory()
    moment = timezone.now() - timedelta(days=3, microseconds=17)

    insert_columns(
        AuditEvent,
        {
            "verb": ["a", "b"],
            "target_type": ["billing.order", "billing.order"],
            "target_id": ["1", "2"],
            "subject_user_id": [owner.pk, None],
            "data": [{"amount": "30.00", "auto": True, "中文": [1, None]}, {}],
            "created_at": [moment, moment],
        },
    )

    events = list(AuditEvent.objects.order_by("pk").values_list("verb", "subject_user_id", "data", "created_at"))
    assert events == [
        ("a", owner.pk, {"amount": "30.00", "auto": True, "中文": [1, None]}, moment),
        ("b", None, {}, moment),
    ]


def test_insert_columns_of_no_rows_runs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert insert_columns(Notification, {"user_id": [], "body": []}) == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite does not enforce a text's length")
def test_insert_columns_refuses_a_text_too_long_for_its_column_instead_of_cutting_it():
    owner = CustomerFactory()

    with pytest.raises(DataError), transaction.atomic():
        insert_columns(Notification, {"user_id": [owner.pk], "body": ["b"], "subject": ["x" * 201]})

    assert not Notification.objects.exists()
