"""Writing a batch job's many rows: COPY and UPDATE … FROM VALUES on PostgreSQL, Django's bulk methods elsewhere.

For thousands of rows, django-pgbulk's COPY costs a fraction of Django's multi-row INSERT,
and its one UPDATE … FROM VALUES a fraction of ``bulk_update``'s CASE per row (auto-renew
at 100,000 lines, docs/PERFORMANCE.md §2). COPY gives the rows no ids back: a caller that
needs them uses ``bulk_create``. Below ``SET_BASED_FROM`` rows (a decision's few audit
events) the difference is noise, and on SQLite there is no COPY: Django's methods are used.
"""

from collections.abc import Sequence

import pgbulk
from django.db import connection, models

SET_BASED_FROM = 100


def set_based(count: int) -> bool:
    """Whether ``count`` rows go by COPY / UPDATE … FROM VALUES here."""
    return connection.vendor == "postgresql" and count >= SET_BASED_FROM


def rows_copy(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """Insert the instances by COPY (PostgreSQL only); their primary keys stay unset."""
    if objs:
        # COPY goes around Django's cursor wrapper: a refused row must still raise Django's
        # IntegrityError, which callers (a job's retry) catch.
        with connection.wrap_database_errors:
            pgbulk.copy(model, objs)


def rows_update_from_values(model: type[models.Model], objs: Sequence[models.Model], fields: list[str]) -> None:
    """Write ``fields`` of each instance by primary key in one UPDATE … FROM VALUES (PostgreSQL only)."""
    if objs:
        pgbulk.update(model, objs, fields)


def rows_insert(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """Insert the instances; their ids are set only when Django's ``bulk_create`` wrote them."""
    if set_based(len(objs)):
        rows_copy(model, objs)
    else:
        model._default_manager.bulk_create(objs, batch_size=1000)


def rows_update(model: type[models.Model], objs: Sequence[models.Model], fields: list[str]) -> None:
    """Write ``fields`` of each instance, by primary key."""
    if set_based(len(objs)):
        rows_update_from_values(model, objs, fields)
    else:
        model._default_manager.bulk_update(objs, fields, batch_size=1000)
