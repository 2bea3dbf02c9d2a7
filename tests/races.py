"""Helpers for race tests: real threads, each with its own connection, on PostgreSQL.

Each thread has its own database connection, so the data must really be committed:
race tests are transactional, with serialized_rollback to bring the rows seeded by
migrations (roles, plans, reason codes) back after the flush. On SQLite they are
skipped, decided at collection before the slow transactional set-up.
"""

import threading

import pytest
from django.db import connection
from django.utils import translation

NEEDS_POSTGRESQL = "races need PostgreSQL (set DATABASE_URL=postgres://…)"

# Reads only the configured backend's name: no connection is opened at collection.
RACE_MARKS = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason=NEEDS_POSTGRESQL),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def run_together(*calls, timeout=60):
    """Start every call at the same moment, each in its own thread; return ("ok", value) or ("error", exc)."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)
    # A new thread starts in the default language; the calls speak the caller's, as a
    # request's would, so messages compare equal whatever the test activated.
    language = translation.get_language()

    def worker(index, call):
        try:
            barrier.wait(timeout=timeout)
            with translation.override(language):
                results[index] = ("ok", call())
        except Exception as error:  # noqa: BLE001 - reported back to the test
            results[index] = ("error", error)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return results


def values(results):
    """The values of the calls that returned."""
    return [value for outcome, value in results if outcome == "ok"]


def errors(results):
    """The exceptions of the calls that raised."""
    return [value for outcome, value in results if outcome == "error"]
