"""A real HAProxy terminating TLS with a ``combined`` deploy target (key + full chain).

It runs as a daemon with a pid file, so the reload command a test hands to
``--deploy-reload`` is HAProxy's own soft reload: a new process reads the file again and
tells the old one to finish (``-sf``).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.harness.servers import free_port, require_binary, wait_until

CONFIG = """global
    daemon
    pidfile {pid}
    log stdout format raw local0 err

defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s

frontend tls
    bind 127.0.0.1:{port} ssl crt {crt}
    http-request return status 200 content-type text/plain string ok
"""


@dataclass
class HAProxy:
    """One HAProxy instance under *root* serving *crt* on a free port."""

    root: Path
    crt: Path
    port: int = 0

    def __post_init__(self) -> None:
        self.binary = require_binary("haproxy")
        self.port = self.port or free_port()
        self.config.write_text(CONFIG.format(pid=self.pid_file, port=self.port, crt=self.crt))

    @property
    def config(self) -> Path:
        return self.root / "haproxy.cfg"

    @property
    def pid_file(self) -> Path:
        return self.root / "haproxy.pid"

    def command(self, *extra: str) -> list[str]:
        return [self.binary, "-f", str(self.config), "-p", str(self.pid_file), *extra]

    @property
    def reload_command(self) -> str:
        """A shell command reloading this instance (what an operator gives --deploy-reload)."""
        start = " ".join(shlex.quote(a) for a in self.command())
        return f'{start} -sf "$(cat {shlex.quote(str(self.pid_file))})"'

    def check(self) -> subprocess.CompletedProcess[str]:
        """``haproxy -c``: does the configuration (and the certificate file) load?"""
        return subprocess.run(
            [*self.command(), "-c"], capture_output=True, text=True, timeout=30, check=False
        )

    def start(self) -> HAProxy:
        done = subprocess.run(self.command(), capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"haproxy did not start: {done.stdout}{done.stderr}")
        wait_until(self.pid_file.exists, 10, "haproxy's pid file")
        return self

    def pids(self) -> list[int]:
        if not self.pid_file.exists():
            return []
        return [int(p) for p in self.pid_file.read_text().split()]

    def stop(self) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
