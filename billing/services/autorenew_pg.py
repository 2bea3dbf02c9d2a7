"""Auto-renew's PostgreSQL writes: new rows by COPY, changed rows by one UPDATE … FROM VALUES.

Both come from django-pgbulk (``heyon_site.bulk``), from model instances, with table and
column names from the models' ``_meta``. Auto-renew's own batch rows go this way whatever
their number (orders, payments, ledger entries, wallet balances, the line services'
auto-renew failure counters); accounts' rows of the same batch (lines, audit events,
messages) go through accounts' services, which choose by the number of rows. On any other
database the same instances go through ``bulk_create`` and ``bulk_update``
(``autorenew._create`` and ``autorenew._update``).
tests/billing/test_autorenew_sql.py runs the job both ways on the same lines and
compares every row.
"""

from collections.abc import Sequence

from django.db import models

from billing.models import Order
from heyon_site import bulk


def rows_create(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """Insert the instances by COPY; their primary keys stay unset."""
    bulk.rows_copy(model, objs)


def orders_create(orders: Sequence[Order]) -> None:
    """Insert new orders by COPY, then give each instance its id (orders are looked up by their unique number)."""
    rows_create(Order, orders)
    ids = dict(Order.objects.filter(number__in=[order.number for order in orders]).values_list("number", "pk"))
    for order in orders:
        order.pk = ids[order.number]
        order._state.adding = False


def rows_update(model: type[models.Model], objs: Sequence[models.Model], fields: list[str]) -> None:
    """Write ``fields`` of each instance by primary key, in one statement."""
    bulk.rows_update_from_values(model, objs, fields)
