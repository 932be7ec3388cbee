"""The one way tests run certbot-like: every run is scanned for secrets when it ends.

A child process (:func:`run_cli`, :func:`start_cli`), click's ``CliRunner``
(:func:`invoke_cli`) or ``main()`` in this process (:func:`run_main`): each returns what the
run printed only after :func:`scan_run` found no secret material in its stdout, its stderr
and, when the run has a ``--logs-dir``, the log files it wrote (see
:mod:`tests.harness.leaks` for what counts). A leak raises
:class:`~tests.harness.leaks.SecretLeak`, which fails the test and names the leak.

``tests/unit/test_leak_scanner.py`` proves the scan fails on a planted leak, and fails when
a test under ``tests/`` starts the CLI any other way.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tests.harness.leaks import (
    assert_no_leaks,
    log_texts,
    option_value,
    secrets_in_args,
    secrets_in_config_dir,
)

#: How the tests start the real CLI (the installed entry point runs the same ``main``).
CLI = [sys.executable, "-m", "certbot_like.cli.main"]
#: File-system timestamps come from a coarse clock: look at logs changed a little earlier.
_MTIME_SLACK = 2.0


@dataclass
class Result:
    """A finished certbot-like run."""

    returncode: int
    stdout: str
    stderr: str
    args: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"exit {self.returncode} for {' '.join(self.args)}\n--- stdout\n{self.stdout}"
            f"\n--- stderr\n{self.stderr}"
        )


def _label(args: Sequence[str]) -> str:
    """``certbot-like COMMAND`` (the first word that is not an option)."""
    command = next((a for a in args if not a.startswith("-")), "")
    return f"`certbot-like {command}`" if command else "`certbot-like`"


def _path(value: str | None, cwd: Path | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    return path if path.is_absolute() or cwd is None else cwd / path


def scan_run(
    args: Sequence[str],
    outputs: Mapping[str, str],
    *,
    secrets: Iterable[str] = (),
    cwd: Path | None = None,
    started: float | None = None,
) -> set[str]:
    """Fail if *outputs* (``{"stdout": ..., "stderr": ...}``) or the run's log leak a secret.

    The secrets looked for: *secrets*, the registered ones, those named by *args* (flag
    values, credential files) and the private keys in the run's ``--config-dir``.
    Returns the set of specific secrets used, for a caller to remember across runs.

    Raises:
        SecretLeak: with what leaked and where.
    """
    known = set(secrets) | secrets_in_args(args, cwd)
    config_dir = _path(option_value(args, "--config-dir"), cwd)
    if config_dir is not None:
        known |= secrets_in_config_dir(config_dir)
    label = _label(args)
    texts = [(f"{name} of {label}", text) for name, text in outputs.items()]
    logs_dir = _path(option_value(args, "--logs-dir"), cwd)
    if logs_dir is not None:
        since = None if started is None else started - _MTIME_SLACK
        texts += [(f"{where} (log of {label})", text) for where, text in log_texts(logs_dir, since)]
    assert_no_leaks(texts, known)
    return known


def run_cli(
    args: Sequence[str],
    *,
    launcher: Sequence[str] = CLI,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    input_text: str | None = None,
    stdin: int | IO[Any] | None = None,
    secrets: Iterable[str] = (),
) -> Result:
    """Run ``launcher + args`` to the end, scan it, return what it printed.

    *launcher* is the Python command that ends in the CLI's ``main`` (the crash tests use
    one that first patches a seam). *env* is the whole environment (default: this one's).
    """
    full = [*launcher, *args]
    started = time.time()
    proc = subprocess.run(
        full,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ) if env is None else dict(env),
        cwd=cwd,
        input=input_text,
        stdin=None if input_text is not None else stdin,
        check=False,
    )
    result = Result(proc.returncode, proc.stdout, proc.stderr, full)
    scan_run(
        args,
        {"stdout": proc.stdout, "stderr": proc.stderr},
        secrets=secrets,
        cwd=cwd,
        started=started,
    )
    return result


@dataclass
class CliProcess:
    """A certbot-like started in the background; :meth:`finish` waits, scans and returns."""

    proc: subprocess.Popen[str]
    args: list[str]
    cli_args: list[str]
    started: float
    output: Path | None
    secrets: frozenset[str]
    result: Result | None = None

    def finish(self, timeout: float = 120) -> Result:
        """Wait for the end (or kill at *timeout*), then scan what it printed and logged."""
        if self.result is not None:
            return self.result
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        if self.output is not None:
            out, err = self.output.read_text(errors="replace"), ""
        self.result = Result(self.proc.returncode, out or "", err or "", self.args)
        scan_run(
            self.cli_args,
            {"stdout": self.result.stdout, "stderr": self.result.stderr},
            secrets=self.secrets,
            started=self.started,
        )
        return self.result


def start_cli(
    args: Sequence[str],
    *,
    launcher: Sequence[str] = CLI,
    env: Mapping[str, str] | None = None,
    output: Path | None = None,
    secrets: Iterable[str] = (),
) -> CliProcess:
    """Start ``launcher + args`` without waiting. stdout and stderr go to pipes, or both to
    the file *output* (a test can then watch it while the run goes on)."""
    full = [*launcher, *args]
    started = time.time()
    if output is None:
        proc = subprocess.Popen(
            full,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ) if env is None else dict(env),
        )
    else:
        with output.open("w") as sink:
            proc = subprocess.Popen(
                full,
                stdout=sink,
                stderr=subprocess.STDOUT,
                text=True,
                env=dict(os.environ) if env is None else dict(env),
            )
    return CliProcess(proc, full, list(args), started, output, frozenset(secrets))


def invoke_cli(
    command: Any, args: Sequence[str], *, secrets: Iterable[str] = (), **kwargs: Any
) -> Any:
    """``CliRunner().invoke(command, args, **kwargs)``, scanned; the click ``Result``."""
    from click.testing import CliRunner

    started = time.time()
    result = CliRunner().invoke(command, list(args), **kwargs)
    scan_run(
        args,
        {"stdout": result.stdout, "stderr": result.stderr},
        secrets=secrets,
        started=started,
    )
    return result


def run_main(args: Sequence[str], *, secrets: Iterable[str] = ()) -> Result:
    """``certbot_like.cli.main.main(args)`` in this process, output captured and scanned."""
    from certbot_like.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    started = time.time()
    code: int | str | None = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code
    returncode = code if isinstance(code, int) else (0 if code is None else 1)
    result = Result(returncode, out.getvalue(), err.getvalue(), list(args))
    scan_run(
        args, {"stdout": result.stdout, "stderr": result.stderr}, secrets=secrets, started=started
    )
    return result
