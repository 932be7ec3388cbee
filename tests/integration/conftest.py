"""Session fixtures for end-to-end tests: a real Pebble CA and a runner for the real CLI."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.harness.servers import Pebble

CLI = [sys.executable, "-m", "certbot_like.cli.main"]
_counter = itertools.count(1)


def unique_name(prefix: str = "site") -> str:
    """A fresh .test name, so authorizations from other tests are never reused by accident."""
    return f"{prefix}{next(_counter)}-{os.getpid()}.test"


@pytest.fixture(scope="session")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """Pebble + pebble-challtestsrv with default nonce rejection (5%)."""
    server = Pebble(tmp_path_factory.mktemp("pebble")).start()
    yield server
    server.stop()


@dataclass
class Result:
    """A finished certbot-like process."""

    returncode: int
    stdout: str
    stderr: str
    args: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"exit {self.returncode} for {' '.join(self.args)}\n--- stdout\n{self.stdout}"
            f"\n--- stderr\n{self.stderr}"
        )


@dataclass
class Client:
    """Runs certbot-like as a subprocess against one Pebble with private directories."""

    pebble: Pebble
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def work_dir(self) -> Path:
        return self.root / "work"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def base_args(self) -> list[str]:
        return [
            "--config-dir",
            str(self.config_dir),
            "--work-dir",
            str(self.work_dir),
            "--logs-dir",
            str(self.logs_dir),
            "--server",
            self.pebble.directory_url,
            "--ca-bundle",
            str(self.pebble.ca_bundle),
            "-n",
        ]

    def standalone_args(self) -> list[str]:
        return [
            "--standalone",
            "--http-01-address",
            "127.0.0.1",
            "--http-01-port",
            str(self.pebble.http_port),
            "--tls-alpn-01-address",
            "127.0.0.1",
            "--tls-alpn-01-port",
            str(self.pebble.tls_port),
        ]

    def run(
        self,
        command: str,
        *args: str,
        register: bool = True,
        timeout: float = 120,
        cwd: Path | None = None,
        input_text: str | None = None,
    ) -> Result:
        full = [*CLI, command, *self.base_args()]
        if register:
            full += ["--agree-tos", "--register-unsafely-without-email"]
        full += list(args)
        env = {**os.environ, **self.env}
        proc = subprocess.run(
            full,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=cwd,
            input=input_text,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr, full)

    def obtain(self, *domains: str, extra: Sequence[str] = (), standalone: bool = True) -> Result:
        args = [a for d in domains for a in ("-d", d)]
        if standalone:
            args += self.standalone_args()
        return self.run("obtain", *args, *extra)

    def live(self, name: str) -> Path:
        return self.config_dir / "live" / name


SECRET_MARKERS = (re.compile(r"PRIVATE KEY-----"), re.compile(r'"(d|p|q|dp|dq|qi|k)"\s*:\s*"[^"*]'))


def assert_no_secrets(client: Client, extra: tuple[str, ...] = ()) -> None:
    """No private key block, private JWK member or given secret in logs or output."""
    texts = [(f"{r.args[3:5]} stdout/stderr", r.stdout + r.stderr) for r in client.results]
    if client.logs_dir.exists():
        for path in client.logs_dir.rglob("*"):
            if path.is_file():
                texts.append((str(path), path.read_text(errors="replace")))
    for where, text in texts:
        for marker in SECRET_MARKERS:
            assert not marker.search(text), f"secret material in {where}"
        for secret in extra:
            assert secret not in text, f"a secret value leaked into {where}"


@pytest.fixture
def client(pebble: Pebble, tmp_path: Path) -> Iterator[Client]:
    """A certbot-like with empty directories of its own, pointed at the session Pebble.

    After the test, its logs and every output it printed are scanned for secrets.
    """
    made = Client(pebble, tmp_path)
    yield made
    assert_no_secrets(made)
