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


# axe-core, run in the page by axe-playwright-python. A serious or critical violation fails
# the journey that meets it, with the rule, the page and the elements named.
BLOCKING_IMPACTS = {"serious", "critical"}
_axe = None


def serious_violations(page, where: str = "") -> list[str]:
    """axe-core's serious and critical violations of the page as it is now, one line each."""
    global _axe
    if _axe is None:
        from axe_playwright_python.sync_playwright import Axe

        _axe = Axe()
    where = where or page.url
    found = []
    for violation in _axe.run(page).response["violations"]:
        if violation["impact"] in BLOCKING_IMPACTS:
            targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
            found.append(f"{where}: {violation['id']} ({violation['impact']}): {violation['help']} — {targets}")
    return found


def key_screen(page, name: str) -> None:
    """Save the screen for people to look at (``screenshot``), and fail on a serious axe-core violation on it."""
    screenshot(page, name)
    serious = serious_violations(page, name)
    assert not serious, "axe-core found serious violations:\n" + "\n".join(serious)


# Whether the focused element shows it: the product's own :focus-visible outline (heyon.css),
# not Chromium's thin default ring nor a faint box-shadow.
FOCUS_SCRIPT = """
(selector) => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  const visible = element !== document.body && style.outlineStyle !== "none" && style.outlineStyle !== "auto"
    && parseFloat(style.outlineWidth) >= 2;
  return {matches: element.matches(selector), visible, html: element.outerHTML.slice(0, 120)};
}
"""


def tab_to(page, selector: str, *, limit: int = 40, backwards: bool = False) -> None:
    """Press Tab (Shift+Tab ``backwards``) until the focused element matches ``selector``, as a keyboard user would.

    Every control the focus stops at on the way must show that it has the focus.
    """
    key = "Shift+Tab" if backwards else "Tab"
    unseen = []
    for _ in range(limit):
        page.keyboard.press(key)
        focus = page.evaluate(FOCUS_SCRIPT, selector)
        if not focus["visible"] and not focus["html"].startswith("<body"):
            unseen.append(focus["html"])
        if focus["matches"]:
            assert not unseen, f"no visible focus on the way to {selector}:\n" + "\n".join(unseen)
            return
    raise AssertionError(f"{selector} was not reached in {limit} presses of {key}")


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
