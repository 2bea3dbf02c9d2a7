"""One HTTP server on loopback serving both fakes: /alipay/… and /wechat/…."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class _Handler(BaseHTTPRequestHandler):
    fakes = None  # set on the server's subclass

    def log_message(self, format, *args):
        pass  # quiet in test output

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        if url.path.startswith("/alipay/"):
            params = {key: values[0] for key, values in parse_qs(url.query, keep_blank_values=True).items()}
            if self.command == "POST":
                params |= {key: values[0] for key, values in parse_qs(body.decode(), keep_blank_values=True).items()}
            answer = self.server.alipay.handle(self.command, url.path.removeprefix("/alipay"), params)
            extra = {}
        elif url.path.startswith("/wechat/"):
            headers = {key.lower(): value for key, value in self.headers.items()}
            answer = self.server.wechat.handle(self.command, self.path.removeprefix("/wechat"), headers, body)
            extra = answer[3] if answer else {}
        else:
            answer, extra = (404, "text/plain", b"not found"), {}
        if answer is None:  # the answer is lost: close the connection without one
            self.close_connection = True
            return
        status, content_type, content = answer[:3]
        self.send_response(status)
        if status in (301, 302, 303):
            self.send_header("Location", content_type)
            content = b""
        else:
            self.send_header("Content-Type", content_type)
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = _serve
    do_POST = _serve


class FakeProviderServer:
    def __init__(self, *, alipay, wechat):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.alipay = alipay
        self.httpd.wechat = wechat
        self.alipay, self.wechat = alipay, wechat
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        alipay.base_url = self.url + "/alipay"
        wechat.base_url = self.url + "/wechat"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
