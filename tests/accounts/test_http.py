"""Rate limits counted by django-ratelimit in the default cache; the caller decides when it cannot count."""

import pytest
from django.core.cache import caches

from accounts.http import RateLimitUnavailable, client_ip_key, over_rate_limit

pytestmark = pytest.mark.django_db


def count(request, per_minute=2):
    return over_rate_limit(request, group="test", key=client_ip_key, per_minute=per_minute)


def test_requests_past_the_limit_are_over_it_and_each_ip_has_its_own_allowance(rf):
    answers = [count(rf.get("/")) for _ in range(3)]

    assert answers == [False, False, True]
    assert count(rf.get("/", REMOTE_ADDR="203.0.113.9")) is False


def test_behind_the_load_balancer_the_forwarded_client_is_counted_not_the_proxy(rf, settings):
    settings.TRUSTED_PROXY_COUNT = 1

    first = [count(rf.get("/", HTTP_X_FORWARDED_FOR="198.51.100.1")) for _ in range(3)]
    other = count(rf.get("/", HTTP_X_FORWARDED_FOR="198.51.100.2"))

    assert first == [False, False, True]
    assert other is False


def test_when_the_cache_neither_adds_nor_counts_the_caller_is_told(rf, monkeypatch):
    cache = caches["default"]
    monkeypatch.setattr(cache, "add", lambda *args, **kwargs: False)

    def incr(*args, **kwargs):
        raise ValueError("the key is gone")

    monkeypatch.setattr(cache, "incr", incr)

    with pytest.raises(RateLimitUnavailable):
        count(rf.get("/"))


def test_when_the_cache_raises_the_caller_is_told(rf, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("Redis does not answer")

    monkeypatch.setattr(caches["default"], "add", down)

    with pytest.raises(RateLimitUnavailable):
        count(rf.get("/"))


def test_with_rate_limits_switched_off_nothing_is_counted(rf, settings):
    settings.RATELIMIT_ENABLE = False

    assert [count(rf.get("/"), per_minute=1) for _ in range(3)] == [False, False, False]
