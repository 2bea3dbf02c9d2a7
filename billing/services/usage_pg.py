"""Usage import's PostgreSQL path: COPY into a staging table, then a few set-based statements.

Inside the import's transaction (billing.services.usage.usage_import):

1. the parsed rows go by COPY into a temporary table (``usage_staging``), never through the ORM;
   times and quantities go as text, and PostgreSQL parses them;
2. the months they fall in get their partitions if a month has none yet;
3. each number is resolved to its line once (``usage_staging_lines``, by one hash join over
   the lines); the rows of numbers no line has are listed from it;
4. for each month, one INSERT … SELECT … ON CONFLICT (line_id, record_key) DO NOTHING moves
   the month's rows straight into its partition, whose unique index ``(line_id, record_key)``
   is named as the arbiter (through the partitioned parent, ON CONFLICT can name none, and
   every unique index, the primary key's too, would be checked for each row). Rows already
   there (the same record in an earlier file, or earlier in this one) are left out, and an
   import running at the same moment that inserts the same record makes this one wait for
   its outcome, then skip it: each record is counted once. What was really inserted comes
   back by RETURNING, summed per line and local day (``usage_new_daily``);
5. those sums are added to the daily totals (upsert) and, summed once more per line
   (``usage_new_lines``), taken off the lines' allowances: the rows of billing_lineservice are
   locked in line order, then updated; that table keeps half of each page free so that these
   updates stay on their page (migration 0009).

Rows are inserted (month by month, in (line, key) order within a month), and daily totals and
allowances locked, in the same order in every import, so two imports over the same lines wait
for each other instead of deadlocking. The statements' sorts and hashes get WORK_MEM for the
transaction (SET LOCAL). Table names come from the models' ``_meta``; values are parameters.
"""

from collections.abc import Iterator

from django.conf import settings
from django.db import connection

from accounts.models import Line
from billing.models import LineService, UsageDaily, UsageRecord
from billing.services.usage_partitions import partition_bounds, partitions, usage_partitions_ensure

# The sorts and hashes of one import's statements (a file's rows) stay in memory.
WORK_MEM = "64MB"


def is_available() -> bool:
    return connection.vendor == "postgresql"


def merge(*, batch_id: int, rows: Iterator, report, max_unknown: int) -> list[tuple[int, str]]:
    """Load ``rows`` (usage.ParsedRow tuples) for import ``batch_id``; fill ``report``'s counts.

    Returns the first ``max_unknown`` rows whose number has no line, as (line number,
    number), and counts the others in ``report.bad_row_count``.
    """
    record, daily = UsageRecord._meta.db_table, UsageDaily._meta.db_table
    service, line = LineService._meta.db_table, Line._meta.db_table
    zone = settings.TIME_ZONE
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('work_mem', %s, true)", [WORK_MEM])
        # A test's transaction never commits, so ON COMMIT DROP alone would leave them behind.
        cursor.execute("DROP TABLE IF EXISTS usage_staging, usage_staging_lines, usage_new_daily, usage_new_lines")
        cursor.execute(
            "CREATE TEMP TABLE usage_staging (line_number integer NOT NULL, msisdn text NOT NULL, "
            "occurred_at timestamptz NOT NULL, kind text NOT NULL, quantity numeric(12, 3) NOT NULL, "
            "record_key text NOT NULL) ON COMMIT DROP"
        )
        staged = _copy(cursor, rows)
        cursor.execute("ANALYZE usage_staging (msisdn)")
        cursor.execute(
            "SELECT DISTINCT CAST(date_trunc('month', occurred_at AT TIME ZONE %s) AS date) FROM usage_staging",
            [zone],
        )
        months = sorted(row[0] for row in cursor.fetchall())
        usage_partitions_ensure(months)

        # Each number once, with its line: the one in service, else the newest (a number can be
        # reissued); none for a number no line has.
        cursor.execute(
            "CREATE TEMP TABLE usage_staging_lines ON COMMIT DROP AS "  # noqa: S608
            "SELECT DISTINCT ON (n.msisdn) n.msisdn, l.id AS line_id "
            f"FROM (SELECT DISTINCT msisdn FROM usage_staging) n LEFT JOIN {line} l ON l.msisdn = n.msisdn "
            "ORDER BY n.msisdn, l.status = 'cancelled', l.id DESC"
        )
        cursor.execute("ANALYZE usage_staging_lines")
        cursor.execute(
            "SELECT line_number, msisdn, count(*) OVER () FROM usage_staging "
            "WHERE msisdn IN (SELECT msisdn FROM usage_staging_lines WHERE line_id IS NULL) "
            "ORDER BY line_number LIMIT %s",
            [max_unknown],
        )
        unknown_rows = cursor.fetchall()
        unknown_total = unknown_rows[0][2] if unknown_rows else 0
        report.bad_row_count += unknown_total - len(unknown_rows)

        cursor.execute(
            "CREATE TEMP TABLE usage_new_daily (line_id bigint NOT NULL, day date NOT NULL, "
            "data_mb numeric NOT NULL, voice_minutes numeric NOT NULL, sms_count numeric NOT NULL, "
            "record_count integer NOT NULL) ON COMMIT DROP"
        )
        # A partition has no default for ``id``: it is drawn from the parent's identity sequence.
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [record])
        sequence = cursor.fetchone()[0]
        names = partitions(record)
        for month in months:
            # The month's rows: between the partition's bounds, the local midnights that the months
            # above were told apart by, so each row is taken by exactly one of these statements.
            lower, upper = partition_bounds(month)
            cursor.execute(
                f"WITH inserted AS (INSERT INTO {names[month]} "  # noqa: S608
                "(id, line_id, kind, quantity, occurred_at, record_key, source_id) "
                "SELECT nextval(%s), m.line_id, s.kind, s.quantity, s.occurred_at, s.record_key, %s "
                "FROM usage_staging s JOIN usage_staging_lines m ON m.msisdn = s.msisdn "
                "WHERE m.line_id IS NOT NULL AND s.occurred_at >= %s AND s.occurred_at < %s "
                "ORDER BY m.line_id, s.record_key "
                "ON CONFLICT (line_id, record_key) DO NOTHING RETURNING line_id, kind, quantity, occurred_at) "
                "INSERT INTO usage_new_daily "
                "SELECT line_id, CAST(occurred_at AT TIME ZONE %s AS date), "
                "coalesce(sum(quantity) FILTER (WHERE kind = 'data'), 0), "
                "coalesce(sum(quantity) FILTER (WHERE kind = 'voice'), 0), "
                "coalesce(sum(quantity) FILTER (WHERE kind = 'sms'), 0), count(*) "
                "FROM inserted GROUP BY 1, 2",
                [sequence, batch_id, lower, upper, zone],
            )
        cursor.execute("SELECT coalesce(sum(record_count), 0) FROM usage_new_daily")
        report.imported = int(cursor.fetchone()[0])
        report.duplicates = staged - unknown_total - report.imported

        cursor.execute(
            f"INSERT INTO {daily} AS d (line_id, day, data_mb, voice_minutes, sms_count, record_count) "  # noqa: S608
            "SELECT line_id, day, data_mb, voice_minutes, sms_count, record_count FROM usage_new_daily "
            "ORDER BY line_id, day "
            "ON CONFLICT (line_id, day) DO UPDATE SET data_mb = d.data_mb + EXCLUDED.data_mb, "
            "voice_minutes = d.voice_minutes + EXCLUDED.voice_minutes, sms_count = d.sms_count + EXCLUDED.sms_count, "
            "record_count = d.record_count + EXCLUDED.record_count",
        )
        # What each line used, rounded up to whole units as the network bills: per line and file.
        cursor.execute(
            "CREATE TEMP TABLE usage_new_lines ON COMMIT DROP AS SELECT line_id, "
            "CAST(ceil(sum(data_mb)) AS bigint) AS data_mb, CAST(ceil(sum(voice_minutes)) AS bigint) AS voice_minutes, "
            "CAST(ceil(sum(sms_count)) AS bigint) AS sms_count FROM usage_new_daily GROUP BY line_id"
        )
        cursor.execute("ANALYZE usage_new_lines")
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {service} WHERE line_id IN "  # noqa: S608
            "(SELECT line_id FROM usage_new_lines) ORDER BY line_id FOR UPDATE) locked",
        )
        cursor.execute(
            f"UPDATE {service} s SET data_left_mb = s.data_left_mb - t.data_mb, "  # noqa: S608
            "voice_left_minutes = s.voice_left_minutes - t.voice_minutes, sms_left = s.sms_left - t.sms_count "
            "FROM usage_new_lines t WHERE s.line_id = t.line_id",
        )
        cursor.execute("DROP TABLE usage_staging, usage_staging_lines, usage_new_daily, usage_new_lines")
    return [(line_number, msisdn) for line_number, msisdn, _total in unknown_rows]


def _copy(cursor, rows: Iterator) -> int:
    """COPY the rows into usage_staging (psycopg formats and escapes each one); return how many."""
    with cursor.copy(
        "COPY usage_staging (line_number, msisdn, occurred_at, kind, quantity, record_key) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)
    return cursor.rowcount
