"""Rows of text that stand for what a page shows, for a cache key made of them.

Each app describes the state of its own tables as querysets of ``STATE_COLUMNS`` text
columns (``state_row``); the page that shows them unites the querysets in one query
(``state_digest``). When anything the page shows changes, a row changes, and so does
the digest: nothing has to remember to invalidate the cache, batch jobs included.
"""

import hashlib

from django.db.models import TextField, Value
from django.db.models.functions import Cast

STATE_COLUMNS = 7


def state_row(queryset, tag: str, *columns):
    """``queryset`` as rows of (tag, up to seven columns as text, the rest NULL)."""
    if len(columns) > STATE_COLUMNS:
        raise ValueError(f"at most {STATE_COLUMNS} columns")
    names = [f"state_{index}" for index in range(STATE_COLUMNS)]
    values = {
        name: Cast(column, output_field=TextField()) if isinstance(column, str) else column
        for name, column in zip(names, columns, strict=False)
    }
    values |= {name: Value(None, output_field=TextField()) for name in names[len(columns) :]}
    return queryset.annotate(state_tag=Value(tag, output_field=TextField()), **values).values_list("state_tag", *names)


def first_rows(queryset, count: int):
    """The first ``count`` rows of an ordered ``queryset``, as a queryset a union can hold.

    SQLite allows no LIMIT in the parts of a UNION; a LIMIT inside ``pk IN (…)`` is fine
    on both databases.
    """
    return queryset.model.objects.filter(pk__in=queryset.values("pk")[:count])


def state_digest(querysets) -> str:
    """A digest of the rows of ``querysets`` (from ``state_row``), read in one query."""
    first, *others = querysets
    rows = list(first.union(*others, all=True)) if others else list(first)
    rows.sort(key=lambda row: tuple("" if value is None else str(value) for value in row))
    return hashlib.sha256(repr(rows).encode()).hexdigest()
