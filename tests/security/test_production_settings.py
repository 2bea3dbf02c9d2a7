"""The production settings, loaded for real in a subprocess: what they refuse and what they answer.

- The sandbox provider (any made-up card pays) makes production refuse to start: a system
  check error, unless HEYON_ALLOW_SANDBOX_IN_PRODUCTION=true (benchmarks, rehearsals),
  and even then its signing secret must be its own (not the development one, not SECRET_KEY).
- An SMS backend that reaches no handset (console, file, locmem) makes production refuse to
  start, unless HEYON_ALLOW_TEXT_SMS_IN_PRODUCTION=true (benchmarks, rehearsals).
- /healthz answers a load balancer's plain-HTTP check; every other page still goes to HTTPS.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks

ROOT = Path(__file__).resolve().parents[2]
STRONG_SECRET = "sandbox-signing-" + "s" * 40

PROBE = """
import json
import django
django.setup()
from django.core.checks import run_checks
from django.test import Client
from django.test.utils import setup_test_environment

setup_test_environment()
errors = [message.id for message in run_checks(include_deployment_checks=True) if message.is_serious()]
client = Client()
answers = {path: client.get(path).status_code for path in ("/healthz", "/service-points/")}
secure = {path: client.get(path, secure=True).status_code for path in ("/healthz",)}
print("PROBE=" + json.dumps({"errors": errors, "http": answers, "https": secure}))
"""


def probe(tmp_path, **environment) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "AWS_", "PAYMENT_"))}
    env.pop("HEYON_ALLOW_SANDBOX_IN_PRODUCTION", None)
    env.pop("HEYON_ALLOW_TEXT_SMS_IN_PRODUCTION", None)
    env.pop("SMS_BACKEND", None)
    env.update(
        DJANGO_SETTINGS_MODULE="heyon_site.settings.production",
        SECRET_KEY="production-check-" + "x" * 50,
        BLIND_INDEX_KEY="production-check-blind-index-key",
        FIELD_ENCRYPTION_KEYS="MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        ALLOWED_HOSTS="testserver,heyon.example",
        DATABASE_URL=f"sqlite:///{tmp_path / 'probe.sqlite3'}",
        MEDIA_ROOT=str(tmp_path / "media"),
        REDIS_URL="",
        **environment,
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("PROBE="))
    return json.loads(line.removeprefix("PROBE="))


def billing_errors(found: dict) -> list[str]:
    return sorted(error for error in found["errors"] if error.startswith("billing."))


def test_production_with_the_sandbox_refuses_to_start(tmp_path):
    found = probe(tmp_path)
    assert billing_errors(found) == ["billing.E001", "billing.E002"]


def test_the_sandbox_allowed_in_production_still_needs_a_secret_of_its_own(tmp_path):
    found = probe(
        tmp_path,
        HEYON_ALLOW_SANDBOX_IN_PRODUCTION="true",
        PAYMENT_SANDBOX_SECRET="development-only-sandbox-signing-secret",
    )
    assert billing_errors(found) == ["billing.E003"]


def test_production_refuses_an_sms_backend_that_reaches_no_handset(tmp_path):
    found = probe(tmp_path, HEYON_ALLOW_SANDBOX_IN_PRODUCTION="true", PAYMENT_SANDBOX_SECRET=STRONG_SECRET)
    assert found["errors"] == ["accounts.E001"]

    allowed = probe(
        tmp_path,
        HEYON_ALLOW_SANDBOX_IN_PRODUCTION="true",
        PAYMENT_SANDBOX_SECRET=STRONG_SECRET,
        SMS_BACKEND="aliyun",
        ALIYUN_SMS_ACCESS_KEY_ID="LTAI-key",
        ALIYUN_SMS_ACCESS_KEY_SECRET="secret",
    )
    assert allowed["errors"] == []


def test_the_sandbox_allowed_in_production_with_its_own_secret_passes_and_healthz_answers_plain_http(tmp_path):
    found = probe(
        tmp_path,
        HEYON_ALLOW_SANDBOX_IN_PRODUCTION="true",
        PAYMENT_SANDBOX_SECRET=STRONG_SECRET,
        HEYON_ALLOW_TEXT_SMS_IN_PRODUCTION="true",
    )

    assert found["errors"] == []
    assert found["http"]["/healthz"] == 200  # the load balancer's check, not a redirect to HTTPS
    assert found["https"]["/healthz"] == 200
    assert found["http"]["/service-points/"] == 301  # everything else still goes to HTTPS


def test_the_manage_command_refuses_to_run_check_deploy_with_the_sandbox(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "AWS_", "PAYMENT_"))}
    env.pop("HEYON_ALLOW_SANDBOX_IN_PRODUCTION", None)
    env.update(
        DJANGO_SETTINGS_MODULE="heyon_site.settings.production",
        SECRET_KEY="production-check-" + "x" * 50,
        BLIND_INDEX_KEY="production-check-blind-index-key",
        FIELD_ENCRYPTION_KEYS="MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        ALLOWED_HOSTS="heyon.example",
        DATABASE_URL=f"sqlite:///{tmp_path / 'probe.sqlite3'}",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "billing.E001" in result.stderr


# The same checks in this process, setting by setting ------------------------------------------


def ids(*, deploy=False) -> list[str]:
    return sorted(m.id for m in run_checks(include_deployment_checks=deploy) if m.id.startswith("billing."))


def test_the_test_settings_allow_the_sandbox_with_the_development_secret():
    assert ids() == []


def test_the_sandbox_not_allowed_is_an_error(settings):
    settings.PAYMENT_SANDBOX_ALLOWED = False
    assert ids() == ["billing.E001"]


def test_a_real_provider_for_every_method_needs_no_permission(settings):
    settings.PAYMENT_SANDBOX_ALLOWED = False
    settings.PAYMENT_SANDBOX_SECRET = ""
    settings.PAYMENT_GATEWAYS = {"real": "billing.gateways.base.PaymentGateway"}
    settings.PAYMENT_METHOD_GATEWAYS = {"alipay": "real", "wechat": "real", "card": "real"}
    assert ids(deploy=True) == []


@pytest.mark.parametrize("secret", ["development-only-sandbox-signing-secret", "SECRET_KEY", "short-secret"])
def test_a_weak_sandbox_secret_fails_the_deploy_check(settings, secret):
    settings.PAYMENT_SANDBOX_SECRET = settings.SECRET_KEY if secret == "SECRET_KEY" else secret
    assert ids() == []
    assert ids(deploy=True) == ["billing.E003"]


# Real providers ---------------------------------------------------------------------------------


@pytest.fixture
def live_providers(settings, tmp_path):
    """Alipay and WeChat Pay configured as production would be (keys in files), card not offered."""
    for name in ("alipay-app.pem", "alipay-public.pem", "wechat.pem"):
        (tmp_path / name).write_text("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n")
    settings.PAYMENT_SANDBOX_ALLOWED = False
    settings.PAYMENT_SANDBOX_SECRET = ""
    settings.PAYMENT_METHOD_GATEWAYS = {"alipay": "alipay", "wechat": "wechat"}
    settings.PAYMENT_CALLBACK_BASE_URL = "https://heyon.example"
    settings.ALIPAY_APP_ID = "2021000000000001"
    settings.ALIPAY_APP_PRIVATE_KEY_FILE = str(tmp_path / "alipay-app.pem")
    settings.ALIPAY_PUBLIC_KEY_FILE = str(tmp_path / "alipay-public.pem")
    settings.WECHATPAY_MCH_ID = "1900000109"
    settings.WECHATPAY_APP_ID = "wxd678efh567hg6787"
    settings.WECHATPAY_PRIVATE_KEY_FILE = str(tmp_path / "wechat.pem")
    settings.WECHATPAY_CERT_SERIAL_NO = "444F4864EA9B34415"
    settings.WECHATPAY_APIV3_KEY = "a" * 32
    settings.WECHATPAY_PLATFORM_CERT_DIR = str(tmp_path)
    return settings


def test_alipay_and_wechat_pay_fully_configured_pass_every_check(live_providers):
    assert ids(deploy=True) == []


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("ALIPAY_APP_ID", ""),
        ("ALIPAY_APP_PRIVATE_KEY_FILE", "/nonexistent/key.pem"),
        ("WECHATPAY_APIV3_KEY", "too-short"),
        ("WECHATPAY_PLATFORM_CERT_DIR", ""),
        ("PAYMENT_CALLBACK_BASE_URL", ""),
    ],
)
def test_a_real_provider_missing_a_setting_or_key_refuses_to_start(live_providers, setting, value):
    setattr(live_providers, setting, value)
    assert "billing.E005" in ids()


def test_a_method_sent_to_an_unnamed_gateway_is_an_error(live_providers):
    live_providers.PAYMENT_METHOD_GATEWAYS = {"alipay": "alipay", "card": "acquirer"}
    assert ids() == ["billing.E004"]


@pytest.mark.parametrize("setting", ["ALIPAY_GATEWAY_URL", "WECHATPAY_API_BASE_URL", "PAYMENT_CALLBACK_BASE_URL"])
def test_a_plain_http_provider_or_callback_address_fails_the_deploy_check(live_providers, setting):
    setattr(live_providers, setting, "http://127.0.0.1:9999")
    assert ids() == []
    assert ids(deploy=True) == ["billing.E006"]


def test_the_sandbox_for_cards_beside_real_providers_is_still_refused(live_providers):
    live_providers.PAYMENT_METHOD_GATEWAYS = {"alipay": "alipay", "wechat": "wechat", "card": "sandbox"}
    assert "billing.E001" in ids()
