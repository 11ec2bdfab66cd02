"""A scriptable HTTP server on 127.0.0.1 standing in for Teams, Discord, Telegram, ntfy, Twilio:
records every request (method, path, headers, raw body) and answers with scripted
(status, headers, body) replies in turn, then the default."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class ServiceDouble:
    def __init__(self, default=(200, {"Content-Type": "application/json"}, b'{"ok": true}')):
        self.requests: list[dict] = []
        self.replies: list[tuple[int, dict, bytes]] = []
        self.default = default
        self._lock = threading.Lock()
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with double._lock:
                    double.requests.append(
                        {"path": self.path, "headers": self.headers, "body": body}
                    )
                    status, headers, reply = (
                        double.replies.pop(0) if double.replies else double.default
                    )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reply(self, status: int, body=b"", headers: dict | None = None) -> None:
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        self.replies.append((status, headers or {}, body))

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def json(self, index: int = -1):
        return json.loads(self.requests[index]["body"])

    def form(self, index: int = -1) -> dict:
        return {k: v[0] for k, v in parse_qs(self.requests[index]["body"].decode()).items()}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
