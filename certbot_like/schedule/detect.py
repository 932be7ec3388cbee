"""What this machine has: systemd or cron, ``systemctl``, the certbot-like executable, and
certbot's own renewers.

Everything the schedule package does to the machine goes through :class:`Host` (directories,
the ``systemctl`` executable, the command runner), so tests point it at temporary
directories and a fake runner instead of patching.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certbot_like.errors import ConfigError, UsageError
from certbot_like.schedule.units import CRON_NAME, SERVICE_NAME, TIMER_NAME

DEFAULT_SYSTEMD_DIR = Path("/etc/systemd/system")
DEFAULT_CRON_DIR = Path("/etc/cron.d")
SYSTEMD_RUNTIME_DIR = Path("/run/systemd/system")
#: Where the Debian package ships its service and timer (same names as ours).
PACKAGE_SYSTEMD_DIR = Path("/lib/systemd/system")
METHODS = ("systemd", "cron")

# certbot's own renewers: (unit, how to switch it off).
CERTBOT_TIMERS = (
    ("certbot.timer", "systemctl disable --now certbot.timer"),
    ("snap.certbot.renew.timer", "snap stop --disable certbot.renew"),
)
CERTBOT_CRON = "certbot"


# --- the seam to the machine ---------------------------------------------------------------


@dataclass(frozen=True)
class CommandResult:
    """What a command printed and how it exited."""

    returncode: int
    stdout: str = ""
    stderr: str = ""

    def first_error_line(self) -> str:
        """The first non-empty line of stderr (or stdout), for a one-line error message."""
        for line in (self.stderr or self.stdout).splitlines():
            if line.strip():
                return line.strip()
        return f"exit status {self.returncode}"


Runner = Callable[[Sequence[str]], CommandResult]


def run_command(argv: Sequence[str]) -> CommandResult:
    """Run *argv* (no shell) with a 60 s limit; never raises (failures become a result)."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        return CommandResult(124, "", f"{argv[0]} did not finish within 60 s")
    except OSError as exc:
        return CommandResult(127, "", f"cannot run {argv[0]}: {exc.strerror or exc}")
    return CommandResult(proc.returncode, proc.stdout, proc.stderr)


@dataclass(frozen=True)
class Host:
    """Where the files go and how ``systemctl`` is run.

    ``systemctl`` is the executable's path (None: not installed); ``systemd_runtime_dir``
    exists only while systemd is the running init system; ``executable`` overrides the
    certbot-like path written into the files (None: :func:`find_executable`).
    ``package_dir`` is where a distribution package put its units (None: not looked at; only
    looked at while ``systemd_dir`` is the default, so tests in temporary directories and
    ``--systemd-dir`` never see the machine's package).
    """

    systemd_dir: Path = DEFAULT_SYSTEMD_DIR
    cron_dir: Path = DEFAULT_CRON_DIR
    systemd_runtime_dir: Path = SYSTEMD_RUNTIME_DIR
    systemctl: str | None = None
    runner: Runner = run_command
    executable: Path | None = None
    package_dir: Path | None = None

    @classmethod
    def from_system(cls, **overrides: Any) -> Host:
        """The real machine: ``systemctl`` from PATH, the subprocess runner, and the Debian
        package's units (looked at only with the default systemd directory)."""
        values: dict[str, Any] = {
            "systemctl": shutil.which("systemctl"),
            "package_dir": PACKAGE_SYSTEMD_DIR,
        }
        values.update(overrides)
        return cls(**values)

    @property
    def systemd_running(self) -> bool:
        return self.systemd_runtime_dir.is_dir()

    @property
    def can_systemctl(self) -> bool:
        """``systemctl`` is installed and systemd is running (so it can talk to PID 1)."""
        return self.systemctl is not None and self.systemd_running

    @property
    def service_path(self) -> Path:
        return self.systemd_dir / SERVICE_NAME

    @property
    def timer_path(self) -> Path:
        return self.systemd_dir / TIMER_NAME

    @property
    def wants_link(self) -> Path:
        """The symlink ``systemctl enable`` creates for the timer."""
        return self.systemd_dir / "timers.target.wants" / TIMER_NAME

    @property
    def cron_path(self) -> Path:
        return self.cron_dir / CRON_NAME

    def files(self, method: str) -> list[Path]:
        """The files *method* installs."""
        return [self.service_path, self.timer_path] if method == "systemd" else [self.cron_path]

    def systemctl_run(self, *args: str) -> CommandResult:
        assert self.systemctl is not None
        return self.runner([self.systemctl, *args])


def find_executable() -> Path:
    """The absolute path of the ``certbot-like`` executable running now.

    The path as invoked is kept (``/usr/local/bin/certbot-like``, even when it is a symlink
    into a virtualenv), so the files survive a rebuilt virtualenv.

    Raises:
        ConfigError: no executable ``certbot-like`` can be found.
    """
    candidates: list[Path] = []
    if sys.argv and Path(sys.argv[0]).name == "certbot-like":
        candidates.append(Path(os.path.abspath(sys.argv[0])))
    candidates.append(Path(sys.executable).parent / "certbot-like")
    found = shutil.which("certbot-like")
    if found:
        candidates.append(Path(os.path.abspath(found)))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ConfigError(
        "Cannot find the certbot-like executable to schedule",
        "Install certbot-like so that `certbot-like` is on PATH",
    )


def choose_method(host: Host, method: str | None) -> str:
    """*method*, or ``systemd`` when systemd is running and ``cron`` otherwise.

    Raises:
        UsageError: an unknown method.
    """
    if method is None:
        return "systemd" if host.systemd_running else "cron"
    if method not in METHODS:
        raise UsageError(f"Unknown method {method!r}", "Use --method systemd or --method cron")
    return method


# --- certbot's own renewers ----------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    """certbot's own renewal timer or cron job, active on this machine."""

    what: str
    disable: str

    def to_json(self) -> dict[str, str]:
        return {"what": self.what, "disable": self.disable}


def _cron_has_jobs(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not re.match(r"^\w+\s*=", stripped):
            return True
    return False


def find_certbot_renewers(host: Host) -> list[Conflict]:
    """certbot's timers (``certbot.timer``, ``snap.certbot.renew.timer``) and cron job, when
    enabled or active. certbot's cron job counts only where it would run: it skips itself on
    systemd machines, which is recognized by the ``/run/systemd/system`` test in its line."""
    found: list[Conflict] = []
    for unit, disable in CERTBOT_TIMERS:
        enabled = (host.systemd_dir / "timers.target.wants" / unit).exists()
        active = False
        if not enabled and host.can_systemctl:
            active = host.systemctl_run("is-active", "--quiet", unit).returncode == 0
        if enabled or active:
            found.append(Conflict(unit, disable))
    cron = host.cron_dir / CERTBOT_CRON
    try:
        text = cron.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = None
    if (
        text is not None
        and _cron_has_jobs(text)
        and not (host.systemd_running and "/run/systemd/system" in text)
    ):
        found.append(Conflict(str(cron), f"delete {cron} or comment out its job"))
    return found


_RENEW_JOB = re.compile(r"\bcertbot(-like)?\b[^#\n]*\brenew\b")


def handwritten_cron_jobs(host: Host) -> list[str]:
    """Cron files an administrator wrote that run ``certbot renew`` or ``certbot-like renew``
    (``/etc/crontab``, ``/etc/cron.d/*``, ``/etc/cron.{hourly,daily,weekly}/*`` and, for the
    real ``/etc/cron.d``, root's crontab), as ``doctor`` counts them as a renewal schedule."""
    etc = host.cron_dir.parent
    candidates = [etc / "crontab"]
    for directory in (host.cron_dir, *(etc / f"cron.{p}" for p in ("hourly", "daily", "weekly"))):
        try:
            candidates += sorted(p for p in directory.iterdir() if p.is_file())
        except OSError:
            continue
    if host.cron_dir == DEFAULT_CRON_DIR:
        candidates.append(Path("/var/spool/cron/crontabs/root"))
    found = []
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        jobs = (ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
        if any(_RENEW_JOB.search(line) for line in jobs):
            found.append(str(path))
    return found


def conflict_error(conflicts: Sequence[Conflict]) -> ConfigError:
    """The one-line refusal to install next to certbot's renewers."""
    names = ", ".join(c.what for c in conflicts)
    how = "; ".join(f"`{c.disable}`" for c in conflicts)
    return ConfigError(
        f"certbot's own renewal is active ({names}): two renewers on one config dir are "
        "pointless, they would only contend for the lock",
        f"Switch it off with {how}, or pass --force to install anyway",
    )
