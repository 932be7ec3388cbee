"""Servers that receive what certbot-like sends out: e-mail (a real aiosmtpd SMTP server)
and HTTP requests (webhooks and dead man's switch pings), each on a free loopback port."""

from __future__ import annotations

import email
import email.policy
import http.server
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class SmtpSink:
    """aiosmtpd's Controller keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.logins: list[str] = []
        self.port = _free_port()
        self._controller: Any = None

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
                assert isinstance(parsed, EmailMessage)
                sink.messages.append(parsed)
                return "250 OK"

        def accept(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
            from aiosmtpd.smtp import AuthResult

            sink.logins.append(str(getattr(auth, "login", b"").decode()))
            return AuthResult(success=True)

        self._controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=accept,
            auth_require_tls=False,  # loopback only: the login is checked, not encrypted
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def url(self, **query: str) -> str:
        """An apprise mailto:// URL for this server (no TLS, no login)."""
        params = "&".join(f"{k}={v}" for k, v in {"mode": "insecure", **query}.items())
        return f"mailto://127.0.0.1:{self.port}/?{params}"


@dataclass
class Request:
    """One HTTP request as received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpSink:
    """A threaded HTTP server recording every request; answers ``status`` (settable)."""

    status: int = 200
    date_offset: float = 0.0  # seconds added to the Date header (a CA with a wrong clock)
    body: bytes = b"OK"
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> HttpSink:
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                sink.requests.append(
                    Request(self.command, self.path, dict(self.headers.items()), body)
                )
                self.send_response(sink.status)
                self.send_header("Content-Length", str(len(sink.body)))
                self.end_headers()
                self.wfile.write(sink.body)

            def date_time_string(self, timestamp: float | None = None) -> str:
                return super().date_time_string(time.time() + sink.date_offset)

            do_GET = do_POST = do_HEAD = _record

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll *predicate* until true or *timeout* seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
