"""What automatic renewal installs: the systemd service and timer and the cron file,
rendered for this installation, and how to find certbot's own renewers.

See :mod:`certbot_like.schedule` for why the service sandbox is light."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certbot_like.errors import ConfigError, UsageError
from certbot_like.storage.layout import (
    DEFAULT_CONFIG_DIR,
    DEFAULT_LOGS_DIR,
    DEFAULT_WORK_DIR,
    Layout,
)

SERVICE_NAME = "certbot-like-renew.service"
TIMER_NAME = "certbot-like-renew.timer"
CRON_NAME = "certbot-like"
DEFAULT_SYSTEMD_DIR = Path("/etc/systemd/system")
DEFAULT_CRON_DIR = Path("/etc/cron.d")
SYSTEMD_RUNTIME_DIR = Path("/run/systemd/system")
DEFAULT_INTERVAL = 12
INTERVALS = tuple(h for h in range(1, 25) if 24 % h == 0)  # 1 2 3 4 6 8 12 24
METHODS = ("systemd", "cron")
MARKER = "# Written by `certbot-like schedule install`"

# certbot's own renewers: (unit, how to switch it off).
CERTBOT_TIMERS = (
    ("certbot.timer", "systemctl disable --now certbot.timer"),
    ("snap.certbot.renew.timer", "snap stop --disable certbot.renew"),
)
CERTBOT_CRON = "certbot"

_SAFE_ARG = re.compile(r"[A-Za-z0-9_@+=:,./-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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
    """

    systemd_dir: Path = DEFAULT_SYSTEMD_DIR
    cron_dir: Path = DEFAULT_CRON_DIR
    systemd_runtime_dir: Path = SYSTEMD_RUNTIME_DIR
    systemctl: str | None = None
    runner: Runner = run_command
    executable: Path | None = None

    @classmethod
    def from_system(cls, **overrides: Any) -> Host:
        """The real machine: ``systemctl`` from PATH, the subprocess runner."""
        values: dict[str, Any] = {"systemctl": shutil.which("systemctl")}
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


# --- what to run and when ------------------------------------------------------------------


def check_interval(hours: int) -> int:
    """*hours* when it is a valid interval (1 to 24, dividing 24).

    Raises:
        UsageError: any other value.
    """
    if hours not in INTERVALS:
        raise UsageError(
            f"--interval must divide a day into equal parts, not {hours}",
            "Use one of " + ", ".join(str(h) for h in INTERVALS),
        )
    return hours


def renew_arguments(
    layout: Layout, config_file: Path | None = None, *, no_directory_hooks: bool = False
) -> tuple[str, ...]:
    """The flags ``renew`` needs to see this installation: ``--config`` when one was given,
    ``--no-directory-hooks`` when asked for, and the directories that are not the defaults
    (so the files stay short on a standard setup)."""
    args: list[str] = ["--no-directory-hooks"] if no_directory_hooks else []
    if config_file is not None:
        args += ["--config", str(Path(config_file).absolute())]
    for flag, value, default in (
        ("--config-dir", layout.config_dir, DEFAULT_CONFIG_DIR),
        ("--work-dir", layout.work_dir, DEFAULT_WORK_DIR),
        ("--logs-dir", layout.logs_dir, DEFAULT_LOGS_DIR),
    ):
        if Path(value).absolute() != default:
            args += [flag, str(Path(value).absolute())]
    return tuple(args)


@dataclass(frozen=True)
class Schedule:
    """What runs (the executable and the extra ``renew`` flags) and how often."""

    executable: Path
    interval_hours: int = DEFAULT_INTERVAL
    renew_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_interval(self.interval_hours)
        if not self.executable.is_absolute():
            raise UsageError(f"The executable path {self.executable} is not absolute")
        for arg in (str(self.executable), *self.renew_args):
            if _CONTROL.search(arg):
                raise UsageError(
                    f"Cannot schedule a path with control characters: {arg!r}",
                    "Rename the directory",
                )

    @property
    def on_calendar(self) -> str:
        """systemd's ``OnCalendar=``: midnight and every *interval* hours after it."""
        if self.interval_hours == 24:
            return "*-*-* 00:00:00"
        if self.interval_hours == 12:
            return "*-*-* 00,12:00:00"
        if self.interval_hours == 1:
            return "*-*-* *:00:00"
        return f"*-*-* 00/{self.interval_hours}:00:00"

    @property
    def randomized_delay(self) -> str:
        """``RandomizedDelaySec=``: one hour for twice a day, proportionally less or more."""
        seconds = self.interval_hours * 300
        if seconds % 3600 == 0:
            return f"{seconds // 3600}h"
        return f"{seconds // 60}min"

    @property
    def cron_times(self) -> str:
        """The five time fields of the cron line."""
        if self.interval_hours == 24:
            return "0 0 * * *"
        if self.interval_hours == 1:
            return "0 * * * *"
        return f"0 */{self.interval_hours} * * *"

    def describe(self) -> str:
        """``every 12 hours`` / ``every hour`` / ``once a day``."""
        if self.interval_hours == 24:
            return "once a day"
        if self.interval_hours == 1:
            return "every hour"
        return f"every {self.interval_hours} hours"

    def renew_argv(self, *, systemd: bool) -> list[str]:
        """The renew command line; under systemd without the client's own random sleep."""
        argv = [str(self.executable), "renew", "-q"]
        if systemd:
            argv.append("--no-random-sleep-on-renew")
        return [*argv, *self.renew_args]


def systemd_quote(arg: str) -> str:
    """*arg* as one word of a systemd ``ExecStart=`` line (quotes, ``%%`` and ``$$``)."""
    if _SAFE_ARG.fullmatch(arg):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("%", "%%").replace("$", "$$") + '"'


def cron_quote(arg: str) -> str:
    """*arg* as one shell word of a cron line.

    Raises:
        UsageError: *arg* contains ``%`` (a newline to cron, escaped differently by each cron).
    """
    if "%" in arg:
        raise UsageError(
            f"Cannot write {arg!r} into a cron file: cron treats % as a newline",
            "Use a path without % or --method systemd",
        )
    return shlex.quote(arg)


def render_service(schedule: Schedule) -> str:
    """The text of ``certbot-like-renew.service``."""
    exec_start = " ".join(systemd_quote(a) for a in schedule.renew_argv(systemd=True))
    return f"""{MARKER}; edits are overwritten.
# Customize with a drop-in: systemctl edit {SERVICE_NAME}
[Unit]
Description=Renew certificates that are due (certbot-like)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart={exec_start}
# Light sandbox only: renew writes the config, work and logs directories, installers edit
# web server configuration under /etc, and deploy hooks may write anywhere.
PrivateTmp=yes
Nice=10
IOSchedulingClass=best-effort
IOSchedulingPriority=7
"""


def render_timer(schedule: Schedule) -> str:
    """The text of ``certbot-like-renew.timer``."""
    return f"""{MARKER}; edits are overwritten.
# Customize with a drop-in: systemctl edit {TIMER_NAME}
[Unit]
Description=Run certbot-like renew {schedule.describe()}

[Timer]
OnCalendar={schedule.on_calendar}
RandomizedDelaySec={schedule.randomized_delay}
Persistent=true

[Install]
WantedBy=timers.target
"""


def render_cron(schedule: Schedule) -> str:
    """The text of ``/etc/cron.d/certbot-like``.

    The job skips itself while systemd runs ``certbot-like-renew.timer``; without a terminal
    ``renew`` waits a random 1-480 s itself, so machines do not all call the CA at once.

    Raises:
        UsageError: a path cannot be written into a cron file (see :func:`cron_quote`).
    """
    command = " ".join(cron_quote(a) for a in schedule.renew_argv(systemd=False))
    skip = f"test -d /run/systemd/system && systemctl -q is-active {TIMER_NAME}"
    return f"""{MARKER}; edits are overwritten.
# Runs certbot-like renew {schedule.describe()}; skipped while systemd runs {TIMER_NAME}.
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

{schedule.cron_times} root {skip} || {command}
"""


def render(schedule: Schedule, method: str) -> dict[str, str]:
    """``{file name: text}`` of the files *method* installs."""
    if method == "systemd":
        return {SERVICE_NAME: render_service(schedule), TIMER_NAME: render_timer(schedule)}
    return {CRON_NAME: render_cron(schedule)}


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


def conflict_error(conflicts: Sequence[Conflict]) -> ConfigError:
    """The one-line refusal to install next to certbot's renewers."""
    names = ", ".join(c.what for c in conflicts)
    how = "; ".join(f"`{c.disable}`" for c in conflicts)
    return ConfigError(
        f"certbot's own renewal is active ({names}): two renewers on one config dir are "
        "pointless, they would only contend for the lock",
        f"Switch it off with {how}, or pass --force to install anyway",
    )


# --- install / remove / status -------------------------------------------------------------


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
