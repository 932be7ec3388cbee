"""The HTTP-01 server: ``/.well-known/acme-challenge/<token>`` and nothing else.

Answers are looked up in a dict keyed by token; no path is ever built and no file is ever
read. Everything a client does wrong is logged at DEBUG only.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from .listener import Listener

logger = logging.getLogger(__name__)

CHALLENGE_PREFIX = "/.well-known/acme-challenge/"


class _Http01Handler(BaseHTTPRequestHandler):
    """One connection (possibly several keep-alive requests)."""

    protocol_version = "HTTP/1.1"
    server_version = "certbot-like-standalone"
    sys_version = ""
    timeout = None  # the listener already set the connection's timeout

    def __init__(self, conn: socket.socket, lookup: Callable[[str], bytes | None]) -> None:
        # Not calling BaseRequestHandler.__init__: there is no socketserver behind us.
        self.request = conn
        self.client_address = _peer(conn)
        self._lookup = lookup
        self.setup()
        try:
            self.handle()
        finally:
            self.finish()

    def do_GET(self) -> None:  # http.server's naming
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # http.server's naming
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        path = urlsplit(self.path).path if "://" in self.path else self.path.split("?", 1)[0]
        body: bytes | None = None
        if path.startswith(CHALLENGE_PREFIX):
            body = self._lookup(path[len(CHALLENGE_PREFIX) :])
        if body is None:
            status, content = 404, b"Not found\n"
        else:
            status, content = 200, body
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Cache-Control", "no-store")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if send_body:
            self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:  # base signature
        logger.debug("http-01 %s: " + format, self.address_string(), *args)

    def log_error(self, format: str, *args: Any) -> None:  # base signature
        self.log_message(format, *args)


def _peer(conn: socket.socket) -> tuple[str, int]:
    try:
        peer = conn.getpeername()
    except OSError:
        return ("?", 0)
    return (str(peer[0]), int(peer[1]))


class Http01Server:
    """Serves key authorizations by token on a listening socket it owns."""

    def __init__(self, sock: socket.socket) -> None:
        self._answers: dict[str, bytes] = {}
        self._listener = Listener(sock, self._handle, name="standalone-http-01")

    @property
    def address(self) -> tuple[Any, ...]:
        """The socket address served (host, port, ...)."""
        return self._listener.address

    def add(self, token: str, key_authorization: str) -> None:
        """Answer *key_authorization* for *token* (visible to new requests at once)."""
        self._answers = {**self._answers, token: key_authorization.encode("ascii")}

    def remove(self, token: str) -> None:
        """Stop answering *token* (unknown tokens are ignored)."""
        self._answers = {k: v for k, v in self._answers.items() if k != token}

    def start(self) -> None:
        """Start serving; return when connections are being accepted (idempotent).

        Raises:
            RuntimeError: the server was already stopped.
        """
        self._listener.start()

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent, fast)."""
        self._listener.stop()

    def _handle(self, conn: socket.socket) -> None:
        _Http01Handler(conn, self._lookup)

    def _lookup(self, token: str) -> bytes | None:
        # add/remove replace the dict as a whole, so a lookup never sees it half-changed.
        return self._answers.get(token)
