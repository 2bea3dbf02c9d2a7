"""Reads that every signed-in request makes, planned once per database connection.

For the few queries that run on every request (the signed-in user, the account centre's
digest) compiling them with the ORM, and parsing and planning them in PostgreSQL, cost
more than the query itself. Here they are plain SQL, built once from the models' meta,
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
    with reusable_plan_cursor(using) as cursor:
        cursor.execute(_by_pk_sql(model, using, for_update), [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    connection = connections[using]
    values = []
    for value, (column, converters) in zip(row, _converters(model, using), strict=True):
        for converter in converters:
            value = converter(value, column, connection)
        values.append(value)
    return model.from_db(using, [field.attname for field in model._meta.concrete_fields], values)
