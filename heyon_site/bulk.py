"""Bulk writes for batch jobs that Django's ORM makes slow."""

from django.db import connections, router


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
