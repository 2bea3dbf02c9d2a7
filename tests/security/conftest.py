import functools

import pytest
from django.core.cache import cache


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """Context manager running the block's on-commit callbacks (sends the queued SMS and email)."""
    return functools.partial(django_capture_on_commit_callbacks, execute=True)


@pytest.fixture(autouse=True)
def _empty_cache():
    # Rate limits count in the cache; locmem outlives a test.
    cache.clear()
    yield
    cache.clear()
