"""A tiny round-robin HTTP load balancer for the fleet tests: each request goes to the next
backend in turn, and the balancer remembers which backend answered what status."""

from __future__ import annotations

import http.client
import http.server
import itertools
import threading
from typing import Any


class RoundRobin:
    """Listens on (*host*, *port*) and forwards every GET to the backends in turn."""

    def __init__(self, host: str, port: int, backends: list[tuple[str, int]]) -> None:
        self.backends = backends
        self.answers: list[tuple[int, str, int]] = []  # (backend index, path, status)
        turn = itertools.count()
        lock = threading.Lock()
        balancer = self

        class Forward(http.server.BaseHTTPRequestHandler):
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
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((host, port), Forward)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
