"""A fake of Alipay's open platform gateway (gateway.do), its cashier and its statement.

Requests are checked as Alipay does: every parameter but ``sign``, sorted, joined as
``k=v&…``, verified with the app's public key (RSA2). Answers carry a ``sign`` over the
exact JSON of the ``*_response`` object, made with Alipay's key; so do asynchronous
notifications (form-encoded, signed over the sorted ``k=v`` string without ``sign`` and
``sign_type``).
"""

import html
import io
import json
import secrets
import threading
import urllib.request
import zipfile
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from .crypto import KeyPair

BEIJING = ZoneInfo("Asia/Shanghai")
RESPONSE_OF = {
    "alipay.trade.query": "alipay_trade_query_response",
    "alipay.trade.refund": "alipay_trade_refund_response",
    "alipay.trade.fastpay.refund.query": "alipay_trade_fastpay_refund_query_response",
    "alipay.trade.close": "alipay_trade_close_response",
    "alipay.data.dataservice.bill.downloadurl.query": "alipay_data_dataservice_bill_downloadurl_query_response",
}
NOT_EXIST = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"}


def signing_string(params: dict, *, without=("sign",)) -> str:
    """Requests are signed over every parameter but ``sign``; notifications also leave out ``sign_type``."""
    return "&".join(f"{key}={value}" for key, value in sorted(params.items()) if key not in without)


def now_text() -> str:
    return datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


class FakeAlipay:
    def __init__(self, *, app_id: str, app_keys: KeyPair, alipay_keys: KeyPair):
        self.app_id = app_id
        self.app_keys = app_keys  # the merchant's: the fake knows only its public half
        self.alipay_keys = alipay_keys
        self.base_url = ""
        self.lock = threading.Lock()
        self.deliver = None  # callable(url, body) sending a notification; set by the fixture
        self.reset()

    def reset(self):
        self.trades: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.requests: list[str] = []  # the API methods called, in order
        self.notifications: list[bytes] = []  # every notification body sent
        self.drop_notifications = False  # "the callback never comes"
        self.no_answer_to: set[str] = set()  # API methods whose answer is lost (connection dropped)
        self.confirm_refunds_later = False  # refunds accepted with fund_change N, confirmed by confirm_refunds()
        self.statement_extra: list[dict] = []
        self.statement_amounts: dict[str, str] = {}

    # --- the HTTP side ------------------------------------------------------------------
    def handle(self, method: str, path: str, params: dict) -> tuple[int, str, bytes] | None:
        """Answer one request; None drops the connection without an answer."""
        if path == "/gateway.do":
            return self._gateway(params)
        if path.startswith("/cashier/") and method == "POST":
            return self._cashier_action(path.removeprefix("/cashier/"), params)
        if path.startswith("/bill/"):
            return 200, "application/zip", self.statement_zip(path.removeprefix("/bill/").removesuffix(".zip"))
        return 404, "text/plain", b"not found"

    def _gateway(self, params):
        api = params.get("method", "")
        self.requests.append(api)
        if params.get("sign_type") != "RSA2" or not self.app_keys.verify(
            signing_string(params), params.get("sign", "")
        ):
            return self._answer(api, {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"})
        if params.get("app_id") != self.app_id:
            return self._answer(api, {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-app-id"})
        biz = json.loads(params.get("biz_content") or "{}")
        if api in ("alipay.trade.page.pay", "alipay.trade.wap.pay"):
            return self._cashier_page(params, biz)
        if api in self.no_answer_to:
            return None
        with self.lock:
            answer = {
                "alipay.trade.query": self._query,
                "alipay.trade.refund": self._refund,
                "alipay.trade.fastpay.refund.query": self._refund_query,
                "alipay.trade.close": self._close,
                "alipay.data.dataservice.bill.downloadurl.query": self._bill_url,
            }[api](biz)
        return self._answer(api, answer)

    def _answer(self, api, answer):
        inner = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
        key = RESPONSE_OF.get(api, "error_response")
        body = f'{{"{key}":{inner},"sign":"{self.alipay_keys.sign(inner)}"}}'
        return 200, "application/json;charset=utf-8", body.encode("utf-8")

    def _cashier_page(self, params, biz):
        out_trade_no = biz["out_trade_no"]
        with self.lock:
            trade = self.trades.setdefault(
                out_trade_no,
                {
                    "out_trade_no": out_trade_no,
                    "trade_no": "2026" + secrets.token_hex(10),
                    "total_amount": biz["total_amount"],
                    "subject": biz.get("subject", ""),
                    "status": "WAIT_BUYER_PAY",
                    "notify_url": params.get("notify_url", ""),
                    "return_url": params.get("return_url", ""),
                    "product_code": biz.get("product_code", ""),
                    "time_expire": biz.get("time_expire", ""),
                },
            )
        escaped = html.escape(out_trade_no)
        page = f"""<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>支付宝 收银台 (fake)</title></head>
<body><h1>支付宝 (fake)</h1><p data-testid="fake-alipay-amount">¥{html.escape(trade["total_amount"])}</p>
<p>{html.escape(trade["subject"])}</p>
<form method="post" action="{self.base_url}/cashier/{escaped}"><input type="hidden" name="action" value="pay">
<button data-testid="fake-alipay-pay">确认付款</button></form>
<form method="post" action="{self.base_url}/cashier/{escaped}"><input type="hidden" name="action" value="leave">
<button data-testid="fake-alipay-leave">返回商家</button></form></body></html>"""
        return 200, "text/html; charset=utf-8", page.encode("utf-8")

    def _cashier_action(self, out_trade_no, params):
        trade = self.trades.get(out_trade_no)
        if trade is None:
            return 404, "text/plain", b"no such trade"
        if params.get("action") == "pay":
            self.pay(out_trade_no)
        back = {"out_trade_no": out_trade_no, "trade_no": trade["trade_no"], "total_amount": trade["total_amount"]}
        separator = "&" if "?" in trade["return_url"] else "?"
        return 302, trade["return_url"] + separator + urlencode(back), b""

    # --- what the buyer and Alipay do ----------------------------------------------------------
    def open_cashier(self, redirect_url: str) -> str:
        """Open the cashier page the app sent the customer to (as the customer's browser would)."""
        with urllib.request.urlopen(redirect_url, timeout=5) as response:  # noqa: S310 - the fake, on loopback
            return response.read().decode()

    def pay(self, out_trade_no: str) -> bytes:
        with self.lock:
            trade = self.trades[out_trade_no]
            if trade["status"] == "WAIT_BUYER_PAY":
                trade["status"] = "TRADE_SUCCESS"
                trade["gmt_payment"] = now_text()
        return self.notify(out_trade_no)

    def notify(self, out_trade_no: str, **changes) -> bytes:
        """Sign and send the notification of the trade's current state (``changes`` signed in)."""
        body = self.notification(out_trade_no, **changes)
        self.notifications.append(body)
        if not self.drop_notifications and self.deliver is not None:
            self.deliver(self.trades[out_trade_no]["notify_url"], body)
        return body

    def notification(self, out_trade_no: str, *, keys: KeyPair | None = None, **changes) -> bytes:
        trade = self.trades[out_trade_no]
        params = {
            "notify_time": now_text(),
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "app_id": self.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "trade_no": trade["trade_no"],
            "out_trade_no": out_trade_no,
            "trade_status": trade["status"],
            "total_amount": trade["total_amount"],
            "receipt_amount": trade["total_amount"],
            "subject": trade["subject"],
            "gmt_create": now_text(),
        }
        params.update(changes)
        params["sign"] = (keys or self.alipay_keys).sign(signing_string(params, without=("sign", "sign_type")))
        return urlencode(params).encode()

    # --- the server APIs --------------------------------------------------------------------
    def _query(self, biz):
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return NOT_EXIST
        return {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": trade["out_trade_no"],
            "trade_no": trade["trade_no"],
            "trade_status": trade["status"],
            "total_amount": trade["total_amount"],
        }

    def _refund(self, biz):
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return NOT_EXIST
        if trade["status"] not in ("TRADE_SUCCESS", "TRADE_CLOSED") or "gmt_payment" not in trade:
            return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR"}
        request_no = biz.get("out_request_no") or trade["out_trade_no"]
        amount = Decimal(biz["refund_amount"])
        existing = self.refunds.get(request_no)
        if existing is None:
            refunded = sum(
                Decimal(r["amount"]) for r in self.refunds.values() if r["out_trade_no"] == trade["out_trade_no"]
            )
            if refunded + amount > Decimal(trade["total_amount"]):
                return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"}
            existing = self.refunds[request_no] = {
                "out_trade_no": trade["out_trade_no"],
                "amount": f"{amount:.2f}",
                "confirmed": not self.confirm_refunds_later,
            }
            first_time = True
        else:
            first_time = False  # the same request number again: no money moves twice
        return {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": trade["out_trade_no"],
            "trade_no": trade["trade_no"],
            "refund_fee": existing["amount"],
            "fund_change": "Y" if first_time and existing["confirmed"] else "N",
        }

    def _refund_query(self, biz):
        refund = self.refunds.get(biz.get("out_request_no", ""))
        if refund is None or refund["out_trade_no"] != biz.get("out_trade_no"):
            return {"code": "10000", "msg": "Success"}
        answer = {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": refund["out_trade_no"],
            "trade_no": self.trades[refund["out_trade_no"]]["trade_no"],
            "out_request_no": biz["out_request_no"],
            "refund_amount": refund["amount"],
        }
        if refund["confirmed"]:
            answer["refund_status"] = "REFUND_SUCCESS"
        return answer

    def confirm_refunds(self):
        with self.lock:
            for refund in self.refunds.values():
                refund["confirmed"] = True

    def _close(self, biz):
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return NOT_EXIST
        if trade["status"] != "WAIT_BUYER_PAY":
            return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR"}
        trade["status"] = "TRADE_CLOSED"
        return {"code": "10000", "msg": "Success", "out_trade_no": trade["out_trade_no"], "trade_no": trade["trade_no"]}

    def _bill_url(self, biz):
        return {"code": "10000", "msg": "Success", "bill_download_url": f"{self.base_url}/bill/{biz['bill_date']}.zip"}

    # --- the statement ---------------------------------------------------------------------
    def statement_zip(self, day: str) -> bytes:
        """Alipay's trade statement: a zip of GBK CSVs, the details with "#" comment lines around them."""
        header = ["支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间", "订单金额（元）",
                  "商家实收（元）", "退款批次号/请求号", "备注"]  # fmt: skip
        rows = []
        for trade in self.trades.values():
            if "gmt_payment" in trade:
                amount = self.statement_amounts.get(trade["out_trade_no"], trade["total_amount"])
                rows.append([trade["trade_no"], trade["out_trade_no"], "交易", trade["subject"], trade["gmt_payment"],
                             trade["gmt_payment"], amount, amount, "", ""])  # fmt: skip
        for request_no, refund in self.refunds.items():
            if refund["confirmed"]:
                trade = self.trades[refund["out_trade_no"]]
                rows.append([trade["trade_no"], trade["out_trade_no"], "退款", trade["subject"], now_text(), now_text(),
                             f"-{refund['amount']}", f"-{refund['amount']}", request_no, ""])  # fmt: skip
        for extra in self.statement_extra:
            rows.append([extra["trade_no"], extra["out_trade_no"], "交易", "", now_text(), now_text(),
                         extra["amount"], extra["amount"], "", ""])  # fmt: skip
        lines = [f"#支付宝业务明细查询\n#账号：[20880000000000000156]\n#起始日期：[{day} 00:00:00]", ",".join(header)]
        lines += [",".join(row) for row in rows]
        lines += ["#-----------------------------------------业务明细列表结束------------------------------------",
                  f"#交易合计：{len(rows)}笔"]  # fmt: skip
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(
                f"20880000000000000156_{day.replace('-', '')}_业务明细.csv", "\n".join(lines).encode("gbk")
            )
            archive.writestr(f"20880000000000000156_{day.replace('-', '')}_业务明细(汇总).csv", "#汇总\n".encode("gbk"))
        return buffer.getvalue()
