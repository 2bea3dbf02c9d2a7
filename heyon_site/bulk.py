"""Bulk writes for batch jobs that Django's ORM makes slow."""

import json

from django.db import connections, router
from django.utils import timezone


def bulk_update_rows(objs, fields: list[str], *, batch_size: int = 1000) -> int:
    """Write ``fields`` of each object by primary key, like ``QuerySet.bulk_update``.

    On PostgreSQL one ``UPDATE … FROM (VALUES …)`` per batch. Django's bulk_update
    builds a ``CASE WHEN pk = … THEN …`` per row and field: for a chunk of hundreds of
    rows building those expressions costs more than the whole rest of the chunk, and the
    database compares every row against every WHEN. Elsewhere (SQLite) it falls back to
    bulk_update. Like bulk_update it sends no signals and does not touch auto_now fields.
    """
    objs = list(objs)
    if not objs:
        return 0
    model = type(objs[0])
    db = router.db_for_write(model)
    connection = connections[db]
    if connection.vendor != "postgresql":
        return model._default_manager.using(db).bulk_update(objs, fields, batch_size=batch_size)
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    names = [quote(field.column) for field in columns]
    row = "(" + ", ".join(f"%s::{field.cast_db_type(connection)}" for field in columns) + ")"
    assignments = ", ".join(f"{name} = v.{name}" for name in names[1:])
    # Table and column names come from the model's meta, quoted; every value is a parameter.
    template = f"UPDATE {table} SET {assignments} FROM (VALUES {{rows}}) AS v({', '.join(names)}) "  # noqa: S608
    template += f"WHERE {table}.{names[0]} = v.{names[0]}"
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            batch = objs[start : start + batch_size]
            params = [
                field.get_db_prep_save(getattr(obj, field.attname), connection) for obj in batch for field in columns
            ]
            cursor.execute(template.format(rows=", ".join([row] * len(batch))), params)
            updated += cursor.rowcount
    return updated


def _column_defaults(model, given: set[str], now):
    """The value each concrete column not in ``given`` gets when Django saves a new row."""
    defaults = {}
    for field in model._meta.concrete_fields:
        if field.primary_key and field.attname not in given and getattr(field, "db_returning", False):
            continue  # the database numbers it
        if field.attname in given:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            defaults[field] = now
        else:
            defaults[field] = field.get_default()
    return defaults


def insert_columns(model, columns: dict[str, list], *, returning: list[str] | None = None) -> list[tuple]:
    """Insert one row per index of ``columns`` (attname → one value per row); return ``returning``'s values.

    On PostgreSQL one ``INSERT … SELECT FROM unnest(%s::type[], …)``: one array parameter per
    column instead of one parameter per value, and no model instance per row, which is where a
    batch job's bulk_create spends its time. Values must be what the column holds (ints, str,
    Decimal, aware datetimes; dicts for JSON fields); columns not named get their field's
    default as one constant (``auto_now`` fields: now), as if each row had been saved new.
    Elsewhere (SQLite) the rows go through bulk_create. Sends no signals, runs no validation.
    """
    names = list(columns)
    length = len(columns[names[0]]) if names else 0
    if not length:
        return []
    if any(len(values) != length for values in columns.values()):
        raise ValueError("every column needs one value per row")
    meta = model._meta
    db = router.db_for_write(model)
    connection = connections[db]
    fields = [meta.get_field(name) for name in names]
    defaults = _column_defaults(model, {field.attname for field in fields}, timezone.now())
    returning = returning or []
    if connection.vendor != "postgresql":
        objs = [
            model(**dict(zip([field.attname for field in fields], row, strict=True)))
            for row in zip(*columns.values(), strict=True)
        ]
        model._default_manager.using(db).bulk_create(objs, batch_size=1000)
        return [tuple(getattr(obj, meta.get_field(name).attname) for name in returning) for obj in objs]
    quote = connection.ops.quote_name
    params, arrays = [], []
    for field, name in zip(fields, names, strict=True):
        values = columns[name]
        db_type = field.cast_db_type(connection)
        if field.get_internal_type() == "JSONField":
            # psycopg sends a list of str as text[]; each element becomes jsonb by the cast.
            values = [None if value is None else json.dumps(value, cls=field.encoder) for value in values]
            arrays.append("unnest(%s::text[])::jsonb")
        else:
            arrays.append(f"unnest(%s::{db_type}[])")
        params.append(values)
    constants = []
    for field, value in defaults.items():
        constants.append(f"%s::{field.cast_db_type(connection)}")
        params.append(field.get_db_prep_save(value, connection))
    target = [quote(field.column) for field in [*fields, *defaults]]
    # Table and column names come from the model's meta, quoted; every value is a parameter.
    sql = f"INSERT INTO {quote(meta.db_table)} ({', '.join(target)}) SELECT {', '.join(arrays + constants)}"
    if returning:
        sql += " RETURNING " + ", ".join(quote(meta.get_field(name).column) for name in returning)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()] if returning else []


def update_columns(model, pks: list, columns: dict[str, list]) -> int:
    """Set each row's ``columns`` (attname → one value per pk) by primary key, like ``bulk_update_rows``.

    On PostgreSQL one ``UPDATE … FROM unnest(%s::type[], …)`` with one array parameter per
    column; elsewhere bulk_update. Does not touch ``auto_now`` fields and sends no signals.
    """
    if not pks:
        return 0
    meta = model._meta
    db = router.db_for_write(model)
    connection = connections[db]
    fields = [meta.get_field(name) for name in columns]
    if connection.vendor != "postgresql":
        objs = []
        for index, pk in enumerate(pks):
            obj = model(pk=pk)
            for field, values in zip(fields, columns.values(), strict=True):
                setattr(obj, field.attname, values[index])
            objs.append(obj)
        return model._default_manager.using(db).bulk_update(objs, [field.name for field in fields], batch_size=1000)
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    pk_column = quote(meta.pk.column)
    names = [quote(field.column) for field in fields]
    arrays = [f"%s::{field.cast_db_type(connection)}[]" for field in [meta.pk, *fields]]
    assignments = ", ".join(f"{name} = v.{name}" for name in names)
    sql = (
        f"UPDATE {table} SET {assignments} FROM unnest({', '.join(arrays)}) AS v({pk_column}, {', '.join(names)}) "  # noqa: S608
        f"WHERE {table}.{pk_column} = v.{pk_column}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(pks), *(list(values) for values in columns.values())])
        return cursor.rowcount
