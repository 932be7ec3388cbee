"""Session fixtures for end-to-end tests: a real Pebble CA and a runner for the real CLI.

Every run of the CLI goes through :mod:`tests.harness.clirun`, which scans its stdout,
stderr and log for secrets when it ends (``Client.run``/``Client.start`` below use it).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from tests.harness.clirun import CLI, CliProcess, Result, run_cli, start_cli
from tests.harness.leaks import assert_no_leaks, log_texts, secrets_in_config_dir
from tests.harness.servers import Pebble

__all__ = ["Client", "Result", "assert_no_secrets", "unique_name"]
_counter = itertools.count(1)
#: Every Client a test made (by the fixture or by hand), scanned again after the test.
_clients_of_this_test: list[Client] = []


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
class Client:
    """Runs certbot-like as a subprocess against one Pebble with private directories."""

    pebble: Pebble
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    #: Secrets the scans look for besides the registered ones (keys this client wrote).
    secrets: set[str] = field(default_factory=set)
    started: list[CliProcess] = field(default_factory=list)

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def work_dir(self) -> Path:
        return self.root / "work"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def __post_init__(self) -> None:
        _clients_of_this_test.append(self)

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

    def cli_args(self, command: str, *args: str, register: bool = True) -> list[str]:
        """The arguments of one run: *command*, this client's directories and CA, *args*."""
        full = [command, *self.base_args()]
        if register:
            full += ["--agree-tos", "--register-unsafely-without-email"]
        return [*full, *args]

    def run(
        self,
        command: str,
        *args: str,
        register: bool = True,
        timeout: float = 120,
        cwd: Path | None = None,
        input_text: str | None = None,
        launcher: Sequence[str] = CLI,
    ) -> Result:
        """Run certbot-like to the end; its output and log are scanned for secrets.

        *launcher*: the Python command ending in the CLI's ``main`` (default: the real one).
        """
        return self.run_raw(
            self.cli_args(command, *args, register=register),
            timeout=timeout,
            cwd=cwd,
            input_text=input_text,
            launcher=launcher,
        )

    def run_raw(
        self,
        cli_args: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        cwd: Path | None = None,
        input_text: str | None = None,
        stdin: int | IO[Any] | None = None,
        launcher: Sequence[str] = CLI,
    ) -> Result:
        """Run certbot-like with exactly *cli_args* (no base arguments), scanned likewise.

        *env*: the whole environment (default: this process's plus ``self.env``).
        """
        self.secrets |= secrets_in_config_dir(self.config_dir)  # keys the test wrote itself
        result = run_cli(
            cli_args,
            launcher=launcher,
            env={**os.environ, **self.env} if env is None else env,
            cwd=cwd,
            timeout=timeout,
            input_text=input_text,
            stdin=stdin,
            secrets=self.secrets,
        )
        self.secrets |= secrets_in_config_dir(self.config_dir)
        self.results.append(result)
        return result

    def start(
        self,
        command: str,
        *args: str,
        register: bool = False,
        output: Path | None = None,
        launcher: Sequence[str] = CLI,
    ) -> CliProcess:
        """Start certbot-like in the background; ``.finish()`` waits and scans it (the
        fixture finishes and scans any run a test left). *output*: a file for stdout and
        stderr together, instead of pipes. *launcher*: as for :meth:`run`."""
        self.secrets |= secrets_in_config_dir(self.config_dir)
        started = start_cli(
            self.cli_args(command, *args, register=register),
            env={**os.environ, **self.env},
            output=output,
            secrets=self.secrets,
            launcher=launcher,
        )
        self.started.append(started)
        return started

    def obtain(self, *domains: str, extra: Sequence[str] = (), standalone: bool = True) -> Result:
        args = [a for d in domains for a in ("-d", d)]
        if standalone:
            args += self.standalone_args()
        return self.run("obtain", *args, *extra)

    def live(self, name: str) -> Path:
        return self.config_dir / "live" / name


def assert_no_secrets(client: Client, extra: tuple[str, ...] = ()) -> None:
    """Scan again, as a whole: every run's output, every log file and renewal conf of *client*.

    Each run was scanned when it ended; this also covers log files written outside a run
    and *extra* secrets a test names only now. Background runs are finished first.
    """
    for started in client.started:
        started.finish(timeout=0.1 if started.proc.poll() is None else 120)
    results = [*client.results, *(s.result for s in client.started if s.result is not None)]
    texts = [
        (f"{name} of {' '.join(r.args[3:5])}", text)
        for r in results
        for name, text in (("stdout", r.stdout), ("stderr", r.stderr))
    ]
    texts += log_texts(client.logs_dir)
    texts += [
        (str(conf), conf.read_text(errors="replace"))
        for conf in sorted(client.config_dir.glob("renewal/*.conf"))
    ]
    known = client.secrets | secrets_in_config_dir(client.config_dir) | set(extra)
    assert_no_leaks(texts, known)


@pytest.fixture(autouse=True)
def _scan_every_client() -> Iterator[None]:
    """After each test, :func:`assert_no_secrets` for every Client it made."""
    _clients_of_this_test.clear()
    yield
    made, _clients_of_this_test[:] = list(_clients_of_this_test), []
    for each in made:
        assert_no_secrets(each)


@pytest.fixture
def client(pebble: Pebble, tmp_path: Path) -> Client:
    """A certbot-like with empty directories of its own, pointed at the session Pebble.

    Each run is scanned for secrets when it ends; after the test, all of them again.
    """
    return Client(pebble, tmp_path)
