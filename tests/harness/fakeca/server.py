"""The HTTPS listener, the routing table and the transport faults; :class:`FakeCA` itself."""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.harness.fakeca.faults import OVERSIZED_BYTES
from tests.harness.fakeca.model import Problem, Reply
from tests.harness.fakeca.orders import OrderHandlers
from tests.harness.fakeca.state import Authenticated
from tests.harness.servers import free_port
from tests.harness.tlsgen import TlsFiles, make_server_tls

MAX_REQUEST = 64 * 1024
HANDSHAKE_TIMEOUT = 10.0

_Handler = Callable[["FakeCA", str, Authenticated | None, dict[str, str | None]], Reply]


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    endpoint: str
    call: _Handler


def _route(methods: str, pattern: str, endpoint: str, call: _Handler) -> Route:
    return Route(frozenset(methods.split()), re.compile(pattern + "$"), endpoint, call)


_ID = r"(?P<id>[A-Za-z0-9_-]+)"
ROUTES = (
    _route("GET", "/dir", "directory", lambda ca, m, a, g: ca.h_directory()),
    _route("HEAD GET", "/nonce", "newNonce", lambda ca, m, a, g: ca.h_new_nonce(m)),
    _route("GET", "/terms", "terms", lambda ca, m, a, g: ca.h_terms()),
    _route(
        "GET",
        r"/renewal-info/(?P<id>[^/]+)",
        "renewalInfo",
        lambda ca, m, a, g: ca.h_renewal_info(str(g["id"])),
    ),
    _route("POST", "/new-account", "newAccount", lambda ca, m, a, g: ca.h_new_account(_a(a))),
    _route("POST", f"/acct/{_ID}", "account", lambda ca, m, a, g: ca.h_account(_a(a), _i(g))),
    _route("POST", f"/acct/{_ID}/orders", "orders", lambda ca, m, a, g: ca.h_orders(_a(a), _i(g))),
    _route("POST", "/new-order", "newOrder", lambda ca, m, a, g: ca.h_new_order(_a(a))),
    _route("POST", f"/order/{_ID}", "order", lambda ca, m, a, g: ca.h_order(_a(a), _i(g))),
    _route("POST", f"/authz/{_ID}", "authz", lambda ca, m, a, g: ca.h_authz(_a(a), _i(g))),
    _route("POST", f"/chall/{_ID}", "challenge", lambda ca, m, a, g: ca.h_challenge(_a(a), _i(g))),
    _route("POST", f"/finalize/{_ID}", "finalize", lambda ca, m, a, g: ca.h_finalize(_a(a), _i(g))),
    _route(
        "POST",
        f"/cert/{_ID}(?:/(?P<alt>[0-9]))?",
        "certificate",
        lambda ca, m, a, g: ca.h_certificate(_a(a), _i(g), g.get("alt")),
    ),
    _route("POST", "/revoke-cert", "revokeCert", lambda ca, m, a, g: ca.h_revoke(_a(a))),
    _route("POST", "/key-change", "keyChange", lambda ca, m, a, g: ca.h_key_change(_a(a))),
)


def _a(auth: Authenticated | None) -> Authenticated:
    assert auth is not None
    return auth


def _i(groups: dict[str, str | None]) -> str:
    return str(groups["id"])


@dataclass
class Response:
    """What goes on the wire."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    unframed: bool = False  # no Content-Length, close the connection after the body


class FakeCA(OrderHandlers):
    """A scriptable RFC 8555 CA on ``https://127.0.0.1:<port>/dir``, running in a thread.

    Interchangeable with :class:`tests.harness.servers.Pebble` for the tests' ``Client``:
    ``directory_url``, ``ca_bundle``, ``http_port``, ``tls_port``, ``root_pem()``,
    ``request_lines()``. See the package docstring for configuration and faults.
    """

    def __init__(self, workdir: Path, **config: Any) -> None:
        super().__init__(**config)
        self.workdir = workdir
        self.tls: TlsFiles | None = None
        self.port = 0
        #: Tracebacks of requests that crashed the server (answered 500 serverInternal).
        self.errors: list[str] = []
        self._requests: list[tuple[float, str]] = []
        #: Every User-Agent header the CA received.
        self.user_agents: set[str] = set()
        self._server: _TlsServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- the Pebble-compatible surface ------------------------------------------------------------

    @property
    def directory_url(self) -> str:
        return self.url("/dir")

    @property
    def ca_bundle(self) -> Path:
        assert self.tls is not None, "start() the CA first"
        return self.tls.ca_cert

    def root_pem(self, index: int = 0) -> bytes:
        """The issuing root (``index=1``: the alternate root of the alternate chain)."""
        return self.hierarchy.alt_root_pem() if index else self.hierarchy.root_pem()

    def request_lines(self) -> list[str]:
        """``"METHOD /path"`` for every request handled so far, in order."""
        with self.lock:
            return [line for _, line in self._requests]

    def request_log(self) -> list[tuple[float, str]]:
        """``(time.monotonic() when it arrived, "METHOD /path")`` for every request so far."""
        with self.lock:
            return list(self._requests)

    def count(self, endpoint_path: str, method: str = "POST") -> int:
        """How many *method* requests went to paths starting with *endpoint_path*."""
        prefix = f"{method} {endpoint_path}"
        return sum(1 for line in self.request_lines() if line.startswith(prefix))

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakeCA:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tls = make_server_tls(self.workdir / "tls", ips=("127.0.0.1", "127.0.0.2"))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.tls.server_cert), str(self.tls.server_key))
        self._server = _TlsServer(("127.0.0.1", 0), _RequestHandler, ctx, self)
        self.port = int(self._server.server_address[1])
        self.base_url = f"https://127.0.0.1:{self.port}"
        self.http_port, self.tls_port = free_port(), free_port()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fakeca-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.drop_connections()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeCA:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- one request ------------------------------------------------------------------------------

    def respond(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        """Route, authenticate, handle and apply transport faults."""
        path = raw_path.split("?", 1)[0]
        with self.lock:
            self._requests.append((time.monotonic(), f"{method} {path}"))
            self.user_agents.add(headers.get("user-agent", ""))
        route, groups = self._match(path)
        endpoint = route.endpoint if route else "unknown"
        stall = self.faults.active("stall", endpoint)
        if stall is not None:
            self._stopping.wait(float(stall))
        redirect = self.faults.active("redirect", endpoint)
        if redirect is not None:
            return Response(307, [("Location", str(redirect))])
        try:
            if route is None:
                raise Problem(404, "malformed", f"No resource at {path}")
            if method not in route.methods:
                raise Problem(405, "malformed", f"{method} is not allowed on {path}")
            auth = None
            if method == "POST":
                auth = self.authenticate(endpoint, self.request_url(path, headers), headers, body)
            reply = route.call(self, method, auth, groups)
        except Problem as exc:
            reply = Reply.problem(exc)
        except Exception as exc:
            with self.lock:
                self.errors.append(traceback.format_exc())
            reply = Reply.problem(Problem(500, "serverInternal", f"fake CA bug: {exc!r}"))
        return self._transport(reply, endpoint)

    def request_url(self, path: str, headers: Mapping[str, str]) -> str:
        """The URL the client asked for: ``https://<Host header><path>``, so that a JWS
        ``url`` naming another of the CA's names (``localhost``) is accepted."""
        host = headers.get("host")
        return f"https://{host}{path}" if host else self.url(path)

    @staticmethod
    def _match(path: str) -> tuple[Route | None, dict[str, str | None]]:
        for route in ROUTES:
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None, {}

    def _transport(self, reply: Reply, endpoint: str) -> Response:
        headers = list(reply.headers)
        nonce = self.faults.active("replay_nonce", endpoint)
        if nonce is None:
            headers.append(("Replay-Nonce", self.nonces.issue()))
        elif nonce != "":
            headers.append(("Replay-Nonce", str(nonce)))
        headers.append(("Link", f'<{self.directory_url}>;rel="index"'))
        if reply.body is not None:
            headers.append(("Content-Type", reply.content_type))
        body = reply.payload()
        unframed = False
        if self.faults.active("oversized", endpoint):
            if isinstance(reply.body, dict):
                padded = dict(reply.body, padding="x" * OVERSIZED_BYTES)
                body = json.dumps(padded).encode()
            else:
                body = body + b"\n" * (OVERSIZED_BYTES - len(body))
            unframed = bool(self.faults.oversized_unframed)
        return Response(reply.status, headers, body, unframed)


@contextmanager
def fake_ca(workdir: Path, **config: Any) -> Iterator[FakeCA]:
    """``with fake_ca(tmp_path, auto_valid=False) as ca: ...`` (started, stopped after)."""
    ca = FakeCA(workdir, **config).start()
    try:
        yield ca
    finally:
        ca.stop()


class _TlsServer(ThreadingHTTPServer):
    """TLS is set up in each connection's thread, so a slow handshake blocks no one."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        context: ssl.SSLContext,
        ca: FakeCA,
    ) -> None:
        super().__init__(address, handler)
        self.context = context
        self.ca = ca
        self._open: set[ssl.SSLSocket] = set()
        self._open_lock = threading.Lock()

    def drop_connections(self) -> None:
        """Cut the keep-alive connections still open (their threads then end)."""
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            conn = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        handler: Any = self.RequestHandlerClass
        with self._open_lock:
            self._open.add(conn)
        try:
            handler(conn, client_address, self)
        finally:
            with self._open_lock:
                self._open.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # broken connections are the client's business


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeACME/1.0"
    sys_version = ""
    timeout = 60
    server: _TlsServer

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        resp = self.server.ca.respond(self.command, self.path, headers, body)
        try:
            self.send_response(resp.status)
            for name, value in resp.headers:
                self.send_header(name, value)
            if resp.unframed:
                self.send_header("Connection", "close")
                self.close_connection = True
            elif resp.status != 204:
                self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.body)
        except (TimeoutError, BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        pass
