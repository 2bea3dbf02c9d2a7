"""A loopback stand-in for the Alibaba Cloud and Tencent Cloud SMS APIs, for the real SDKs to talk to.

It checks each request's signature as the providers document it (Alibaba's ACS3-HMAC-SHA256,
Tencent's TC3-HMAC-SHA256) with the keys the test configured, records the calls, and answers
with the providers' JSON: a success by default, or the answers a test queued for an action.
A request with a wrong signature gets the provider's own refusal.
"""

import hashlib
import hmac
import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

ALIYUN_KEY_ID, ALIYUN_SECRET = "LTAI-test-key", "aliyun-test-secret"
TENCENT_SECRET_ID, TENCENT_SECRET_KEY = "AKID-test", "tencent-test-key"


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


@dataclass
class Call:
    provider: str
    action: str
    params: dict
    headers: dict = field(default_factory=dict)


class FakeSmsProviders:
    def __init__(self):
        self.calls: list[Call] = []
        self.replies: dict[str, deque] = defaultdict(deque)
        self.serial = 0
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.server.server_port}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def reply(self, action: str, answer: dict, status: int = 200):
        """Answer the next call of ``action`` with this JSON (the provider's whole answer)."""
        self.replies[action].append((status, answer))

    def calls_of(self, action: str) -> list[Call]:
        return [call for call in self.calls if call.action == action]

    # ---- defaults -----------------------------------------------------------------------------

    def next_id(self) -> str:
        self.serial += 1
        return f"{900000 + self.serial}"

    def default(self, provider: str, action: str, params: dict) -> dict:
        if provider == "aliyun" and action == "SendSms":
            return {"Code": "OK", "Message": "OK", "BizId": f"{self.next_id()}^0", "RequestId": "req"}
        if provider == "aliyun":
            return {"Code": "OK", "Message": "OK", "TotalCount": 0, "SmsSendDetailDTOs": {"SmsSendDetailDTO": []}}
        if action == "SendSms":
            return {
                "Response": {
                    "SendStatusSet": [
                        {
                            "SerialNo": f"5000:{self.next_id()}",
                            "PhoneNumber": number,
                            "Fee": 1,
                            "SessionContext": params.get("SessionContext", ""),
                            "Code": "Ok",
                            "Message": "send success",
                            "IsoCode": "CN",
                        }
                        for number in params.get("PhoneNumberSet", [])
                    ],
                    "RequestId": "req",
                }
            }
        return {"Response": {"PullSmsSendStatusSet": [], "RequestId": "req"}}

    # ---- signatures ---------------------------------------------------------------------------

    @staticmethod
    def aliyun_signature_ok(method: str, path: str, query: list, headers: dict, body: bytes) -> bool:
        authorization = headers.get("authorization", "")
        algorithm, _, rest = authorization.partition(" ")
        parts = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
        if algorithm != "ACS3-HMAC-SHA256" or parts.get("Credential") != ALIYUN_KEY_ID:
            return False
        if headers.get("x-acs-content-sha256") != _sha256_hex(body):
            return False
        signed = parts.get("SignedHeaders", "").split(";")
        canonical_query = "&".join(f"{key}={quote(value, safe='~')}" for key, value in sorted(query))
        canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
        canonical = "\n".join(
            [method, path or "/", canonical_query, canonical_headers, ";".join(signed), _sha256_hex(body)]
        )
        to_sign = f"{algorithm}\n{_sha256_hex(canonical.encode())}"
        expected = hmac.new(ALIYUN_SECRET.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts.get("Signature", ""))

    @staticmethod
    def tencent_signature_ok(headers: dict, body: bytes) -> bool:
        authorization = headers.get("authorization", "")
        algorithm, _, rest = authorization.partition(" ")
        parts = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
        credential = parts.get("Credential", "").split("/")
        if algorithm != "TC3-HMAC-SHA256" or len(credential) != 4 or credential[0] != TENCENT_SECRET_ID:
            return False
        _secret_id, date, service, _terminator = credential
        timestamp = headers.get("x-tc-timestamp", "0")
        if datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d") != date:
            return False
        signed = parts.get("SignedHeaders", "").split(";")
        canonical_headers = "".join(f"{name}:{headers.get(name, '').strip().lower()}\n" for name in signed)
        canonical = "\n".join(["POST", "/", "", canonical_headers, ";".join(signed), _sha256_hex(body)])
        scope = f"{date}/{service}/tc3_request"
        to_sign = f"{algorithm}\n{timestamp}\n{scope}\n{_sha256_hex(canonical.encode())}"
        key = _hmac(_hmac(_hmac(f"TC3{TENCENT_SECRET_KEY}".encode(), date), service), "tc3_request")
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts.get("Signature", ""))


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSmsProviders

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        url = urlsplit(self.path)
        if "x-acs-action" in headers:
            provider, action = "aliyun", headers["x-acs-action"]
            query = parse_qsl(url.query, keep_blank_values=True)
            params = dict(query)
            signed = self.fake.aliyun_signature_ok("POST", url.path, query, headers, body)
            refusal = (400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched."})
        else:
            provider, action = "tencent", headers.get("x-tc-action", "")
            params = json.loads(body or b"{}")
            signed = self.fake.tencent_signature_ok(headers, body)
            refusal = (
                200,
                {
                    "Response": {
                        "Error": {"Code": "AuthFailure.SignatureFailure", "Message": "signature mismatch"},
                        "RequestId": "req",
                    }
                },
            )
        self.fake.calls.append(Call(provider=provider, action=action, params=params, headers=headers))
        if not signed:
            status, answer = refusal
        elif self.fake.replies[action]:
            status, answer = self.fake.replies[action].popleft()
        else:
            status, answer = 200, self.fake.default(provider, action, params)
        out = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
