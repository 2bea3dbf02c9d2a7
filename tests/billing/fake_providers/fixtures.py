"""Fixtures that start the fakes and point the settings (and so the real SDKs) at them.

``alipay_fake`` and ``wechat_fake`` switch the alipay / wechat payment methods to the real
gateways. Notifications go back to the app through the Django test client (in the test's
thread and transaction) unless a test sets ``fake.deliver`` to post over HTTP (the browser
journeys, against the live server).
"""

import urllib.request

import pytest
from django.test import Client

from .alipay import FakeAlipay
from .crypto import key_pair
from .server import FakeProviderServer
from .wechatpay import FakeWeChatPay

ALIPAY_APP_ID = "2021000000000001"
WECHAT_MCH_ID = "1900000109"
WECHAT_APP_ID = "wxd678efh567hg6787"
MERCHANT_SERIAL = "444F4864EA9B34415F7B8E0B4E7A3C8F31E2A1B0"
APIV3_KEY = "a12d3924fd499edac8a5efc0123456ab"  # 32 bytes: AES-256


@pytest.fixture(scope="session")
def fake_providers(tmp_path_factory):
    keys = tmp_path_factory.mktemp("provider-keys")
    alipay = FakeAlipay(app_id=ALIPAY_APP_ID, app_keys=key_pair("alipay-app"), alipay_keys=key_pair("alipay"))
    wechat = FakeWeChatPay(
        mchid=WECHAT_MCH_ID,
        appid=WECHAT_APP_ID,
        merchant_keys=key_pair("wechat-merchant"),
        merchant_serial=MERCHANT_SERIAL,
        platform_keys=key_pair("wechat-platform"),
        apiv3_key=APIV3_KEY,
    )
    (keys / "alipay-app.pem").write_text(alipay.app_keys.private_pem())
    (keys / "alipay-public.pem").write_text(alipay.alipay_keys.public_pem())
    (keys / "wechat-merchant.pem").write_text(wechat.merchant_keys.private_pem())
    (keys / "apiv3.key").write_text(APIV3_KEY)
    server = FakeProviderServer(alipay=alipay, wechat=wechat).start()
    server.keys = keys
    server.cert_dir = tmp_path_factory.mktemp("wechatpay-platform-certs")
    yield server
    server.stop()


def _post_with_client(path_of):
    client = Client()

    def deliver(url, *args):
        if len(args) == 1:  # Alipay: a form
            return client.post(path_of(url), data=args[0], content_type="application/x-www-form-urlencoded")
        headers, body = args
        return client.post(path_of(url), data=body, content_type="application/json", headers=headers)

    return deliver


def post_over_http(url, *args):
    """Deliver a notification to a running server (the live server of the browser tests)."""
    if len(args) == 1:
        request = urllib.request.Request(  # noqa: S310 - the app's own callback URL, on loopback
            url, data=args[0], headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
    else:
        headers, body = args
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _strip_base(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.fixture
def alipay_fake(fake_providers, settings):
    fake = fake_providers.alipay
    fake.reset()
    settings.PAYMENT_METHOD_GATEWAYS = {**settings.PAYMENT_METHOD_GATEWAYS, "alipay": "alipay"}
    settings.PAYMENT_CALLBACK_BASE_URL = "http://testserver"
    settings.ALIPAY_APP_ID = ALIPAY_APP_ID
    settings.ALIPAY_APP_PRIVATE_KEY_FILE = str(fake_providers.keys / "alipay-app.pem")
    settings.ALIPAY_PUBLIC_KEY_FILE = str(fake_providers.keys / "alipay-public.pem")
    settings.ALIPAY_GATEWAY_URL = fake.base_url + "/gateway.do"
    settings.ALIPAY_TIMEOUT_SECONDS = 5
    fake.deliver = _post_with_client(_strip_base)
    yield fake
    fake.deliver = None


@pytest.fixture
def wechat_fake(fake_providers, settings):
    fake = fake_providers.wechat
    fake.reset()
    settings.PAYMENT_METHOD_GATEWAYS = {**settings.PAYMENT_METHOD_GATEWAYS, "wechat": "wechat"}
    settings.PAYMENT_CALLBACK_BASE_URL = "http://testserver"
    settings.WECHATPAY_MCH_ID = WECHAT_MCH_ID
    settings.WECHATPAY_APP_ID = WECHAT_APP_ID
    settings.WECHATPAY_PRIVATE_KEY_FILE = str(fake_providers.keys / "wechat-merchant.pem")
    settings.WECHATPAY_CERT_SERIAL_NO = MERCHANT_SERIAL
    settings.WECHATPAY_APIV3_KEY = ""
    settings.WECHATPAY_APIV3_KEY_FILE = str(fake_providers.keys / "apiv3.key")
    settings.WECHATPAY_PLATFORM_CERT_DIR = str(fake_providers.cert_dir)
    settings.WECHATPAY_API_BASE_URL = fake.base_url
    settings.WECHATPAY_TIMEOUT_SECONDS = 5
    fake.deliver = _post_with_client(_strip_base)
    yield fake
    fake.deliver = None
