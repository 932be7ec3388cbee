"""Tiny HTTP forwarders: a round-robin load balancer for the fleet tests (each request goes
to the next backend in turn, and the balancer remembers which backend answered what
status), and a forwarder by ``Host`` name for the takeover test."""

from __future__ import annotations

import http.client
import http.server
import itertools
import threading
from typing import Any


class _Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Served:
    """An HTTP server in a thread of the test process."""

    def _serve(self, host: str, port: int, handler: type[_Handler]) -> None:
        self.server = http.server.ThreadingHTTPServer((host, port), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class RoundRobin(_Served):
    """Listens on (*host*, *port*) and forwards every GET to the backends in turn."""

    def __init__(self, host: str, port: int, backends: list[tuple[str, int]]) -> None:
        self.backends = backends
        self.answers: list[tuple[int, str, int]] = []  # (backend index, path, status)
        turn = itertools.count()
        lock = threading.Lock()
        balancer = self

        class Forward(_Handler):
            def do_GET(self) -> None:
                with lock:
                    index = next(turn) % len(balancer.backends)
                host, port = balancer.backends[index]
                conn = http.client.HTTPConnection(host, port, timeout=5)
                try:
                    conn.request("GET", self.path, headers={"Host": self.headers["Host"] or ""})
                    reply = conn.getresponse()
                    status, body = reply.status, reply.read()
                except OSError:
                    status, body = 502, b""
                finally:
                    conn.close()
                with lock:
                    balancer.answers.append((index, self.path, status))
                self.answer(status, body)

        self._serve(host, port, Forward)


class ByHost(_Served):
    """Listens on (*host*, *port*) and forwards every GET to the backend port its ``Host``
    header names (``routes``: name -> port on 127.0.0.1; 404 for any other name): one HTTP
    port, as a CA's validation sees it, in front of several servers of one machine."""

    def __init__(self, host: str, port: int, routes: dict[str, int]) -> None:
        self.routes = routes

        class Forward(_Handler):
            def do_GET(self) -> None:
                name = (self.headers["Host"] or "").rsplit(":", 1)[0].lower()
                backend = routes.get(name)
                status, body = 404, b""
                if backend is not None:
                    conn = http.client.HTTPConnection("127.0.0.1", backend, timeout=5)
                    try:
                        conn.request("GET", self.path, headers={"Host": self.headers["Host"]})
                        reply = conn.getresponse()
                        status, body = reply.status, reply.read()
                    except OSError:
                        status = 502
                    finally:
                        conn.close()
                self.answer(status, body)

        self._serve(host, port, Forward)
