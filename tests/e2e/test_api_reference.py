"""The app API's reference page works in a real browser under the site's Content Security Policy."""

import pytest

from tests.e2e.test_csp import Watched

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_swagger_ui_lists_the_operations_with_no_csp_violation(browser, live_server):
    watched = Watched(browser, live_server, {"width": 1280, "height": 900})
    try:
        watched.open("/api/v1/docs/")
        watched.page.wait_for_selector("text=/api/v1/account/", timeout=30_000)
        assert watched.page.locator(".opblock").count() >= 40
        assert watched.violations() == []
    finally:
        watched.close()
