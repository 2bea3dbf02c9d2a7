from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Line
from heyon_site.bulk import bulk_update_rows
from tests.factories import CustomerFactory, make_line

pytestmark = pytest.mark.django_db


def test_bulk_update_rows_writes_each_rows_own_values_and_nothing_else():
    owner = CustomerFactory()
    (first, _code), (second, _code), (untouched, _code) = make_line(owner), make_line(owner), make_line(owner)
    end = timezone.now() + timedelta(days=30)
    first.validity_end, first.status = end, Line.Status.ACTIVE
    second.validity_end, second.status = None, Line.Status.EXPIRED
    first.iccid = "changed-but-not-listed"

    assert bulk_update_rows([first, second], ["validity_end", "status"]) == 2

    first.refresh_from_db()
    second.refresh_from_db()
    untouched_before = untouched.validity_end, untouched.status
    untouched.refresh_from_db()
    assert (first.validity_end, first.status) == (end, Line.Status.ACTIVE)
    assert first.iccid != "changed-but-not-listed"
    assert (second.validity_end, second.status) == (None, Line.Status.EXPIRED)
    assert (untouched.validity_end, untouched.status) == untouched_before


def test_bulk_update_rows_of_nothing_runs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert bulk_update_rows([], ["status"]) == 0
