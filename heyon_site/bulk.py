"""Bulk writes for batch jobs that Django's ORM makes slow."""

import datetime
import json
import re

from django.db import connections, router
from django.utils import timezone


def bulk_update_rows(objs, fields: list[str], *, batch_size: int = 1000) -> int:
    """Write ``fields`` of each object by primary key, like ``QuerySet.bulk_update``.

    ``update_columns`` for model instances: on PostgreSQL one ``UPDATE … FROM ROWS FROM
    (…)`` per batch. Django's bulk_update builds a ``CASE WHEN pk = … THEN …`` per row and
    field: for a chunk of hundreds of rows building those expressions costs more than the
    whole rest of the chunk, and the database compares every row against every WHEN.
    Elsewhere (SQLite) it falls back to bulk_update. Like bulk_update it sends no signals
    and does not touch auto_now fields.
    """
    objs = list(objs)
    if not objs:
        return 0
    model = type(objs[0])
    db = router.db_for_write(model)
    if connections[db].vendor != "postgresql":
        return model._default_manager.using(db).bulk_update(objs, fields, batch_size=batch_size)
    chosen = [model._meta.get_field(name) for name in fields]
    updated = 0
    for start in range(0, len(objs), batch_size):
        batch = objs[start : start + batch_size]
        columns = {
            field.attname: [field.get_prep_value(getattr(obj, field.attname)) for obj in batch] for field in chosen
        }
        updated += update_columns(model, [obj.pk for obj in batch], columns)
    return updated


# What turns one value of these fields into text PostgreSQL reads back exactly (C functions, for map).
_AS_TEXT = {
    "DateTimeField": datetime.datetime.isoformat,
    "DateField": datetime.date.isoformat,
    "TimeField": datetime.time.isoformat,
    "DecimalField": str,
    "UUIDField": str,
}


def _json_column(field, values: list) -> str:
    """One column's values as a JSON array of text, for ``json_array_elements_text`` to unpack.

    psycopg quotes a list parameter element by element in Python (a few microseconds a
    value); ``json.dumps`` of one list is C, and PostgreSQL casts each text to the column's
    type exactly as it would cast a literal.
    """
    kind = field.get_internal_type()
    if kind == "JSONField":
        values = [None if value is None else json.dumps(value, cls=field.encoder) for value in values]
    elif kind in _AS_TEXT:
        text = _AS_TEXT[kind]
        values = (
            [None if value is None else text(value) for value in values] if None in values else [*map(text, values)]
        )
    return json.dumps(values, ensure_ascii=False)


def int_array(values) -> str:
    """A PostgreSQL array literal of integers, for a ``%s::bigint[]`` parameter.

    psycopg quotes a list parameter element by element in Python; ids are plain integers,
    so their literal needs no quoting (``int`` refuses anything else).
    """
    return "{" + ",".join(str(int(value)) for value in values) + "}"


def _base_type(field, connection) -> str:
    """The column's type without its length or precision: ``varchar(32)`` → ``varchar``.

    An explicit cast to ``varchar(32)`` would cut a longer text short and one to
    ``numeric(12, 2)`` would let an overflow through to the column's own check; without
    the modifier the value is stored as the column's type demands, or refused like any
    other INSERT's.
    """
    return re.sub(r"\(.*?\)", "", field.cast_db_type(connection))


def _column_defaults(model, given: set[str], now) -> dict:
    """The value each concrete column not in ``given`` gets when Django saves a new row."""
    defaults = {}
    for field in model._meta.concrete_fields:
        if field.attname in given or (field.primary_key and getattr(field, "db_returning", False)):
            continue  # given, or numbered by the database
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            defaults[field] = now
        else:
            defaults[field] = field.get_default()
    return defaults


def insert_columns(
    model, columns: dict[str, list], *, constants: dict | None = None, returning: list[str] | None = None
) -> list[tuple]:
    """Insert one row per index of ``columns`` (attname → one value per row); return ``returning``'s values.

    ``constants`` (attname → value) are the same in every row. Columns named in neither get
    their field's default (``auto_now`` fields: now), as if each row had been saved new.
    Values must be what the column holds (ints, str, Decimal, aware datetimes; dicts for
    JSON fields). On PostgreSQL one ``INSERT … SELECT … FROM ROWS FROM
    (json_array_elements_text(%s), …)``: one parameter per column instead of one per value,
    and no model instance per row, which is where a batch job's bulk_create spends its
    time. Elsewhere (SQLite) the rows go through bulk_create. Sends no signals, runs no
    validation; the rows come back in ``columns``' order.
    """
    constants = constants or {}
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
    fixed = {meta.get_field(name): value for name, value in constants.items()}
    given = {field.attname for field in [*fields, *fixed]}
    fixed.update(_column_defaults(model, given, timezone.now()))
    returning = [meta.get_field(name) for name in returning or []]
    if connection.vendor != "postgresql":
        attnames = [field.attname for field in fields]
        shared = {field.attname: value for field, value in fixed.items()}
        objs = [model(**shared, **dict(zip(attnames, row, strict=True))) for row in zip(*columns.values(), strict=True)]
        model._default_manager.using(db).bulk_create(objs, batch_size=1000)
        return [tuple(getattr(obj, field.attname) for field in returning) for obj in objs]
    quote = connection.ops.quote_name
    aliases = [f"c{index}" for index in range(len(fields))]
    selected = [f"v.{alias}::{_base_type(field, connection)}" for alias, field in zip(aliases, fields, strict=True)]
    selected += [f"%s::{_base_type(field, connection)}" for field in fixed]
    target = ", ".join(quote(field.column) for field in [*fields, *fixed])
    unpack = ", ".join(["json_array_elements_text(%s::json)"] * len(fields))
    # Table and column names come from the model's meta, quoted; every value is a parameter.
    sql = f"INSERT INTO {quote(meta.db_table)} ({target}) SELECT {', '.join(selected)} "
    sql += f"FROM ROWS FROM ({unpack}) AS v({', '.join(aliases)})"
    if returning:
        sql += " RETURNING " + ", ".join(quote(field.column) for field in returning)
    # The SELECT list's constants come before FROM's arrays in the text.
    params = [field.get_db_prep_save(value, connection) for field, value in fixed.items()]
    params += [_json_column(field, columns[name]) for field, name in zip(fields, names, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()] if returning else []


def update_columns(model, pks: list, columns: dict[str, list]) -> int:
    """Set each row's ``columns`` (attname → one value per pk) by primary key.

    On PostgreSQL one ``UPDATE … FROM ROWS FROM (json_array_elements_text(%s), …)`` with one
    parameter per column; elsewhere bulk_update. Does not touch ``auto_now`` fields and
    sends no signals.
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
    aliases = [f"c{index}" for index in range(len(fields))]
    assignments = ", ".join(
        f"{quote(field.column)} = v.{alias}::{_base_type(field, connection)}"
        for alias, field in zip(aliases, fields, strict=True)
    )
    unpack = ", ".join(["json_array_elements_text(%s::json)"] * (len(fields) + 1))
    sql = (
        f"UPDATE {table} SET {assignments} FROM ROWS FROM ({unpack}) AS v(pk, {', '.join(aliases)}) "  # noqa: S608
        f"WHERE {table}.{pk_column} = v.pk::{meta.pk.cast_db_type(connection)} "
        # The planner cannot tell how many rows a function returns (it guesses 100) and may
        # scan the whole table to hash-join them; the pk list makes it fetch these rows by index.
        f"AND {table}.{pk_column} = ANY(%s::{meta.pk.cast_db_type(connection)}[])"
    )
    params = [_json_column(meta.pk, list(pks))]
    params += [_json_column(field, list(values)) for field, values in zip(fields, columns.values(), strict=True)]
    params.append(int_array(pks))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
