"""Language choice, the page chrome and the health check."""

import re

import pytest
from django.core.files.storage import default_storage

pytestmark = pytest.mark.django_db


def test_pages_are_in_chinese_by_default_even_for_an_english_browser(client):
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")

    assert response.status_code == 200
    assert '<html lang="zh-hans">' in response.content.decode()
    assert response["Content-Language"] == "zh-hans"
    assert "Cookie" in response["Vary"]


def test_choosing_english_switches_the_pages_to_english(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    page = client.get("/accounts/login/")
    assert '<html lang="en">' in page.content.decode()
    assert page["Content-Language"] == "en"
    assert "Sign in with a code by SMS instead" in page.content.decode()


def test_an_unsupported_language_cookie_falls_back_to_chinese(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"

    response = client.get("/accounts/login/")

    assert '<html lang="zh-hans">' in response.content.decode()


def test_every_page_shows_the_support_hotline(client, settings):
    settings.SUPPORT_HOTLINE = "400-820-1234"

    response = client.get("/service-points/")

    assert re.search(r'data-testid="support-hotline"[^>]*>\s*400-820-1234\s*<', response.content.decode())


def test_healthz_reports_database_and_storage_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok", "storage": "ok"}


def test_healthz_is_503_when_storage_fails(client, monkeypatch):
    def unreachable(name):
        raise OSError("bucket unreachable")

    monkeypatch.setattr(default_storage, "exists", unreachable)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "storage": "error"}


def test_a_missing_page_has_a_translated_404_page(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "我们找不到这个页面" in response.content.decode()


def test_a_refused_staff_page_has_a_translated_403_page(client):
    from tests.factories import make_staff

    client.force_login(make_staff("clerk"))
    response = client.get("/staff/reviews/")

    assert response.status_code == 403
    assert "您无权打开此页面" in response.content.decode()
