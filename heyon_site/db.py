"""Hot reads, compiled once per process and planned once per database connection.

For the few queries that run on every request (the signed-in user, the account centre's
digest) or every decision (the submission and customer locked, the waiting lines),
compiling them with the ORM, and parsing and planning them in PostgreSQL, cost more than
the query itself. Here they are plain SQL, built once from the models' meta,
run on a cursor whose statements PostgreSQL prepares and then reuses on the persistent
connection:

- with the settings' default on PostgreSQL (server-side binding, statements prepared after
  ``DATABASE_PREPARE_THRESHOLD`` runs; heyon_site/settings/base.py) that is Django's own
  cursor, so these follow the threshold, and preparing switched off switches them off too;
- with client-side binding (``DATABASE_SERVER_SIDE_BINDING=false``), where Django's cursors
  never prepare, it is a server-binding psycopg cursor that prepares on first use.

Behind a connection pooler preparing needs one that keeps prepared statements (PgBouncer
1.21+ with ``max_prepared_statements``; docs/DEPLOY.md). Other databases get Django's
own cursor.
"""

import datetime
import functools

from django.db import connections


def reusable_plan_cursor(using: str = "default"):
    """A cursor, wrapped like Django's own (error translation), whose statements PostgreSQL prepares."""
    connection = connections[using]
    if (
        connection.vendor != "postgresql"
        or connection.queries_logged
        or connection.settings_dict["OPTIONS"].get("server_side_binding")
    ):
        # While queries are logged (DEBUG, or a test counting them) Django's own cursor
        # runs it: Django cannot show the SQL a prepared statement ran.
        return connection.cursor()
    import psycopg

    connection.ensure_connection()
    if connection.connection.prepare_threshold is None:
        # Django switches preparing off for a client-binding connection; its own cursors
        # never prepare there, so this changes nothing but cursors like this one.
        connection.connection.prepare_threshold = 0
    with connection.wrap_database_errors:
        raw = psycopg.Cursor(connection.connection)
    return connection._prepare_cursor(raw)


@functools.cache
def _by_pk_sql(model, using: str, for_update: bool = False) -> str:
    connection = connections[using]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in model._meta.concrete_fields)
    # Names come from the model's meta, quoted; the key is a parameter.
    sql = f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {quote(model._meta.pk.column)} = %s"  # noqa: S608
    # As select_for_update(): a no-op where the database has no row locks (SQLite).
    return f"{sql} FOR UPDATE" if for_update and connection.features.has_select_for_update else sql


@functools.cache
def _converters(model, using: str) -> list[tuple]:
    """Per column, what the ORM's compiler would apply to the value: the backend's, then the field's."""
    connection = connections[using]
    result = []
    for field in model._meta.concrete_fields:
        column = field.get_col(model._meta.db_table)
        result.append((column, connection.ops.get_db_converters(column) + column.get_db_converters(connection)))
    return result


def instance_by_pk(model, pk, *, using: str = "default", for_update: bool = False):
    """``model.objects.using(using).filter(pk=pk).first()``, without compiling a query each time.

    ``for_update`` locks the row as ``select_for_update()`` would (inside a transaction).

    Values are converted as the ORM's compiler converts them (the backend's converters,
    then the field's ``from_db_value``, e.g. a phone number), and the instance is built
    with ``Model.from_db`` like any loaded row.
    """
    found = instances_by_sql(model, _by_pk_sql(model, using, for_update), [pk], using=using)
    return found[0] if found else None


def instances_by_sql(model, sql: str, params, *, using: str = "default") -> list:
    """The model's instances for ``sql``, whose columns are the model's concrete fields in order.

    Converted and built as the ORM builds loaded rows (see ``instance_by_pk``); the cursor
    is ``reusable_plan_cursor``'s, so PostgreSQL prepares a statement run often.
    """
    with reusable_plan_cursor(using) as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    connection = connections[using]
    converters = _converters(model, using)
    attnames = [field.attname for field in model._meta.concrete_fields]
    instances = []
    for row in rows:
        values = []
        for value, (column, column_converters) in zip(row, converters, strict=True):
            for converter in column_converters:
                value = converter(value, column, connection)
            values.append(value)
        instances.append(model.from_db(using, attnames, values))
    return instances


# An id no row has, put where a per-call value goes while a query is compiled once
# (``compiled_once``) and replaced by the real value at each call (``refilled``).
STAND_IN_ID = -424_242


def compiled_once(build):
    """Decorate a function returning a queryset: call it once, keep the SQL and parameters.

    Building a queryset and compiling it can cost more than running the statement; for a
    hot query whose only per-call values are stand-ins (``STAND_IN_ID``), the decorated
    function returns ``(sql, params)`` compiled on its first call, for ``refilled``.
    """
    return functools.cache(lambda *args: build(*args).query.sql_with_params())


def refilled(params, values: dict) -> list:
    """``params`` with each stand-in replaced by its value in ``values`` (stand-in → value)."""
    return [values.get(param, param) if isinstance(param, (int, datetime.datetime)) else param for param in params]
