"""Fixtures of the reliability tests: a real Redis, a real Celery worker, fault injection.

The worker tests use the machine's Redis at ``HEYON_TEST_REDIS_URL`` (default
``redis://127.0.0.1:6379/15``). Locally they are skipped, with the reason, when Redis is
not running; in CI (``CI=true``) an unreachable Redis fails them instead.
"""

import contextlib
import os
import threading
import time
import uuid
from datetime import timedelta

import kombu.pools
import pytest
import redis
from celery import signals
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.db import connections
from django.utils import timezone

from accounts import sms
from heyon_site.celery import app as celery_app

TEST_REDIS_URL = os.environ.get("HEYON_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def redis_problem(url: str) -> str | None:
    """Why Redis at this URL cannot be used, or None when it answers."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        return f"{type(error).__name__}: {error}"
    finally:
        client.close()
    return None


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis; skips locally when it is down, fails in CI."""
    problem = redis_problem(TEST_REDIS_URL)
    if problem:
        message = f"Redis at {TEST_REDIS_URL} (HEYON_TEST_REDIS_URL) is unreachable: {problem}"
        if IN_CI:
            pytest.fail(f"{message}. CI must run the worker tests against a real Redis.", pytrace=False)
        pytest.skip(f"{message}. Start Redis to run the worker tests.")
    return TEST_REDIS_URL


@pytest.fixture
def redis_cache(redis_url, settings):
    """Django's cache in the test Redis, under a prefix of its own (removed afterwards)."""
    prefix = f"heyon-test-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        }
    }
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(autouse=True)
def _clean_outboxes():
    sms.outbox.clear()
    mail.outbox = []
    yield
    sms.outbox.clear()


@pytest.fixture
def travel(monkeypatch):
    """Move ``timezone.now()`` forward by a timedelta (cumulative), in every thread; return the new now."""
    real_now = timezone.now
    offset = timedelta(0)

    def move(delta: timedelta):
        nonlocal offset
        offset += delta
        monkeypatch.setattr(timezone, "now", lambda: real_now() + offset)
        return timezone.now()

    return move


def _reset_broker_connections(app) -> None:
    # The app caches its connection and producer pools (kombu keeps them in a registry)
    # and its queues (the default queue name is read once): after the broker URL or the
    # queue changes they must be rebuilt, or tasks would go to the old broker or queue.
    kombu.pools.reset()
    app._pool = None
    app.__dict__.pop("amqp", None)


@contextlib.contextmanager
def celery_configured(**changes):
    """Change the Celery app's configuration for the block, then put it back."""
    saved = {key: celery_app.conf.get(key) for key in changes}
    celery_app.conf.update(changes)
    _reset_broker_connections(celery_app)
    try:
        yield celery_app
    finally:
        celery_app.conf.update(saved)
        _reset_broker_connections(celery_app)


class FinishedTasks:
    """Tasks the worker finished, recorded from Celery's task_postrun signal."""

    def __init__(self):
        self._done: list[tuple[str, object]] = []
        self._condition = threading.Condition()

    def record(self, sender=None, retval=None, **kwargs):
        with self._condition:
            self._done.append((sender.name, retval))
            self._condition.notify_all()

    def names(self) -> list[str]:
        with self._condition:
            return [name for name, _retval in self._done]

    def wait_for(self, name: str, *, count: int = 1, timeout: float = 20.0) -> list:
        """Wait until ``name`` finished ``count`` times; return the return values so far."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                results = [retval for done, retval in self._done if done == name]
                if len(results) >= count:
                    return results
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{name} finished {len(results)} times, not {count}, within {timeout}s")
                self._condition.wait(left)


@contextlib.contextmanager
def running_worker(redis_url, settings, *, pool="solo", concurrency=1):
    """Run a real Celery worker (threads of this process) on the test Redis, with its own queue.

    The queue name is unique, so two test runs sharing one Redis never take each
    other's tasks. Messages are handed to it on commit (``OUTBOX_SEND_VIA_QUEUE``).
    """
    queue = f"heyon-test-{uuid.uuid4().hex[:12]}"
    settings.CELERY_BROKER_URL = redis_url
    settings.OUTBOX_SEND_VIA_QUEUE = True
    finished = FinishedTasks()
    test_thread = threading.current_thread()

    def close_worker_connections(**kwargs):
        # The worker threads' own connections (they are per thread): one left open
        # would block the flush at the end of the test on PostgreSQL.
        if threading.current_thread() is not test_thread:
            connections.close_all()

    signals.task_postrun.connect(finished.record, weak=False)
    signals.task_postrun.connect(close_worker_connections, weak=False)
    try:
        with (
            celery_configured(
                broker_url=redis_url,
                task_default_queue=queue,
                worker_hijack_root_logger=False,
                broker_connection_retry_on_startup=False,
            ) as app,
            start_worker(
                app,
                pool=pool,
                concurrency=concurrency,
                perform_ping_check=False,
                loglevel="WARNING",
                shutdown_timeout=30,
            ) as worker,
        ):
            worker.finished = finished
            yield worker
    finally:
        signals.task_postrun.disconnect(finished.record)
        signals.task_postrun.disconnect(close_worker_connections)
        client = redis.Redis.from_url(redis_url)
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        client.close()


@pytest.fixture
def worker(redis_url, settings):
    """One worker running one task at a time. Use with ``django_db(transaction=True)``:
    the worker has its own database connection and sees only committed rows."""
    with running_worker(redis_url, settings) as running:
        yield running


@pytest.fixture
def two_workers(redis_url, settings):
    """A worker running two tasks at the same moment, in two threads, as two machines would."""
    with running_worker(redis_url, settings, pool="threads", concurrency=2) as running:
        yield running
