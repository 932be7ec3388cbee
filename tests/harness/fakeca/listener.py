"""A host the client must never reach: a TLS listener that records every connection.

A test points the fake CA's answers at :attr:`RecordingListener.origin` (``foreign_urls``
fault) and then checks that :attr:`~RecordingListener.connections` stayed empty. The
listener serves the fake CA's own certificate (valid for ``localhost``, ``127.0.0.1`` and
``127.0.0.2``), so a client that did follow the CA there would complete the TLS handshake
and send its request: nothing but the client's own check stands in the way.
"""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from tests.harness.tlsgen import TlsFiles


class RecordingListener:
    """HTTPS on ``host:port`` (0: a free port) answering 404 to everything, recording
    each TCP connection (before TLS) and each request line."""

    def __init__(self, tls: TlsFiles, host: str = "127.0.0.1", port: int = 0) -> None:
        self.tls, self.host, self.port = tls, host, port
        #: ``(client address, port)`` of every accepted TCP connection, TLS or not.
        self.connections: list[tuple[str, int]] = []
        #: ``"METHOD /path"`` of every request read.
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self) -> RecordingListener:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.tls.server_cert), str(self.tls.server_key))
        self._server = _Server((self.host, self.port), self, ctx)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"listener-{self.host}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> RecordingListener:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], listener: RecordingListener, context: ssl.SSLContext
    ) -> None:
        super().__init__(address, _Handler)
        self.listener = listener
        self.context = context

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.listener.lock:
            self.listener.connections.append((str(client_address[0]), int(client_address[1])))
        super().process_request(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(5)
        try:
            conn = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: _Server

    def _record(self) -> None:
        with self.server.listener.lock:
            self.server.listener.requests.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = _record

    def log_message(self, format: str, *args: Any) -> None:
        pass
