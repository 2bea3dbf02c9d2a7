import re
import time
import types

import django_ratelimit.core
import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.utils import translation

from accounts import sms
from tests.billing.fake_providers.fixtures import alipay_fake, fake_providers, wechat_fake  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def _clean_outboxes():
    sms.outbox.clear()
    mail.outbox = []
    yield
    sms.outbox.clear()


@pytest.fixture(autouse=True)
def _default_language():
    # A request the test client made in English leaves English active in this thread (the
    # locale middleware activates, nothing deactivates): the next test starts from the default.
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _empty_cache():
    # The cache outlives the test's database rows; a page or a count cached by one test
    # must not be read by the next one, whose rows may reuse the same ids.
    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _rate_limit_window_held(monkeypatch):
    # django-ratelimit's one-minute windows end at a moment of the minute that depends on
    # the key: a test's few counted requests must not straddle that moment.
    held = time.time()
    monkeypatch.setattr(django_ratelimit.core, "time", types.SimpleNamespace(time=lambda: held))


@pytest.fixture
def sms_outbox():
    """Messages sent by the locmem SMS backend during the test."""
    return sms.outbox


def last_code_sent_to(number: str) -> str:
    """Return the 6-digit code from the newest SMS to this E.164 number."""
    for message in reversed(sms.outbox):
        if message["to"] == number:
            match = re.search(r"\b(\d{6})\b", message["text"])
            if match:
                return match.group(1)
    raise AssertionError(f"No code was texted to {number}; outbox: {sms.outbox}")


@pytest.fixture
def code_for():
    return last_code_sent_to


@pytest.fixture(autouse=True)
def _seeded_rows_present(request):
    """Fail clearly when a test in a transaction finds the rows the migrations seed gone.

    A transactional test (live server, races, worker) ends by flushing the test database,
    seeded roles and plans included; pytest-django therefore runs them after the others,
    and only xdist's ``--dist load`` keeps that order in every worker (``loadfile`` and
    ``worksteal`` can hand a worker an ordinary test after a transactional one).
    """
    if request.node.get_closest_marker("django_db") is None:
        yield
        return
    request.getfixturevalue("_django_db_helper")
    if connection.in_atomic_block and not Group.objects.exists():
        pytest.fail(
            "The test database has lost the rows its migrations seed: a transactional test flushed it "
            "before this one ran. Run the tests in pytest-django's order (pytest-xdist: --dist load).",
            pytrace=False,
        )
    yield


@pytest.fixture(autouse=True)
def _axes_reset(settings):
    # django-axes keeps failures in the database (rolled back per test) and in no cache.
    settings.AXES_ENABLED = True
    yield
