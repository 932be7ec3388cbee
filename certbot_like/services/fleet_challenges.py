"""``fleet serve-challenges``: answer ``/.well-known/acme-challenge/TOKEN`` from the fleet's
store on every node, so an HTTP-01 validation passes whichever node the load balancer picks.

A small threaded HTTP server of the standard library: GET (and HEAD) of the challenge path
only; the answer is looked up in the store for each request (answers live seconds, so
nothing is cached). Anything else is 404; a store that cannot be reached is 503.
"""

from __future__ import annotations

import http.server
import logging
import re
import threading
from typing import TYPE_CHECKING

from certbot_like.errors import CertbotLikeError, UsageError

if TYPE_CHECKING:
    from certbot_like.storage.pg_store import PgStore

logger = logging.getLogger(__name__)
PREFIX = "/.well-known/acme-challenge/"
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


def parse_listen(value: str) -> tuple[str, int]:
    """``ADDR:PORT`` (``[v6]:PORT`` for IPv6) as a (host, port) pair.

    Raises:
        UsageError: not of that form.
    """
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen {value!r} is not ADDR:PORT", "Give e.g. 127.0.0.1:8402")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - the operator's choice


def upstream_for(listen: str) -> str:
    """The URL a local web server proxies the challenge path to, for ``serve-challenges
    --listen`` *listen* (an unspecified address means the loopback one).

    Raises:
        UsageError: *listen* is malformed.
    """
    host, port = parse_listen(listen)
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 - mapped away
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class ChallengeServer(http.server.ThreadingHTTPServer):
    """The server; ``store`` answers, ``served`` counts the answers given (for the log)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: PgStore) -> None:
        self.store = store
        self.served = 0
        self._count = threading.Lock()
        super().__init__(address, _Handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: ChallengeServer
    server_version = "certbot-like-fleet"
    sys_version = ""

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        path = self.path.split("?", 1)[0]
        token = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
        answer: str | None = None
        status = 404
        if TOKEN.fullmatch(token):
            try:
                answer = self.server.store.challenge_answer(token)
            except CertbotLikeError as exc:
                logger.warning("serve-challenges: %s", exc.one_line())
                status = 503
        data = (answer or "").encode()
        if answer is not None:
            status = 200
            with self.server._count:
                self.server.served += 1
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("serve-challenges: %s %s", self.address_string(), format % args)


def serve(store: PgStore, listen: str) -> None:
    """Answer challenges on *listen* until interrupted.

    Raises:
        UsageError: *listen* is malformed.
        PluginError: the address cannot be bound.
        StoreUnavailable, ConfigError: the store cannot be used (checked before listening).
    """
    from certbot_like.errors import PluginError

    address = parse_listen(listen)
    store.connect()  # a store that cannot be used is reported now, not at the first request
    try:
        server = ChallengeServer(address, store)
    except OSError as exc:
        raise PluginError(
            f"Cannot listen on {listen}: {exc.strerror or exc}", "Choose a free address and port"
        ) from None
    try:
        server.serve_forever()
    finally:
        server.server_close()
