"""Alipay (支付宝开放平台) through python-alipay-sdk, signing with RSA2.

The customer pays at Alipay's cashier: ``create`` only signs the cashier URL (no call
goes out, so nothing can be lost there), for the phone (alipay.trade.wap.pay) or the web
(alipay.trade.page.pay), with the order's pay-before time as ``time_expire``. Alipay
calls back with a form signed by Alipay's key; ``query`` asks alipay.trade.query.

A trade Alipay does not know yet ("ACQ.TRADE_NOT_EXIST") is one whose cashier page the
customer has not opened: it is still payable until its ``time_expire``, so it answers
"pending", never "failed"; the settle job closes it once the order's time is over.
"""

import csv
import io
import json
import logging
import urllib.request
import zipfile
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig
from django.conf import settings
from django.urls import reverse

from .base import GatewayResult, InvalidNotification, PaymentGateway, ProviderEvent, RefundResult, StatementLine
from .secrets import callback_url, from_file, missing, origin_of

logger = logging.getLogger(__name__)

SUCCESS = "10000"
CURRENCY = "CNY"  # Alipay's domestic trades are in yuan
ALIPAY_TIME = ZoneInfo("Asia/Shanghai")  # notify_time and time_expire are Beijing time
TRADE_STATUS = {
    "TRADE_SUCCESS": "succeeded",
    "TRADE_FINISHED": "succeeded",
    "TRADE_CLOSED": "failed",
    "WAIT_BUYER_PAY": "pending",
}


class AlipayGateway(PaymentGateway):
    name = "alipay"
    address_settings = ("ALIPAY_GATEWAY_URL", "PAYMENT_CALLBACK_BASE_URL")

    @classmethod
    def configuration_problems(cls):
        return missing("ALIPAY_APP_ID", "ALIPAY_APP_PRIVATE_KEY_FILE", "ALIPAY_PUBLIC_KEY_FILE",
                       "ALIPAY_GATEWAY_URL", "PAYMENT_CALLBACK_BASE_URL")  # fmt: skip

    @classmethod
    def cashier_origins(cls):
        # The gateway, and the cashier hosts it redirects to (mclient.alipay.com, excashier.alipay.com).
        return [origin_of(settings.ALIPAY_GATEWAY_URL), "https://*.alipay.com"]

    def _client(self) -> AliPay:
        client = AliPay(
            appid=settings.ALIPAY_APP_ID,
            app_notify_url=callback_url(reverse("billing:webhook", args=["alipay"])),
            app_private_key_string=from_file("ALIPAY_APP_PRIVATE_KEY_FILE"),
            alipay_public_key_string=from_file("ALIPAY_PUBLIC_KEY_FILE"),
            sign_type="RSA2",
            config=AliPayConfig(timeout=settings.ALIPAY_TIMEOUT_SECONDS),
        )
        # The SDK knows only Alipay's production and sandbox hosts; a deployment (or a test's
        # local fake) names its own.
        client._gateway = settings.ALIPAY_GATEWAY_URL
        return client

    def create(self, *, out_trade_no, amount, method, description, card, return_url, device="web", expires_at=None,
               client_ip=""):  # fmt: skip
        client = self._client()
        sign = client.api_alipay_trade_wap_pay if device == "phone" else client.api_alipay_trade_page_pay
        extra = {}
        if expires_at is not None:
            extra["time_expire"] = expires_at.astimezone(ALIPAY_TIME).strftime("%Y-%m-%d %H:%M:%S")
        query = sign(
            subject=description,
            out_trade_no=out_trade_no,
            total_amount=f"{amount:.2f}",
            return_url=callback_url(return_url),
            **extra,
        )
        return GatewayResult(status="pending", redirect_url=f"{settings.ALIPAY_GATEWAY_URL}?{query}")

    def verify_notification(self, *, headers, body):
        try:
            data = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError) as error:
            raise InvalidNotification("malformed body") from error
        signature = data.pop("sign", "")
        if not signature:
            raise InvalidNotification("no signature")
        signed = dict(data)
        try:
            verified = self._client().verify(signed, signature)
        except (AliPayException, ValueError, TypeError) as error:
            raise InvalidNotification(f"bad signature: {error}") from error
        if not verified:
            raise InvalidNotification("bad signature")
        if data.get("app_id") != settings.ALIPAY_APP_ID:
            raise InvalidNotification("for another app")
        try:
            sent_at = datetime.strptime(data["notify_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=ALIPAY_TIME)
        except (KeyError, ValueError) as error:
            raise InvalidNotification("missing notify_time") from error
        age = datetime.now(tz=ALIPAY_TIME) - sent_at
        if abs(age) > timedelta(seconds=settings.PAYMENT_NOTIFICATION_MAX_AGE_SECONDS):
            raise InvalidNotification("stale notification")
        try:
            return ProviderEvent(
                event_id=data["notify_id"][:64],
                out_trade_no=data["out_trade_no"],
                status=TRADE_STATUS.get(data["trade_status"], "pending"),
                transaction_id=data.get("trade_no", ""),
                amount=Decimal(data["total_amount"]),
                currency=CURRENCY,
                payload=data,
            )
        except (KeyError, InvalidOperation) as error:
            raise InvalidNotification("malformed body") from error

    def _call(self, api, **kwargs) -> dict:
        """One server API call; the SDK raises on an error answer, which is read back here."""
        try:
            return api(**kwargs)
        except AliPayValidationError:
            raise  # a reply not signed by Alipay: treated as no answer by the callers
        except AliPayException as error:
            try:  # the SDK's exception carries (code, raw answer) and nothing readable else
                raw = json.loads(error.args[1])
            except (IndexError, TypeError, ValueError):
                raise error from None
            return next((value for key, value in raw.items() if key.endswith("_response")), {}) or {}

    def query(self, *, out_trade_no):
        answer = self._call(self._client().api_alipay_trade_query, out_trade_no=out_trade_no)
        if answer.get("code") != SUCCESS:
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return GatewayResult(status="pending", failure_reason="not_opened")
            return GatewayResult(status="unknown", failure_reason=answer.get("sub_code", "error"))
        status = TRADE_STATUS.get(answer.get("trade_status", ""), "unknown")
        return GatewayResult(
            status=status,
            transaction_id=answer.get("trade_no", ""),
            failure_reason="closed" if status == "failed" else "",
            amount=Decimal(answer["total_amount"]) if answer.get("total_amount") else None,
            currency=CURRENCY,
        )

    def refund(self, *, out_trade_no, amount, out_refund_no="", total=None):
        answer = self._call(
            self._client().api_alipay_trade_refund,
            refund_amount=f"{amount:.2f}",
            out_trade_no=out_trade_no,
            out_request_no=out_refund_no,
        )
        if answer.get("code") != SUCCESS:
            if answer.get("sub_code") in ("ACQ.SYSTEM_ERROR", "ACQ.REFUND_AMT_RESTRICTION"):
                return RefundResult(status="unknown", failure_reason=answer.get("sub_code"))
            return RefundResult(status="failed", failure_reason=answer.get("sub_code", "refused"))
        # fund_change "N": accepted, but this call moved no money (already refunded, or still
        # processing): only the refund query tells which.
        if answer.get("fund_change") == "Y":
            return RefundResult(status="succeeded", provider_refund_id=answer.get("trade_no", ""), amount=amount)
        return RefundResult(status="pending", provider_refund_id=answer.get("trade_no", ""))

    def refund_query(self, *, out_trade_no, out_refund_no):
        answer = self._call(
            self._client().api_alipay_trade_fastpay_refund_query,
            out_request_no=out_refund_no,
            out_trade_no=out_trade_no,
        )
        if answer.get("code") != SUCCESS:
            return RefundResult(status="unknown", failure_reason=answer.get("sub_code", "error"))
        if answer.get("out_request_no") != out_refund_no:
            return RefundResult(status="not_found")
        if answer.get("refund_status") == "REFUND_SUCCESS":
            return RefundResult(
                status="succeeded",
                provider_refund_id=answer.get("trade_no", ""),
                amount=Decimal(answer["refund_amount"]) if answer.get("refund_amount") else None,
            )
        return RefundResult(status="pending")

    def close(self, *, out_trade_no):
        answer = self._call(self._client().api_alipay_trade_close, out_trade_no=out_trade_no)
        # A trade never opened cannot be closed, and cannot be paid after its time_expire either.
        return answer.get("code") == SUCCESS or answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST"

    def parse_statement(self, content):
        return parse_statement(content)

    def statement(self, *, day):
        answer = self._call(
            self._client().server_api,
            api_name="alipay.data.dataservice.bill.downloadurl.query",
            biz_content={"bill_type": "trade", "bill_date": day.isoformat()},
        )
        if answer.get("code") != SUCCESS:
            raise RuntimeError(f"Alipay statement for {day}: {answer.get('sub_code') or answer.get('msg')}")
        with urllib.request.urlopen(answer["bill_download_url"], timeout=settings.ALIPAY_TIMEOUT_SECONDS) as response:  # noqa: S310 - Alipay's signed answer names it
            return parse_statement(response.read())


def parse_statement(content: bytes) -> list[StatementLine]:
    """Alipay's trade statement: a zip whose "业务明细" CSV (GBK, "#" comment lines) lists trades and refunds."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = [name for name in archive.namelist() if "汇总" not in name and name.endswith(".csv")]
        if not names:
            raise ValueError("no detail file in the Alipay statement")
        text = archive.read(names[0]).decode("gbk")
    rows = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    lines = []
    for row in csv.DictReader(rows):
        row = {key.strip(): (value or "").strip() for key, value in row.items() if key}
        kind = "refund" if row.get("业务类型") == "退款" else "payment"
        lines.append(
            StatementLine(
                kind=kind,
                out_trade_no=row["商户订单号"],
                transaction_id=row["支付宝交易号"],
                amount=Decimal(row["订单金额（元）"]),
                out_refund_no=row.get("退款批次号/请求号", "") if kind == "refund" else "",
            )
        )
    return lines
