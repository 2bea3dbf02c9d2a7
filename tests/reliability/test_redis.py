"""Redis when REDIS_URL is set: the shared cache and its rate limit, the health check, the settings.

What is shared, and where (docs/DECISIONS.md, "Background work"): the certificate check's
per-IP limit counts in the cache, so in Redis, and so do the cached account centre pages;
sessions are read from Redis and written through to the database, which serves them while
Redis is down; the one-time code limits and django-axes lockouts count in the database,
which every app server shares anyway.
"""

import json
import os
import subprocess
import sys

import pytest
from celery.schedules import crontab
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile

pytestmark = pytest.mark.django_db

CERTIFICATE_CHECK = "/certificates/verify/"
UNREACHABLE = "redis://127.0.0.1:1/0"


REDIS_CACHE = "django_redis.cache.RedisCache"


def test_the_certificate_check_limit_counts_in_redis_for_every_app_server(client, settings, redis_url, redis_cache):
    settings.CERTIFICATE_VERIFY_RATE_PER_MINUTE = 3
    for _ in range(2):
        assert client.get(CERTIFICATE_CHECK, {"number": "HY-0000-0000"}).status_code == 200

    # Another app server: a cache of its own in its own process, the same Redis and prefix.
    settings.CACHES = {"default": {"BACKEND": REDIS_CACHE, "LOCATION": redis_url, "KEY_PREFIX": redis_cache}}
    client.cookies["django_language"] = "en"

    assert client.get(CERTIFICATE_CHECK, {"number": "HY-0000-0000"}).status_code == 200
    refused = client.get(CERTIFICATE_CHECK, {"number": "HY-0000-0000"})
    assert refused.status_code == 429
    assert "Too many checks from your network" in refused.content.decode()
    assert client.get(CERTIFICATE_CHECK, {"number": "HY-0000-0000"}, REMOTE_ADDR="203.0.113.9").status_code == 200


def test_while_redis_is_down_the_public_certificate_check_refuses_rather_than_go_uncounted(client, settings):
    settings.CACHES = {"default": {"BACKEND": REDIS_CACHE, "LOCATION": UNREACHABLE}}
    client.cookies["django_language"] = "en"

    response = client.get(CERTIFICATE_CHECK, {"number": "HY-0000-0000"})

    assert response.status_code == 503
    assert "Certificate checks are unavailable for a moment" in response.content.decode()


def test_while_redis_is_down_a_customer_still_gets_the_photo_precheck(client, settings):
    from tests.factories import CustomerFactory
    from tests.reviews import payloads

    settings.CACHES = {"default": {"BACKEND": REDIS_CACHE, "LOCATION": UNREACHABLE}}
    client.force_login(CustomerFactory())
    photo = payloads.encode(payloads.card_image(480, 360), "JPEG")

    response = client.post(
        "/verification/precheck/", {"kind": "id_back", "photo": SimpleUploadedFile("b.jpg", photo, "image/jpeg")}
    )

    assert response.status_code == 200
    assert response.json()["ok"] is True


def test_healthz_checks_redis_when_it_is_configured(client, settings, redis_url):
    settings.REDIS_URL = redis_url

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "storage": "ok", "redis": "ok"}


def test_healthz_is_unhealthy_when_redis_does_not_answer(client, settings):
    settings.REDIS_URL = UNREACHABLE

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["redis"] == "error"
    assert response.json()["database"] == "ok"


def test_healthz_without_redis_does_not_ask_for_it(client, settings):
    settings.REDIS_URL = ""

    response = client.get("/healthz")

    assert response.status_code == 200
    assert "redis" not in response.json()


def settings_under(environment: dict) -> dict:
    """Read the settings a process started with this environment gets (a fresh interpreter)."""
    script = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'cache': s.CACHES['default']['BACKEND'], 'broker': s.CELERY_BROKER_URL, "
        "'via_queue': s.OUTBOX_SEND_VIA_QUEUE, 'beat': sorted(e['task'] for e in s.CELERY_BEAT_SCHEDULE.values()), "
        "'send_task_queued': s.OUTBOX_SEND_TASK_QUEUED_SECONDS, "
        "'db_options': s.DATABASES['default'].get('OPTIONS', {})}))"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REDIS_", "CELERY_", "OUTBOX_", "DATABASE_"))
    }
    env.update({"DJANGO_SETTINGS_MODULE": "heyon_site.settings.local", **environment})
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


# Sorted: both tests compare it with the sorted task names of the schedule.
BEAT_TASKS = [
    "accounts.tasks.dispatch_messages",
    "accounts.tasks.poll_sms_receipts",
    "api.tasks.purge_api_records",
    "billing.tasks.expire_lines",
    "billing.tasks.maintain_usage_partitions",
    "billing.tasks.reconcile_payments",
    "billing.tasks.run_autorenew",
    "billing.tasks.settle_payments",
    "customers.tasks.purge_personal_data",
    "reviews.tasks.purge_submission_drafts",
    "reviews.tasks.refresh_dashboard",
    "reviews.tasks.release_expired_claims",
    "reviews.tasks.run_machine_checks",
]


def test_the_embedded_default_needs_no_redis_and_no_broker():
    found = settings_under({})

    assert found["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert (found["broker"], found["via_queue"], found["send_task_queued"]) == ("", False, 0)
    # SQLite: WAL, a busy timeout and IMMEDIATE transactions (tests/reliability/test_sqlite_concurrency.py).
    assert found["db_options"] == {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    }


def test_on_postgresql_parameters_are_bound_on_the_server_and_repeated_queries_prepared():
    postgres = {"DATABASE_URL": "postgres://heyon@db.internal:5432/heyon"}

    assert settings_under(postgres)["db_options"] == {"server_side_binding": True, "prepare_threshold": 5}
    assert settings_under({**postgres, "DATABASE_PREPARE_THRESHOLD": "off"})["db_options"] == {
        "server_side_binding": True,
        "prepare_threshold": None,
    }
    assert settings_under({**postgres, "DATABASE_SERVER_SIDE_BINDING": "false"})["db_options"] == {}


def test_without_a_broker_messages_are_sent_in_process_and_celery_is_never_asked(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    from accounts import services, sms, tasks
    from tests.factories import CustomerFactory

    def no_broker(*args, **kwargs):
        raise AssertionError("the embedded default must not hand messages to Celery")

    monkeypatch.setattr(tasks.send_messages, "delay", no_broker)
    assert settings.OUTBOX_SEND_VIA_QUEUE is False
    user = CustomerFactory(phone="+8613800138000", email=None)

    with django_capture_on_commit_callbacks(execute=True):
        services.notify(user=user, kind="support.answered", params={"text": "提醒"}, email_too=False)

    assert [message["to"] for message in sms.outbox] == ["+8613800138000"]


@pytest.fixture
def queued_sends(settings, monkeypatch, redis_cache):
    """Messages handed to the queue with the "send task waiting" mark in the test Redis;
    the tasks queued are recorded instead of published (no worker here)."""
    from accounts import tasks

    settings.OUTBOX_SEND_VIA_QUEUE = True
    settings.OUTBOX_SEND_TASK_QUEUED_SECONDS = 30
    queued = []
    monkeypatch.setattr(tasks.send_messages, "delay", lambda *args: queued.append(args))
    return queued


def commit_a_message(capture, user, subject):
    from accounts import services

    with capture(execute=True):
        services.notify(user=user, kind="support.answered", params={"text": subject}, email_too=False)


def test_messages_committed_while_a_send_task_waits_ride_on_that_task(queued_sends, django_capture_on_commit_callbacks):
    from accounts import sms, tasks
    from tests.factories import CustomerFactory

    users = [CustomerFactory(phone=f"+861380013800{n}", email=None) for n in range(3)]
    for n, user in enumerate(users):
        commit_a_message(django_capture_on_commit_callbacks, user, f"第{n}条")
    assert queued_sends == [()]  # one task for three commits
    assert sms.outbox == []

    # The worker runs it: the mark is cleared first, then everything pending is sent.
    assert tasks.send_messages() == {"sent": 3, "failed": 0, "gave_up": 0}
    assert sorted(message["to"] for message in sms.outbox) == sorted(user.phone.as_e164 for user in users)

    # A message committed once that task has started queues the next one.
    commit_a_message(django_capture_on_commit_callbacks, users[0], "第3条")
    assert queued_sends == [(), ()]


def test_a_send_task_sends_the_newest_first_and_leaves_a_backlog_to_the_next_task(
    queued_sends, monkeypatch, django_capture_on_commit_callbacks
):
    from accounts import outbox, services, sms, tasks
    from tests.factories import CustomerFactory

    monkeypatch.setattr(outbox, "SEND_TASK_BATCH", 2)
    backlog = [CustomerFactory(phone=f"+861380013801{n}", email=None) for n in range(3)]
    # A batch job's messages wait for dispatch_messages (send_now=False): a backlog.
    services.notify_many(
        [(user, "support.answered", {"text": "到期提醒"}, "/account/") for user in backlog], send_now=False
    )
    code_for = CustomerFactory(phone="+8613800138000", email=None)
    commit_a_message(django_capture_on_commit_callbacks, code_for, "验证码")
    assert queued_sends == [()]

    assert tasks.send_messages() == {"sent": 2, "failed": 0, "gave_up": 0}
    assert sms.outbox[0]["to"] == "+8613800138000"  # the newest first, not behind the backlog
    assert queued_sends == [(), ()]  # a full batch: the next task takes the rest
    assert tasks.send_messages() == {"sent": 2, "failed": 0, "gave_up": 0}
    assert tasks.send_messages() == {"sent": 0, "failed": 0, "gave_up": 0}
    assert len(queued_sends) == 3


def test_when_the_broker_refuses_the_next_commit_tries_again(
    queued_sends, monkeypatch, django_capture_on_commit_callbacks
):
    from accounts import tasks
    from accounts.models import OutboundMessage
    from tests.factories import CustomerFactory

    attempts = []

    def broker_down(*args):
        attempts.append(args)
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.send_messages, "delay", broker_down)
    user = CustomerFactory(phone="+8613800138000", email=None)
    commit_a_message(django_capture_on_commit_callbacks, user, "一")
    commit_a_message(django_capture_on_commit_callbacks, user, "二")

    # No task is waiting after a refused one, so the mark must not hold the next commit back.
    assert len(attempts) == 2
    assert OutboundMessage.objects.filter(status=OutboundMessage.Status.PENDING).count() == 2


def test_while_the_cache_is_down_every_commit_queues_its_own_task(
    queued_sends, settings, django_capture_on_commit_callbacks
):
    from tests.factories import CustomerFactory

    settings.CACHES = {"default": {"BACKEND": REDIS_CACHE, "LOCATION": UNREACHABLE}}
    user = CustomerFactory(phone="+8613800138000", email=None)
    commit_a_message(django_capture_on_commit_callbacks, user, "一")
    commit_a_message(django_capture_on_commit_callbacks, user, "二")
    assert queued_sends == [(), ()]


def test_redis_url_makes_the_cache_shared_and_the_worker_take_the_messages():
    found = settings_under({"REDIS_URL": "redis://cache.internal:6379/0"})

    assert found["cache"] == "django_redis.cache.RedisCache"
    assert (found["broker"], found["via_queue"]) == ("redis://cache.internal:6379/0", True)
    assert found["send_task_queued"] == 30  # one waiting send task at a time, marked in Redis
    assert found["beat"] == BEAT_TASKS


def test_a_separate_broker_and_in_process_sending_can_be_chosen():
    found = settings_under({"CELERY_BROKER_URL": "redis://queue.internal:6379/1", "OUTBOX_SEND_VIA_QUEUE": "false"})

    assert (found["broker"], found["via_queue"]) == ("redis://queue.internal:6379/1", False)


def test_every_scheduled_task_is_registered_with_the_worker():
    from heyon_site.celery import app

    app.loader.import_default_modules()
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert sorted(entry["task"] for entry in schedule.values()) == BEAT_TASKS
    assert all(entry["task"] in app.tasks for entry in schedule.values())
    assert {name: entry["schedule"] for name, entry in schedule.items()} == {
        "dispatch-messages": 60.0,
        "poll-sms-receipts": 300.0,
        "run-autorenew": 3600.0,
        "expire-lines": 3600.0,
        "settle-payments": 300.0,
        "reconcile-payments": crontab(hour=11, minute=0),
        "release-expired-claims": 300.0,
        "purge-submission-drafts": 3600.0,
        "purge-personal-data": 86400.0,
        "refresh-dashboard": 300.0,
        "run-machine-checks": 300.0,
        "purge-api-records": 3600.0,
        "maintain-usage-partitions": 86400.0,
    }


# Sessions and the account centre in Redis ------------------------------------------------

SESSION_PASSWORD = "correct-horse-battery-2"


def signed_in_customer(client):
    from tests.billing.conftest import verified_customer

    user, line = verified_customer()
    user.set_password(SESSION_PASSWORD)
    user.save()
    client.cookies["django_language"] = "en"
    response = client.post("/accounts/login/", {"username": user.phone.as_e164, "password": SESSION_PASSWORD})
    assert response.status_code == 302
    return user, line


def test_with_redis_a_signed_in_page_reads_its_session_and_page_from_redis(client, settings, redis_cache):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.SESSION_ENGINE = "heyon_site.sessions"
    _user, line = signed_in_customer(client)
    first = client.get("/account/")

    with CaptureQueriesContext(connection) as queries:
        second = client.get("/account/")

    # No session query: the user, and the digest of what the page shows.
    assert len(queries) == 2, [query["sql"] for query in queries]
    assert second.content == first.content
    assert line.msisdn.as_national in second.content.decode()


def test_while_redis_is_down_customers_sign_in_see_their_account_and_sign_out(client, settings):
    settings.CACHES = {"default": {"BACKEND": REDIS_CACHE, "LOCATION": UNREACHABLE}}
    settings.SESSION_ENGINE = "heyon_site.sessions"
    _user, line = signed_in_customer(client)

    for _visit in range(2):
        response = client.get("/account/")
        assert response.status_code == 200
        assert line.msisdn.as_national in response.content.decode()
    assert client.post("/accounts/logout/").status_code == 302

    assert client.get("/account/").status_code == 302  # signed out: back to the login page
