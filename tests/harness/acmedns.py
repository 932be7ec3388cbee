"""A small stand-in for an acme-dns server (acme-dns has no Debian package).

It implements acme-dns's HTTP API (``POST /register``, ``POST /update`` with ``X-Api-User`` /
``X-Api-Key``) and, like acme-dns, keeps the two newest TXT values of each registration;
instead of serving them itself it writes them into a zone of the test BIND with RFC 2136, so
that Pebble really resolves ``_acme-challenge.<name>`` -> CNAME -> ``<subdomain>.<zone>``.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.harness.bind import Bind
from tests.harness.leaks import register_secret

_VALUE = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass
class Registration:
    username: str
    password: str
    subdomain: str
    values: list[str] = field(default_factory=list)


class FakeAcmeDns:
    """acme-dns's API on 127.0.0.1, backed by *zone* in *bind*."""

    def __init__(self, bind: Bind, zone: str) -> None:
        self.bind = bind
        self.zone = zone
        self.registrations: dict[str, Registration] = {}
        self.updates: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeAcmeDns:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fulldomain(self, registration: Registration) -> str:
        return f"{registration.subdomain}.{self.zone}"

    def _register(self) -> dict[str, Any]:
        reg = Registration(str(uuid.uuid4()), secrets.token_urlsafe(30), str(uuid.uuid4()))
        register_secret(reg.password)  # every CLI run's output and log is scanned for it
        with self.lock:
            self.registrations[reg.username] = reg
        return {
            "username": reg.username,
            "password": reg.password,
            "fulldomain": self.fulldomain(reg),
            "subdomain": reg.subdomain,
            "allowfrom": [],
        }

    def _update(self, user: str, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            reg = self.registrations.get(user)
            if reg is None or not secrets.compare_digest(reg.password, key):
                return 401, {"error": "forbidden"}
            if body.get("subdomain") != reg.subdomain:
                return 401, {"error": "forbidden"}
            value = body.get("txt")
            if not isinstance(value, str) or not _VALUE.match(value):
                return 400, {"error": "bad_txt"}
            reg.values = [*reg.values, value][-2:]
            self.updates.append((reg.subdomain, value))
            name = self.fulldomain(reg)
            self.bind.update(
                self.zone,
                delete=[(name, "TXT")],
                add=[(name, "TXT", v) for v in reg.values],
            )
        return 200, {"txt": value}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._reply(400, {"error": "malformed_json_payload"})
                    return
                if self.path == "/register":
                    self._reply(201, fake._register())
                elif self.path == "/update":
                    user = self.headers.get("X-Api-User", "")
                    key = self.headers.get("X-Api-Key", "")
                    self._reply(*fake._update(user, key, body))
                else:
                    self._reply(404, {"error": "not_found"})

        return Handler
