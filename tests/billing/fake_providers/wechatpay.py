"""A fake of WeChat Pay's API v3: payments (H5, Native), query, close, refunds, platform
certificates, the trade bill, and signed, encrypted notifications.

Requests must carry ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,
signature=…,timestamp=…,serial_no=…`` signed over ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n``
with the merchant's key; answers are signed over ``TIMESTAMP\\nNONCE\\nBODY\\n`` with the
platform key, whose certificate ``/v3/certificates`` hands out AES-256-GCM encrypted with
the APIv3 key, as notification resources are.
"""

import gzip
import html
import json
import re
import secrets
import threading
import time
import uuid
from datetime import datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives import serialization

from .crypto import KeyPair, aes_gcm_encrypt, self_signed_certificate

BEIJING = ZoneInfo("Asia/Shanghai")
AUTHORIZATION = re.compile(r'(\w+)="([^"]*)"')


def rfc3339() -> str:
    return datetime.now(BEIJING).isoformat(timespec="seconds")


class FakeWeChatPay:
    def __init__(self, *, mchid: str, appid: str, merchant_keys: KeyPair, merchant_serial: str,
                 platform_keys: KeyPair, apiv3_key: str):  # fmt: skip
        self.mchid = mchid
        self.appid = appid
        self.merchant_keys = merchant_keys  # the merchant's: the fake checks with its public half
        self.merchant_serial = merchant_serial
        self.platform_keys = platform_keys
        self.apiv3_key = apiv3_key
        self.certificate = self_signed_certificate(platform_keys, serial=0x5157F09EFDC096DE15EBE81A47057A72)
        self.serial = format(self.certificate.serial_number, "X")
        self.base_url = ""
        self.lock = threading.Lock()
        self.deliver = None  # callable(url, headers, body); set by the fixture
        self.reset()

    def reset(self):
        self.trades: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.requests: list[str] = []
        self.notifications: list[tuple[dict, bytes]] = []
        self.drop_notifications = False
        self.no_answer_to: set[str] = set()  # "create", "query", "refund": the answer is lost
        self.refund_status = "PROCESSING"  # what a new refund answers; confirm_refund() finishes it

    # --- HTTP ------------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, str, bytes, dict] | None:
        if path.startswith("/cashier/"):
            return self._cashier(method, path, body)
        text = body.decode("utf-8")
        if not self._authorized(method, path, headers, text):
            return self._json(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        route = urlsplit(path).path
        self.requests.append(f"{method} {route}")
        with self.lock:
            if route == "/v3/certificates":
                return self._json(200, self._certificates())
            if route in ("/v3/pay/transactions/h5", "/v3/pay/transactions/native") and method == "POST":
                if "create" in self.no_answer_to:
                    self._create(route, json.loads(text))
                    return None
                return self._create(route, json.loads(text))
            match = re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)(/close)?", route)
            if match and method == "GET":
                return None if "query" in self.no_answer_to else self._query(match.group(1))
            if match and method == "POST":
                return self._close(match.group(1))
            if route == "/v3/refund/domestic/refunds" and method == "POST":
                answer = self._refund(json.loads(text))
                return None if "refund" in self.no_answer_to else answer
            match = re.fullmatch(r"/v3/refund/domestic/refunds/([^/]+)", route)
            if match:
                return self._refund_query(match.group(1))
            if route == "/v3/bill/tradebill":
                day = parse_qs(urlsplit(path).query)["bill_date"][0]
                return self._json(200, {"hash_type": "SHA1", "hash_value": "x",
                                        "download_url": f"{self.base_url}/v3/billdownload/file?day={day}"})  # fmt: skip
            if route == "/v3/billdownload/file":
                day = parse_qs(urlsplit(path).query)["day"][0]
                return 200, "application/octet-stream", gzip.compress(self.statement_csv(day).encode("utf-8")), {}
        return self._json(404, {"code": "NOT_FOUND", "message": "no such API"})

    def _authorized(self, method, path, headers, text) -> bool:
        header = headers.get("authorization", "")
        if not header.startswith("WECHATPAY2-SHA256-RSA2048 "):
            return False
        fields = dict(AUTHORIZATION.findall(header))
        if fields.get("mchid") != self.mchid or fields.get("serial_no") != self.merchant_serial:
            return False
        if abs(time.time() - int(fields.get("timestamp", "0"))) > 300:
            return False
        message = f"{method}\n{path}\n{fields['timestamp']}\n{fields['nonce_str']}\n{text}\n"
        return self.merchant_keys.verify(message, fields.get("signature", ""))

    def signed_headers(self, text: str, *, keys: KeyPair | None = None, timestamp: int | None = None) -> dict:
        timestamp = str(timestamp if timestamp is not None else int(time.time()))
        nonce = secrets.token_hex(16)
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": (keys or self.platform_keys).sign(f"{timestamp}\n{nonce}\n{text}\n"),
            "Wechatpay-Serial": self.serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    def _json(self, status: int, answer: dict | None):
        text = json.dumps(answer, ensure_ascii=False) if answer is not None else ""
        return status, "application/json; charset=utf-8", text.encode("utf-8"), self.signed_headers(text)

    def _certificates(self):
        pem = self.certificate.public_bytes(serialization.Encoding.PEM).decode()
        nonce = secrets.token_hex(6)
        return {
            "data": [
                {
                    "serial_no": self.serial,
                    "effective_time": rfc3339(),
                    "expire_time": rfc3339(),
                    "encrypt_certificate": {
                        "algorithm": "AEAD_AES_256_GCM",
                        "nonce": nonce,
                        "associated_data": "certificate",
                        "ciphertext": aes_gcm_encrypt(self.apiv3_key, pem, "certificate", nonce),
                    },
                }
            ]
        }

    def _create(self, route, order):
        if order.get("mchid") != self.mchid or order.get("appid") != self.appid:
            return self._json(400, {"code": "PARAM_ERROR", "message": "mchid/appid"})
        out_trade_no = order["out_trade_no"]
        trade = self.trades.setdefault(
            out_trade_no,
            {
                "out_trade_no": out_trade_no,
                "transaction_id": "4200" + secrets.token_hex(12),
                "trade_state": "NOTPAY",
                "total": order["amount"]["total"],
                "currency": order["amount"].get("currency", "CNY"),
                "notify_url": order["notify_url"],
                "description": order["description"],
            },
        )
        prepay = "wx" + secrets.token_hex(14)
        if route.endswith("/h5"):
            return self._json(200, {"h5_url": f"{self.base_url}/cashier/{out_trade_no}?prepay_id={prepay}"})
        return self._json(200, {"code_url": f"weixin://wxpay/bizpayurl?pr={trade['transaction_id'][-7:]}"})

    def _trade_answer(self, trade):
        return {
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": trade["out_trade_no"],
            "transaction_id": trade["transaction_id"],
            "trade_type": "MWEB",
            "trade_state": trade["trade_state"],
            "trade_state_desc": trade["trade_state"],
            "success_time": trade.get("success_time", ""),
            "amount": {
                "total": trade["total"],
                "payer_total": trade["total"],
                "currency": trade["currency"],
                "payer_currency": trade["currency"],
            },
        }

    def _query(self, out_trade_no):
        trade = self.trades.get(out_trade_no)
        if trade is None:
            return self._json(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
        return self._json(200, self._trade_answer(trade))

    def _close(self, out_trade_no):
        trade = self.trades.get(out_trade_no)
        if trade is None:
            return self._json(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
        if trade["trade_state"] != "NOTPAY":
            return self._json(400, {"code": "ORDERPAID", "message": "订单已支付"})
        trade["trade_state"] = "CLOSED"
        return self._json(204, None)

    def _refund(self, request):
        trade = self.trades.get(request.get("out_trade_no", ""))
        if trade is None:
            return self._json(404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"})
        if trade["trade_state"] not in ("SUCCESS", "REFUND"):
            return self._json(403, {"code": "TRADE_STATE_ERROR", "message": "订单状态错误"})
        out_refund_no = request["out_refund_no"]
        refund = self.refunds.get(out_refund_no)
        if refund is None:
            amount = request["amount"]
            refunded = sum(r["refund"] for r in self.refunds.values() if r["out_trade_no"] == trade["out_trade_no"])
            if amount["total"] != trade["total"] or refunded + amount["refund"] > trade["total"]:
                return self._json(400, {"code": "PARAM_ERROR", "message": "退款金额错误"})
            refund = self.refunds[out_refund_no] = {
                "out_refund_no": out_refund_no,
                "refund_id": "5030" + secrets.token_hex(12),
                "out_trade_no": trade["out_trade_no"],
                "transaction_id": trade["transaction_id"],
                "refund": amount["refund"],
                "total": amount["total"],
                "status": self.refund_status,
                "notify_url": request.get("notify_url", trade["notify_url"]),
            }
            trade["trade_state"] = "REFUND"
        return self._json(200, self._refund_answer(refund))

    def _refund_answer(self, refund):
        return {
            "refund_id": refund["refund_id"],
            "out_refund_no": refund["out_refund_no"],
            "transaction_id": refund["transaction_id"],
            "out_trade_no": refund["out_trade_no"],
            "channel": "ORIGINAL",
            "status": refund["status"],
            "create_time": rfc3339(),
            "amount": {
                "refund": refund["refund"],
                "total": refund["total"],
                "payer_refund": refund["refund"],
                "currency": "CNY",
            },
        }

    def _refund_query(self, out_refund_no):
        refund = self.refunds.get(out_refund_no)
        if refund is None:
            return self._json(404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"})
        return self._json(200, self._refund_answer(refund))

    # --- the H5 cashier ---------------------------------------------------------------------
    def _cashier(self, method, path, body):
        parts = urlsplit(path)
        out_trade_no = parts.path.removeprefix("/cashier/")
        trade = self.trades.get(out_trade_no)
        if trade is None:
            return 404, "text/plain", b"no such trade", {}
        if method == "POST":
            form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
            if form.get("action") == "pay":
                self.pay(out_trade_no)
            return 302, form.get("redirect_url", "/"), b"", {}
        redirect_url = parse_qs(parts.query).get("redirect_url", ["/"])[0]
        page = f"""<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>微信支付 (fake)</title></head>
<body><h1>微信支付 (fake)</h1><p data-testid="fake-wechat-amount">¥{trade["total"] / 100:.2f}</p>
<form method="post" action="{self.base_url}/cashier/{html.escape(out_trade_no)}">
<input type="hidden" name="redirect_url" value="{html.escape(redirect_url)}">
<button name="action" value="pay" data-testid="fake-wechat-pay">立即支付</button></form></body></html>"""
        return 200, "text/html; charset=utf-8", page.encode("utf-8"), {}

    # --- what the payer and WeChat Pay do -----------------------------------------------------------
    def pay(self, out_trade_no: str):
        with self.lock:
            trade = self.trades[out_trade_no]
            if trade["trade_state"] == "NOTPAY":
                trade["trade_state"] = "SUCCESS"
                trade["success_time"] = rfc3339()
        return self.notify_payment(out_trade_no)

    def confirm_refund(self, out_refund_no: str, status: str = "SUCCESS"):
        with self.lock:
            self.refunds[out_refund_no]["status"] = status
        return self.notify_refund(out_refund_no)

    def notify_payment(self, out_trade_no: str, **changes):
        trade = self.trades[out_trade_no]
        resource = self._trade_answer(trade) | changes
        event_type = "TRANSACTION.SUCCESS" if resource["trade_state"] == "SUCCESS" else "TRANSACTION.CLOSED"
        return self.send(trade["notify_url"], event_type, "transaction", resource)

    def notify_refund(self, refund_no: str, **changes):
        refund = self.refunds[refund_no]
        resource = {
            "mchid": self.mchid,
            "out_trade_no": refund["out_trade_no"],
            "transaction_id": refund["transaction_id"],
            "out_refund_no": refund_no,
            "refund_id": refund["refund_id"],
            "refund_status": refund["status"],
            "success_time": rfc3339(),
            "amount": {
                "total": refund["total"],
                "refund": refund["refund"],
                "payer_total": refund["total"],
                "payer_refund": refund["refund"],
            },
        } | changes
        return self.send(refund["notify_url"], f"REFUND.{refund['status']}", "refund", resource)

    def notification(self, event_type: str, original_type: str, resource: dict, *, keys=None, apiv3_key=None,
                     timestamp=None) -> tuple[dict, bytes]:  # fmt: skip
        nonce = secrets.token_hex(6)
        plaintext = json.dumps(resource, ensure_ascii=False)
        body = json.dumps(
            {
                "id": str(uuid.uuid4()),
                "create_time": rfc3339(),
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": "支付成功" if event_type == "TRANSACTION.SUCCESS" else event_type,
                "resource": {
                    "original_type": original_type,
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": aes_gcm_encrypt(apiv3_key or self.apiv3_key, plaintext, original_type, nonce),
                    "associated_data": original_type,
                    "nonce": nonce,
                },
            },
            ensure_ascii=False,
        )
        return self.signed_headers(body, keys=keys, timestamp=timestamp), body.encode("utf-8")

    def send(self, url, event_type, original_type, resource):
        headers, body = self.notification(event_type, original_type, resource)
        self.notifications.append((headers, body))
        if not self.drop_notifications and self.deliver is not None:
            self.deliver(url, headers, body)
        return headers, body

    # --- the trade bill ---------------------------------------------------------------------------
    def statement_csv(self, day: str) -> str:
        header = ",".join([
            "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识",
            "交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "微信退款单号",
            "商户退款单号", "退款金额",
            "充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额",
            "申请退款金额", "费率备注",
        ])  # fmt: skip
        rows = []
        for trade in self.trades.values():
            if "success_time" in trade:
                amount = f"{trade['total'] / 100:.2f}"
                rows.append(self._bill_row(trade, "SUCCESS", amount, "", "", "0.00"))
        for refund in self.refunds.values():
            if refund["status"] == "SUCCESS":
                trade = self.trades[refund["out_trade_no"]]
                rows.append(self._bill_row(trade, "REFUND", f"{trade['total'] / 100:.2f}", refund["refund_id"],
                                           refund["out_refund_no"], f"{refund['refund'] / 100:.2f}"))  # fmt: skip
        summary = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
        return "\n".join([header, *rows, summary, f"`{len(rows)},`0.00,`0.00,`0.00,`0.00,`0.00,`0.00"]) + "\n"

    def _bill_row(self, trade, state, amount, refund_id, out_refund_no, refund_amount):
        values = [trade.get("success_time", ""), self.appid, self.mchid, "0", "", trade["transaction_id"],
                  trade["out_trade_no"], "oUser", "MWEB", state, "OTHERS", "CNY", amount, "0.00", refund_id,
                  out_refund_no, refund_amount, "0.00", "ORIGINAL" if refund_id else "", "SUCCESS" if refund_id else "",
                  trade["description"], "", "0.00", "0.60%", amount, refund_amount, ""]  # fmt: skip
        return ",".join(f"`{value}" for value in values)
