"""heyon_site.db: reads planned once per connection return what the ORM returns."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from accounts.backends import IdentifierBackend
from accounts.models import User
from heyon_site.db import STAND_IN_ID, compiled_once, instance_by_pk, instances_by_sql, refilled
from tests.factories import CustomerFactory, ServicePointFactory, make_staff
from tests.races import NEEDS_POSTGRESQL, run_together

pytestmark = pytest.mark.django_db


def fields_of(user) -> dict:
    return {field.attname: getattr(user, field.attname) for field in User._meta.concrete_fields}


@pytest.mark.parametrize("kind", ["customer", "clerk"])
def test_a_row_read_by_pk_equals_the_orms_field_by_field_and_type_by_type(kind):
    if kind == "customer":
        user = CustomerFactory(email="wang@example.com")
        User.objects.filter(pk=user.pk).update(real_name_verified_at=user.date_joined)
    else:
        user = make_staff("clerk", service_point=ServicePointFactory())

    ours, orms = instance_by_pk(User, user.pk), User.objects.get(pk=user.pk)

    assert fields_of(ours) == fields_of(orms)
    assert {name: type(value) for name, value in fields_of(ours).items()} == {
        name: type(value) for name, value in fields_of(orms).items()
    }
    assert ours._state.adding is False and ours._state.db == "default"
    assert ours.phone is None or ours.phone.as_e164 == orms.phone.as_e164


def test_a_missing_row_is_none():
    assert instance_by_pk(User, 987654321) is None


def test_the_backend_gives_an_active_user_and_refuses_an_inactive_or_unknown_one():
    backend = IdentifierBackend()
    active, inactive = CustomerFactory(), CustomerFactory(is_active=False)

    assert backend.get_user(str(active.pk)) == active
    assert backend.get_user(str(inactive.pk)) is None
    assert backend.get_user("987654321") is None
    assert backend.get_user("not-a-number") is None


# PostgreSQL prepares a statement once it ran this many times on the connection (settings).
RUNS_TO_PREPARE = (connection.settings_dict["OPTIONS"].get("prepare_threshold") or 0) + 1


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_on_postgresql_the_user_read_is_prepared_once():
    user = CustomerFactory()
    for _run in range(RUNS_TO_PREPARE):
        instance_by_pk(User, user.pk)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ['SELECT "id", "password"%']
        )
        [(prepared,)] = cursor.fetchall()

    assert prepared == 1


def _try_to_lock(user_pk) -> str:
    with transaction.atomic():
        try:
            User.objects.select_for_update(nowait=True).get(pk=user_pk)
        except DatabaseError:
            return "locked"
    return "free"


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason=NEEDS_POSTGRESQL)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_row_read_for_update_stays_locked_until_its_transaction_ends():
    user = CustomerFactory()
    with transaction.atomic():
        assert instance_by_pk(User, user.pk, for_update=True) == user
        [(_outcome, while_held)] = run_together(lambda: _try_to_lock(user.pk))
    [(_outcome, afterwards)] = run_together(lambda: _try_to_lock(user.pk))

    assert (while_held, afterwards) == ("locked", "free")


def test_a_query_compiled_once_gives_the_orms_rows_for_every_refilled_value():
    first, second = CustomerFactory(), CustomerFactory()
    builds = []

    @compiled_once
    def users_with_id():
        builds.append(1)
        return User.objects.filter(pk=STAND_IN_ID, is_active=True).order_by("pk")

    for user in (first, second, first):
        sql, params = users_with_id()
        [found] = instances_by_sql(User, sql, refilled(params, {STAND_IN_ID: user.pk}))
        assert fields_of(found) == fields_of(User.objects.get(pk=user.pk))
    assert builds == [1]  # built and compiled on the first call only
    sql, params = users_with_id()
    assert instances_by_sql(User, sql, params) == []  # the stand-in itself matches nothing


def test_refilled_replaces_only_the_stand_ins():
    moment = timezone.now()
    assert refilled(["pending", STAND_IN_ID, 7, True, moment], {STAND_IN_ID: 42, moment: "now"}) == [
        "pending",
        42,
        7,
        True,
        "now",
    ]
