"""Real Chromium (Debian's package) driven by Playwright against pytest-django's live server.

A missing browser is a failure, never a skip: `make test` installs it.
"""

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the tests still call the ORM
# synchronously between browser steps, which is safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
CHROMIUM = os.environ.get("HEYON_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
PHONE_VIEWPORT = {"width": 390, "height": 844}


def screenshot(page, name: str) -> Path:
    """Save the whole page as var/screenshots/<name>.png, for a person to look through after `make test`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: run `make test` (it installs Debian's chromium).")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    serialized = {alias: getattr(connections[alias], "_test_serialized_contents", None) for alias in connections}
    with sync_playwright() as playwright:
        # Playwright's sync API carries on in a greenlet with its own context, so Django's
        # connections (context-local) are fresh objects there: without the database contents
        # serialized at setup, serialized_rollback would silently restore nothing and every
        # test after the first flush would find no roles or reason codes.
        for alias, contents in serialized.items():
            if contents is not None and not hasattr(connections[alias], "_test_serialized_contents"):
                connections[alias]._test_serialized_contents = contents
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport=PHONE_VIEWPORT, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def new_page(browser, live_server):
    """Open a page in a browser context of its own: ``new_page({"width": 1280, "height": 900})``.

    Every context is closed when the test ends, so that no keep-alive connection outlives
    the test on the live server (its request threads would then close a database
    connection that the next test no longer shares with them).
    """
    contexts = []

    def open_page(viewport=None, *, timeout=15_000):
        context = browser.new_context(viewport=viewport or PHONE_VIEWPORT, base_url=live_server.url)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(timeout)
        return page

    yield open_page
    for context in contexts:
        context.close()
