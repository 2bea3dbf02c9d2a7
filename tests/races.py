"""Helpers for race tests: real threads, each with its own connection, on PostgreSQL.

Each thread has its own database connection, so the data must really be committed:
race tests are transactional, with serialized_rollback to bring the rows seeded by
migrations (roles, plans, reason codes) back after the flush. On SQLite they are
skipped, decided at collection before the slow transactional set-up.
"""

import importlib
import itertools
import threading
import time

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


class Pause:
    """Patch the function at ``target`` ("module.name") so that its ``call``-th call runs, then waits for ``release``.

    The thread that made the call keeps its transaction, and the row locks it holds, until
    then: a test makes an interleaving certain instead of lucky (``run_while_held``).
    """

    def __init__(self, monkeypatch, target: str, *, call: int = 1, timeout: float = 30):
        module_name, name = target.rsplit(".", 1)
        module = importlib.import_module(module_name)
        original = getattr(module, name)
        self.reached, self.release = threading.Event(), threading.Event()
        calls = itertools.count(1)

        def paused(*args, **kwargs):
            result = original(*args, **kwargs)
            if next(calls) == call:
                self.reached.set()
                self.release.wait(timeout)
            return result

        monkeypatch.setattr(module, name, paused)


def waits_for_a_lock() -> bool:
    """Whether another connection to this database is waiting for a lock right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock')"
        )
        return cursor.fetchone()[0]


def run_while_held(hold, other, *, pause: Pause, timeout=30):
    """Run ``hold`` until it reaches ``pause``; then run ``other``, and let ``hold`` go once ``other``
    has returned or waits for a lock.

    Returns (hold's outcome, other's outcome, whether other returned while hold was paused),
    each outcome ("ok", value) or ("error", exc) as ``run_together``'s.
    """
    language = translation.get_language()
    results = {}
    other_done = threading.Event()

    def worker(key, call, done):
        try:
            with translation.override(language):
                results[key] = ("ok", call())
        except Exception as error:  # noqa: BLE001 - reported back to the test
            results[key] = ("error", error)
        finally:
            done.set()
            connection.close()  # this thread's own connection

    holder = threading.Thread(target=worker, args=("hold", hold, pause.reached))  # a failure before it: go on
    holder.start()
    assert pause.reached.wait(timeout), "hold never reached its pause"
    second = threading.Thread(target=worker, args=("other", other, other_done))
    second.start()
    deadline = time.monotonic() + timeout
    while not other_done.is_set() and not waits_for_a_lock():
        assert time.monotonic() < deadline, "other neither returned nor waited for a lock"
        time.sleep(0.01)
    returned_while_held = other_done.is_set()
    pause.release.set()
    for thread in (holder, second):
        thread.join(timeout)
    assert not holder.is_alive() and not second.is_alive(), "a thread hung (deadlock?)"
    return results["hold"], results["other"], returned_while_held
