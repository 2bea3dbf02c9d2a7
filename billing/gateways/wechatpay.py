"""WeChat Pay API v3 through wechatpayv3: H5 (phone browsers) and Native (a QR code on the web).

Every request is signed with the merchant's API certificate key; every answer and callback
is verified against WeChat Pay's platform certificate, which the SDK downloads (AES-GCM
encrypted with the APIv3 key) into WECHATPAY_PLATFORM_CERT_DIR and refreshes when a new
serial number appears. Callback resources are AES-256-GCM encrypted with the APIv3 key.
Amounts travel in fen (integers).
"""

import csv
import gzip
import json
import logging
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.core import Core

from .base import GatewayResult, InvalidNotification, PaymentGateway, ProviderEvent, RefundResult, StatementLine
from .secrets import callback_url, from_env_or_file, from_file, missing, origin_of

logger = logging.getLogger(__name__)

CURRENCY = "CNY"
APIV3_KEY_BYTES = 32  # AES-256-GCM
TRADE_STATE = {
    "SUCCESS": "succeeded",
    "REFUND": "succeeded",  # paid, then (partly) refunded: the payment itself went through
    "CLOSED": "failed",
    "REVOKED": "failed",
    "PAYERROR": "failed",
    "NOTPAY": "pending",
    "USERPAYING": "pending",
}
REFUND_STATUS = {"SUCCESS": "succeeded", "PROCESSING": "pending", "CLOSED": "failed", "ABNORMAL": "failed"}


CERTIFICATE_REFRESH_KEY = "wechatpay:certificate-refresh"
CERTIFICATE_REFRESH_SECONDS = 300


def _known_certificate(serial: str) -> bool:
    """Whether a platform certificate of this serial is kept (the SDK saves each as <serial>.pem)."""
    directory = settings.WECHATPAY_PLATFORM_CERT_DIR
    return bool(serial) and serial.isalnum() and bool(directory) and (Path(directory) / f"{serial}.pem").is_file()


def to_fen(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def from_fen(fen) -> Decimal:
    return (Decimal(int(fen)) / 100).quantize(Decimal("0.01"))


class _Core(Core):
    """The SDK's core with its API host taken from the settings (it hard-codes WeChat Pay's)."""

    @property
    def _gate_way(self):
        return settings.WECHATPAY_API_BASE_URL.rstrip("/")

    @_gate_way.setter
    def _gate_way(self, value):
        pass  # the SDK sets its own host in __init__; ours comes from the settings


class _Client(WeChatPay):
    def __init__(self, wechatpay_type):
        # As WeChatPay.__init__, with _Core: the certificate download at start-up must already
        # go to the configured host.
        self._type = wechatpay_type
        self._mchid = settings.WECHATPAY_MCH_ID
        self._appid = settings.WECHATPAY_APP_ID
        self._notify_url = callback_url(reverse("billing:webhook", args=["wechat"]))
        self._partner_mode = False
        self._core = _Core(
            mchid=settings.WECHATPAY_MCH_ID,
            cert_serial_no=settings.WECHATPAY_CERT_SERIAL_NO,
            private_key=from_file("WECHATPAY_PRIVATE_KEY_FILE"),
            apiv3_key=from_env_or_file("WECHATPAY_APIV3_KEY"),
            cert_dir=settings.WECHATPAY_PLATFORM_CERT_DIR or None,
            logger=None,
            timeout=(5, settings.WECHATPAY_TIMEOUT_SECONDS),
        )


class WeChatPayError(Exception):
    pass


class WeChatPayGateway(PaymentGateway):
    name = "wechat"
    address_settings = ("WECHATPAY_API_BASE_URL", "PAYMENT_CALLBACK_BASE_URL")

    @classmethod
    def configuration_problems(cls):
        problems = missing("WECHATPAY_MCH_ID", "WECHATPAY_APP_ID", "WECHATPAY_PRIVATE_KEY_FILE",
                           "WECHATPAY_CERT_SERIAL_NO", "WECHATPAY_PLATFORM_CERT_DIR", "WECHATPAY_API_BASE_URL",
                           "PAYMENT_CALLBACK_BASE_URL")  # fmt: skip
        if not settings.WECHATPAY_APIV3_KEY:
            problems += missing("WECHATPAY_APIV3_KEY_FILE")
        if not problems and len(from_env_or_file("WECHATPAY_APIV3_KEY").encode()) != APIV3_KEY_BYTES:
            problems.append(f"the APIv3 key is not {APIV3_KEY_BYTES} bytes long")
        return problems

    @classmethod
    def cashier_origins(cls):
        # The H5 cashier (wx.tenpay.com); a test's fake serves it from the API host.
        return ["https://wx.tenpay.com", origin_of(settings.WECHATPAY_API_BASE_URL)]

    def _client(self, wechatpay_type=WeChatPayType.NATIVE) -> WeChatPay:
        return _Client(wechatpay_type)

    @staticmethod
    def _answer(code: int, message) -> dict:
        try:
            return json.loads(message) if message else {}
        except (TypeError, ValueError):
            return {}

    def create(self, *, out_trade_no, amount, method, description, card, return_url, device="web", expires_at=None,
               client_ip=""):  # fmt: skip
        phone = device == "phone"
        extra = {}
        if expires_at is not None:
            extra["time_expire"] = expires_at.isoformat(timespec="seconds")
        if phone:
            extra["scene_info"] = {"payer_client_ip": client_ip or "127.0.0.1", "h5_info": {"type": "Wap"}}
        client = self._client(WeChatPayType.H5 if phone else WeChatPayType.NATIVE)
        code, message = client.pay(
            description=description[:127],
            out_trade_no=out_trade_no,
            amount={"total": to_fen(amount), "currency": CURRENCY},
            **extra,
        )
        answer = self._answer(code, message)
        if code not in (200, 204):
            return GatewayResult(status="failed", failure_reason=answer.get("code", f"http_{code}"))
        if phone:
            # After paying, WeChat sends the customer to the H5 page's redirect_url.
            redirect = answer["h5_url"] + "&redirect_url=" + quote(callback_url(return_url), safe="")
            return GatewayResult(status="pending", redirect_url=redirect)
        return GatewayResult(
            status="pending",
            redirect_url=reverse("billing:wechat_qr", args=[out_trade_no]) + "?code_url=" + quote(answer["code_url"]),
        )

    def verify_notification(self, *, headers, body):
        headers = {key.lower(): value for key, value in headers.items()}
        try:
            timestamp = int(headers.get("wechatpay-timestamp", ""))
        except ValueError as error:
            raise InvalidNotification("missing timestamp") from error
        if abs(time.time() - timestamp) > settings.PAYMENT_NOTIFICATION_MAX_AGE_SECONDS:
            raise InvalidNotification("stale notification")
        serial = headers.get("wechatpay-serial", "").upper()
        if not _known_certificate(serial) and not cache.add(CERTIFICATE_REFRESH_KEY, 1, CERTIFICATE_REFRESH_SECONDS):
            # An unknown serial makes the SDK download the certificates again: once in a while,
            # not for every forged callback.
            raise InvalidNotification("unknown platform certificate")
        try:
            data = self._client().callback(headers, body)
        except Exception as error:  # the SDK raises bare Exceptions for unsupported algorithms
            raise InvalidNotification(f"unverifiable: {error}") from error
        if not data:
            raise InvalidNotification("bad signature or undecryptable resource")
        resource = data.get("resource") or {}
        try:
            if data.get("event_type", "").startswith("REFUND."):
                return ProviderEvent(
                    event_id=data["id"][:64],
                    kind="refund",
                    out_trade_no=resource["out_trade_no"],
                    out_refund_no=resource["out_refund_no"],
                    status=REFUND_STATUS.get(resource["refund_status"], "pending"),
                    transaction_id=resource.get("refund_id", ""),
                    amount=from_fen(resource["amount"]["refund"]),
                    currency=CURRENCY,
                    payload=data,
                )
            if resource.get("mchid") != settings.WECHATPAY_MCH_ID:
                raise InvalidNotification("for another merchant")
            return ProviderEvent(
                event_id=data["id"][:64],
                out_trade_no=resource["out_trade_no"],
                status=TRADE_STATE.get(resource["trade_state"], "pending"),
                transaction_id=resource.get("transaction_id", ""),
                amount=from_fen(resource["amount"]["total"]),
                currency=resource["amount"].get("currency", CURRENCY),
                payload=data,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidNotification("malformed resource") from error

    def query(self, *, out_trade_no):
        code, message = self._client().query(out_trade_no=out_trade_no)
        answer = self._answer(code, message)
        if code == 404 or answer.get("code") == "ORDER_NOT_EXIST":
            # Nothing was created there (a create that never arrived): nobody can pay it.
            return GatewayResult(status="failed", failure_reason="not_found")
        if code != 200:
            return GatewayResult(status="unknown", failure_reason=answer.get("code", f"http_{code}"))
        status = TRADE_STATE.get(answer.get("trade_state", ""), "unknown")
        amount = answer.get("amount") or {}
        return GatewayResult(
            status=status,
            transaction_id=answer.get("transaction_id", ""),
            failure_reason="closed" if status == "failed" else "",
            amount=from_fen(amount["total"]) if "total" in amount else None,
            currency=amount.get("currency", CURRENCY),
        )

    def refund(self, *, out_trade_no, amount, out_refund_no="", total=None):
        code, message = self._client().refund(
            out_refund_no=out_refund_no,
            out_trade_no=out_trade_no,
            amount={
                "refund": to_fen(amount),
                "total": to_fen(total if total is not None else amount),
                "currency": CURRENCY,
            },
        )
        return self._refund_result(code, message)

    def refund_query(self, *, out_trade_no, out_refund_no):
        code, message = self._client().query_refund(out_refund_no=out_refund_no)
        return self._refund_result(code, message)

    def _refund_result(self, code, message) -> RefundResult:
        answer = self._answer(code, message)
        if code == 404 or answer.get("code") == "RESOURCE_NOT_EXISTS":
            return RefundResult(status="not_found")
        if code >= 500 or answer.get("code") in ("SYSTEM_ERROR", "FREQUENCY_LIMITED"):
            return RefundResult(status="unknown", failure_reason=answer.get("code", f"http_{code}"))
        if code != 200:
            return RefundResult(status="failed", failure_reason=answer.get("code", f"http_{code}"))
        refunded = (answer.get("amount") or {}).get("refund")
        return RefundResult(
            status=REFUND_STATUS.get(answer.get("status", ""), "pending"),
            provider_refund_id=answer.get("refund_id", ""),
            amount=from_fen(refunded) if refunded is not None else None,
        )

    def close(self, *, out_trade_no):
        code, _message = self._client().close(out_trade_no=out_trade_no)
        return code in (200, 204)

    def parse_statement(self, content):
        return parse_statement(content)

    def statement(self, *, day):
        client = self._client()
        code, message = client.trade_bill(bill_date=day.isoformat(), tar_type="GZIP")
        answer = self._answer(code, message)
        if code != 200:
            raise WeChatPayError(f"WeChat Pay statement for {day}: {answer.get('code') or code}")
        code, content = client.download_bill(answer["download_url"])
        if code != 200:
            raise WeChatPayError(f"WeChat Pay statement download for {day}: HTTP {code}")
        return parse_statement(content if isinstance(content, bytes) else content.encode("latin-1"))


def parse_statement(content: bytes) -> list[StatementLine]:
    """WeChat Pay's trade bill (ALL), gzipped or not: a CSV whose values start with a backquote, then a summary."""
    if content[:2] == b"\x1f\x8b":
        content = gzip.decompress(content)
    text = content.decode("utf-8-sig")
    rows = []
    for line in text.splitlines():
        if line.startswith("总交易单数"):
            break  # the summary block follows the details
        if line.strip():
            rows.append(line)
    lines = []
    for row in csv.DictReader(rows):
        row = {key.strip(): (value or "").strip().lstrip("`") for key, value in row.items() if key}
        refund_no = row.get("商户退款单号", "")
        if row.get("交易状态") == "REFUND" and refund_no:
            lines.append(
                StatementLine(
                    kind="refund",
                    out_trade_no=row["商户订单号"],
                    transaction_id=row["微信订单号"],
                    amount=-Decimal(row["退款金额"]),
                    out_refund_no=refund_no,
                )
            )
        else:
            lines.append(
                StatementLine(
                    kind="payment",
                    out_trade_no=row["商户订单号"],
                    transaction_id=row["微信订单号"],
                    amount=Decimal(row["订单金额"]),
                )
            )
    return lines
