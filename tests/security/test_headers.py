"""Security headers: the Content Security Policy, and what production sets for cookies and HSTS.

The policy allows scripts and styles only from our own origin (no inline script, no
inline style attribute, no eval); ``test_templates.py`` checks that the templates keep
to it and ``tests/e2e/test_csp.py`` that Chromium reports no violation on real pages.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from reviews import pii
from reviews.models import Submission
from tests.factories import CustomerFactory, make_staff

pytestmark = pytest.mark.django_db

BASE_DIR = Path(settings.BASE_DIR)


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.fixture
def pages(client, submit):
    """(path, client signed in as whom) for the pages a person reads, customer and staff."""
    customer = CustomerFactory()
    submission = submit(customer)
    reviewer = make_staff("reviewer")
    return [
        ("/", None),
        ("/accounts/login/", None),
        ("/accounts/register/", None),
        ("/accounts/password-reset/", None),
        ("/service-points/", None),
        ("/certificates/verify/", None),
        ("/no-such-page/", None),
        ("/admin/login/", None),
        ("/account/", customer),
        ("/verification/", customer),
        ("/billing/renew/", customer),
        ("/notifications/", customer),
        ("/staff/", reviewer),
        ("/staff/reviews/", reviewer),
        (f"/staff/reviews/{submission.pk}/", reviewer),
    ]


@pytest.fixture
def submit():
    from reviews import services
    from tests.reviews.conftest import unique_id_number

    def create(user):
        return services.submission_create(
            user=user,
            full_name="李雷",
            id_number=unique_id_number(),
            contact_phone=user.phone.as_e164,
            photos=None,
            actor=user,
        )

    return create


def test_every_page_sends_a_policy_that_forbids_inline_script_and_style(client, pages):
    for path, user in pages:
        client.logout()
        if user is not None:
            client.force_login(user)
        response = client.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        directives = policy(response)
        assert directives["default-src"] == ["'self'"], path
        assert directives["script-src"] == ["'self'"], path
        assert directives["style-src"] == ["'self'"], path
        assert directives["object-src"] == ["'none'"], path
        assert directives["base-uri"] == ["'none'"], path
        assert directives["frame-ancestors"] == ["'none'"], path
        assert directives["form-action"] == ["'self'"], path
        assert set(directives["img-src"]) == {"'self'", "data:", "blob:"}, path
        assert "'unsafe-inline'" not in response["Content-Security-Policy"], path
        assert "'unsafe-eval'" not in response["Content-Security-Policy"], path
        assert response["X-Frame-Options"] == "DENY", path
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert response["Referrer-Policy"] == "same-origin", path


def test_id_photos_keep_their_own_stricter_policy(client, photo_submission):
    submission, owner = photo_submission
    client.force_login(owner)
    photo = submission.photos.first()

    response = client.get(f"/verification/photos/{photo.pk}/full/")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "default-src 'none'"
    assert response["Cache-Control"] == "private, no-store"


@pytest.fixture
def photo_submission():
    from reviews.demo import submit_demo
    from tests.reviews.conftest import unique_id_number

    owner = CustomerFactory()
    submission = submit_demo(user=owner, full_name="李雷", id_number=unique_id_number(), seed=5)
    assert Submission.objects.filter(pk=submission.pk).exists()
    return submission, owner


PRODUCTION_PROBE = """
import json
import django
from django.conf import settings
from django.core.management import call_command

django.setup()
call_command("check", deploy=True, fail_level="WARNING")
names = [
    "DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_PROXY_SSL_HEADER", "X_FRAME_OPTIONS",
]
values = {name: getattr(settings, name) for name in names}
values["CSP"] = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
print("SETTINGS=" + json.dumps(values))
"""


def test_production_settings_pass_check_deploy_with_secure_cookies_hsts_and_the_policy():
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "AWS_", "DATABASE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="heyon_site.settings.production",
        SECRET_KEY="production-check-" + "x" * 50,
        BLIND_INDEX_KEY="production-check-blind-index-key",
        FIELD_ENCRYPTION_KEYS="MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        ALLOWED_HOSTS="heyon.example",
        # No real payment or SMS provider is configured here: the sandbox and the console SMS
        # backend, allowed as a rehearsal would.
        HEYON_ALLOW_SANDBOX_IN_PRODUCTION="true",
        HEYON_ALLOW_TEXT_SMS_IN_PRODUCTION="true",
        PAYMENT_SANDBOX_SECRET="production-check-sandbox-" + "s" * 40,
    )
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROBE], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("SETTINGS="))
    values = json.loads(line.removeprefix("SETTINGS="))
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 60 * 60 * 24 * 365
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["CSP"]["script-src"] == ["'self'"]


# The header is django-csp's own, built from the settings ------------------------------------


def test_the_header_is_django_csps_policy_from_the_settings_and_follows_a_change(client, settings):
    from csp.utils import build_policy

    assert "csp.middleware.CSPMiddleware" in settings.MIDDLEWARE
    assert client.get("/service-points/")["Content-Security-Policy"] == build_policy()

    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'self'"], "img-src": ["'self'", "data:"]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    response = client.get("/service-points/")

    assert policy(response) == {"default-src": ["'self'"], "img-src": ["'self'", "data:"]}
    assert response["Content-Security-Policy-Report-Only"] == "default-src 'none'"


def test_a_page_shown_to_a_signed_in_person_is_not_kept_by_the_browser_or_any_cache(client, pages, submit):
    """A page carrying personal data (a senior reviewer's screen shows the full ID number) was
    sent with no Cache-Control, so the browser kept it on disk for the next person at the desk."""
    senior = make_staff("senior_reviewer")
    submission = submit(CustomerFactory())
    client.force_login(senior)
    review = client.get(f"/staff/reviews/{submission.pk}/")
    assert pii.decrypt(submission.id_number_encrypted) in review.content.decode()
    assert review["Cache-Control"] == "private, no-store"
    for path, who in pages:
        if who is None:
            continue
        client.force_login(who)
        response = client.get(path)
        assert response.status_code == 200, path
        assert response["Cache-Control"] == "private, no-store", path


def test_a_public_page_for_an_anonymous_visitor_is_left_cacheable(client):
    for path in ("/", "/service-points/"):
        assert "no-store" not in client.get(path).get("Cache-Control", ""), path
