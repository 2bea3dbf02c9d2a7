import functools
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.html import escape

STRONG_PASSWORD = "a-long-secret-42"


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """Context manager running the block's on-commit callbacks, i.e. sending its outbox rows.

    The tests run inside a transaction that never commits, so without this nothing
    queued with ``transaction.on_commit`` would ever leave.
    """
    return functools.partial(django_capture_on_commit_callbacks, execute=True)


@pytest.fixture
def travel(monkeypatch):
    """Move ``timezone.now()`` forward by a timedelta (cumulative); return the new now."""
    real_now = timezone.now
    offset = timedelta(0)

    def move(delta: timedelta):
        nonlocal offset
        offset += delta
        monkeypatch.setattr(timezone, "now", lambda: real_now() + offset)
        return timezone.now()

    return move


@pytest.fixture
def english(client, settings):
    """Show pages in English so that assertions can compare English messages."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def page_shows(response, message) -> bool:
    return escape(str(message)) in response.content.decode()
