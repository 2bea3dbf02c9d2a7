"""Auto-renew's PostgreSQL writes: new rows by COPY, changed rows by one UPDATE … FROM VALUES.

Both come from django-pgbulk, from model instances, with table and column names from
the models' ``_meta``. Only auto-renew's own batch rows go this way (orders, payments,
ledger entries, wallet balances, the line services' auto-renew failure counters);
elsewhere, and on any other database, the same instances go through ``bulk_create``
and ``bulk_update`` (``autorenew._create`` and ``autorenew._update``).
tests/billing/test_autorenew_sql.py runs the job both ways on the same lines and
compares every row.
"""

from collections.abc import Sequence

import pgbulk
from django.db import connection, models

from billing.models import Order


def rows_create(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """Insert the instances by COPY; their primary keys stay unset."""
    if objs:
        # COPY goes around Django's cursor wrapper: a refused row must still raise
        # Django's IntegrityError, which the chunk's retry catches.
        with connection.wrap_database_errors:
            pgbulk.copy(model, objs)


def orders_create(orders: Sequence[Order]) -> None:
    """Insert new orders by COPY, then give each instance its id (orders are looked up by their unique number)."""
    rows_create(Order, orders)
    ids = dict(Order.objects.filter(number__in=[order.number for order in orders]).values_list("number", "pk"))
    for order in orders:
        order.pk = ids[order.number]
        order._state.adding = False


def rows_update(model: type[models.Model], objs: Sequence[models.Model], fields: list[str]) -> None:
    """Write ``fields`` of each instance by primary key, in one statement."""
    if objs:
        pgbulk.update(model, objs, fields)
