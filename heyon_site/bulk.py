"""``insert_columns``: rows written from columns, without a model instance per row (reviews' event history uses it)."""

import datetime
import json
import re

from django.db import connections, router
from django.utils import timezone

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

    PostgreSQL casts each text to the column's type exactly as it would cast a literal.
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
