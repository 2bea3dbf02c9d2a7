"""Monthly partitions of the usage tables on PostgreSQL: created ahead, dropped whole past retention.

Both usage tables (the records and the daily totals) are partitioned by RANGE on their time
(``occurred_at``, ``day``), one partition per local month (settings.TIME_ZONE), named
``<table>_pYYYY_MM``. A partition is made as a plain table and then ATTACHed: ATTACH takes
only a SHARE UPDATE EXCLUSIVE lock on the parent, so imports (which insert) and pages (which
read) go on meanwhile, where CREATE TABLE … PARTITION OF would stop them both. Each record
partition carries the unique index ``(line_id, record_key)`` that counts a record once.

Retention detaches and drops a whole month once every record in it is older than the
setting: no DELETE, no dead rows, no vacuum. On SQLite the tables are plain and none of this runs.
"""

import logging
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from billing.models import UsageDaily, UsageRecord

# One lock number for every change to the partitions, so two runs (the scheduled task, an
# import meeting a month nobody made yet) never make or drop the same one at once.
PARTITIONS_LOCK = 190_001
PARTITION_SUFFIX = re.compile(r"_p(\d{4})_(\d{2})$")
DETACH_LOCK_TIMEOUT = "5s"
logger = logging.getLogger(__name__)


def is_partitioned() -> bool:
    return connection.vendor == "postgresql"


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def local_today(now: datetime | None = None) -> date:
    return timezone.localtime(now or timezone.now(), ZoneInfo(settings.TIME_ZONE)).date()


def _tables() -> dict[str, str]:
    """Each partitioned table and its partition column."""
    return {UsageRecord._meta.db_table: "occurred_at", UsageDaily._meta.db_table: "day"}


def partition_name(table: str, month: date) -> str:
    return f"{table}_p{month:%Y_%m}"


def _bound(column: str, month: date) -> str:
    if column == "day":
        return month.isoformat()
    return partition_bounds(month)[0].isoformat()


def partition_bounds(month: date) -> tuple[datetime, datetime]:
    """The times a record partition holds: from local midnight of the month's first day to the next month's."""
    zone = ZoneInfo(settings.TIME_ZONE)
    following = add_months(month, 1)
    return (
        datetime(month.year, month.month, 1, tzinfo=zone),
        datetime(following.year, following.month, 1, tzinfo=zone),
    )


def partitions(table: str) -> dict[date, str]:
    """The months that have a partition of ``table``, with the partition's name."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT child.relname FROM pg_inherits JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
            "WHERE pg_inherits.inhparent = CAST(%s AS regclass)",
            [table],
        )
        names = [row[0] for row in cursor.fetchall()]
    found = {}
    for name in names:
        match = PARTITION_SUFFIX.search(name)
        if match:
            found[date(int(match[1]), int(match[2]), 1)] = name
    return found


def _create(cursor, table: str, column: str, month: date) -> str:
    name = partition_name(table, month)
    lower, upper = _bound(column, month), _bound(column, add_months(month, 1))
    # Names and bounds are made here from dates, never from input; DDL takes no parameters.
    cursor.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    if table == UsageRecord._meta.db_table:
        cursor.execute(f"CREATE UNIQUE INDEX {name}_once ON {name} (line_id, record_key)")
    cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ('{lower}') TO ('{upper}')")
    return name


def usage_partitions_ensure(months) -> list[str]:
    """Make the partitions of both usage tables that ``months`` (first days) still lack; return their names.

    Reads the catalog first and takes the lock only when something is missing, so an import
    in a month the scheduled task already made costs one catalog read.
    """
    if not is_partitioned():
        return []
    wanted = {month_start(month) for month in months}
    missing = {table: wanted - set(partitions(table)) for table in _tables()}
    if not any(missing.values()):
        return []
    made = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PARTITIONS_LOCK])
        for table, column in _tables().items():
            present = set(partitions(table))  # again under the lock: another run may have made some
            for month in sorted(missing[table] - present):
                made.append(_create(cursor, table, column, month))
    return made


def usage_partitions_maintain(*, now: datetime | None = None) -> dict:
    """Make the months ahead (USAGE_PARTITIONS_AHEAD_MONTHS) and drop those past retention.

    The scheduled task and the ``maintain_usage_partitions`` command call this.
    """
    if not is_partitioned():
        return {"created": [], "dropped": []}
    this_month = month_start(local_today(now))
    ahead = [add_months(this_month, offset) for offset in range(settings.USAGE_PARTITIONS_AHEAD_MONTHS + 1)]
    created = usage_partitions_ensure(ahead)
    dropped = usage_partitions_drop_expired(now=now)
    return {"created": created, "dropped": dropped}


def first_kept_month(*, retention_months: int, now: datetime | None = None) -> date:
    """The oldest month still kept: a month goes once its last day is ``retention_months`` behind today."""
    today = local_today(now)
    index = today.year * 12 + today.month - 1 - retention_months
    year, month = index // 12, index % 12 + 1
    # Today's day of the month, ``retention_months`` back (the 31st falls to the month's end).
    cutoff = date(year, month, min(today.day, _days_in(year, month)))
    # A month whose end (the next month's first day) is on or before the cutoff is wholly past
    # it; the cutoff's own month still holds records younger than the limit.
    return month_start(cutoff)


def _days_in(year: int, month: int) -> int:
    return (add_months(date(year, month, 1), 1) - date(year, month, 1)).days


def usage_partitions_drop_expired(*, now: datetime | None = None) -> list[str]:
    """Detach and drop the record partitions older than USAGE_RETENTION_MONTHS and the daily
    ones older than USAGE_ROLLUP_RETENTION_MONTHS (0 keeps the daily totals for ever)."""
    if not is_partitioned():
        return []
    limits = {UsageRecord._meta.db_table: settings.USAGE_RETENTION_MONTHS}
    if settings.USAGE_ROLLUP_RETENTION_MONTHS:
        limits[UsageDaily._meta.db_table] = settings.USAGE_ROLLUP_RETENTION_MONTHS
    dropped = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PARTITIONS_LOCK])
        # DETACH locks the whole table for a moment, and waits behind a running import; while it
        # waits, the pages' reads queue behind it. Better to give up and try again tomorrow.
        cursor.execute(f"SET LOCAL lock_timeout = '{DETACH_LOCK_TIMEOUT}'")
        for table, months in limits.items():
            keep_from = first_kept_month(retention_months=months, now=now)
            for month, name in sorted(partitions(table).items()):
                if month >= keep_from:
                    continue
                try:
                    with transaction.atomic():
                        cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {name}")
                        cursor.execute(f"DROP TABLE {name}")
                except OperationalError:
                    logger.warning("usage partition %s is past retention but was busy; left for the next run", name)
                    continue
                dropped.append(name)
    return dropped
