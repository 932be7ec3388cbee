"""Start and stop the real servers the tests talk to: Pebble and pebble-challtestsrv.

Used by the pytest fixtures, by ``make demo`` and by the benchmarks, so that every one of
them runs the CA the same way: free loopback ports, a generated TLS listener certificate,
configuration written into a temporary directory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness.leaks import register_secret
from tests.harness.tlsgen import TlsFiles, make_server_tls


class ServerMissing(RuntimeError):
    """A server binary the tests need is not installed."""


def require_binary(name: str) -> str:
    """Return the path of *name* or raise :class:`ServerMissing` with the package to install."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin")
    if path is None:
        raise ServerMissing(f"{name} is not installed; run `make deps` (apt-get install ...)")
    return path


def popen_logged(args: list[str], log: Path, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start a server with its stdout and stderr in *log* (our copy of the file is closed
    at once: the child has its own)."""
    with log.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, **kwargs)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port that was free on 127.0.0.1 a moment ago (bind to 0 and read it back)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_tcp_udp_port() -> int:
    """A port free for both TCP and UDP (DNS servers need both)."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no port free for both TCP and UDP")


def wait_until(
    check: Any,
    timeout: float,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Poll *check* (a callable returning truthy) every 20 ms until it passes or *timeout*."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{tail}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not come up within {timeout} s")


def _tcp_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


@dataclass
class Challtestsrv:
    """pebble-challtestsrv as Pebble's DNS server (own responders switched off)."""

    workdir: Path
    dns_port: int = 0
    management_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = require_binary("pebble-challtestsrv")
        self.dns_port = free_tcp_udp_port()
        self.management_port = free_port()
        log = self.workdir / "challtestsrv.log"
        self.proc = popen_logged(
            [
                binary,
                "-dns01",
                f"127.0.0.1:{self.dns_port}",
                "-management",
                f"127.0.0.1:{self.management_port}",
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
            ],
            log,
        )
        wait_until(
            lambda: _tcp_open(self.management_port), 15, "pebble-challtestsrv", self.proc, log
        )

    def post(self, path: str, body: dict[str, Any]) -> None:
        """Call the management API (for example ``/set-txt``)."""
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.management_port}{path}",
            data=json.dumps(body).encode(),
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            resp.read()

    def stop(self) -> None:
        _stop(self.proc)


@dataclass
class Pebble:
    """One Pebble instance with its own ports, config and log."""

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    eab_keys: dict[str, str] | None = None
    validity_seconds: int | None = None
    dns_server: str | None = None
    tls: TlsFiles | None = None
    port: int = 0
    management_port: int = 0
    http_port: int = 0
    tls_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    challtestsrv: Challtestsrv | None = None

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    @property
    def ca_bundle(self) -> Path:
        assert self.tls is not None
        return self.tls.ca_cert

    @property
    def log_path(self) -> Path:
        return self.workdir / "pebble.log"

    def start(self) -> Pebble:
        binary = require_binary("pebble")
        for key in (self.eab_keys or {}).values():
            register_secret(key)  # every CLI run's output and log is scanned for it
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tls = make_server_tls(self.workdir / "tls")
        if self.dns_server is None:
            self.challtestsrv = Challtestsrv(self.workdir)
            self.challtestsrv.start()
            self.dns_server = f"127.0.0.1:{self.challtestsrv.dns_port}"
        self.port, self.management_port = free_port(), free_port()
        self.http_port, self.tls_port = free_port(), free_port()
        conf: dict[str, Any] = {
            "listenAddress": f"127.0.0.1:{self.port}",
            "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": str(self.tls.server_cert),
            "privateKey": str(self.tls.server_key),
            "httpPort": self.http_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": bool(self.eab_keys),
            "externalAccountMACKeys": self.eab_keys or {},
            "domainBlocklist": ["blocked.test"],
        }
        if self.validity_seconds is not None:
            conf["certificateValidityPeriod"] = self.validity_seconds
        config_path = self.workdir / "pebble-config.json"
        config_path.write_text(json.dumps({"pebble": conf}))
        env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", **self.env}
        self.proc = popen_logged(
            [binary, "-config", str(config_path), "-dnsserver", self.dns_server],
            self.log_path,
            env=env,
        )
        wait_until(self._directory_ready, 20, "pebble", self.proc, self.log_path)
        return self

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_bundle))

    def _directory_ready(self) -> bool:
        with urllib.request.urlopen(
            self.directory_url, timeout=1, context=self._ssl_context()
        ) as resp:
            return resp.status == 200

    def management_get(self, path: str) -> bytes:
        """GET from Pebble's management API, e.g. ``/roots/0``."""
        url = f"https://127.0.0.1:{self.management_port}{path}"
        with urllib.request.urlopen(url, timeout=5, context=self._ssl_context()) as resp:
            data: bytes = resp.read()
            return data

    def root_pem(self, index: int = 0) -> bytes:
        return self.management_get(f"/roots/{index}")

    def request_lines(self) -> list[str]:
        """Lines of Pebble's log that record one HTTP request to the ACME API."""
        text = self.log_path.read_text(errors="replace")
        return [line for line in text.splitlines() if "-> calling handler()" in line]

    def stop(self) -> None:
        _stop(self.proc)
        if self.challtestsrv is not None:
            self.challtestsrv.stop()


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
