"""Automatic renewal: the systemd service and timer, the cron file, and installing them.

``certbot-like schedule install|remove|status`` is a thin click layer over this module. The
files are rendered here, in code, so they always name the executable and directories of the
installation that wrote them:

* ``certbot-like-renew.service`` runs ``certbot-like renew -q --no-random-sleep-on-renew``
  (the timer's ``RandomizedDelaySec=`` spreads the load on the CA instead of the client's own
  random sleep);
* ``certbot-like-renew.timer`` starts it every ``interval`` hours (twice a day by default)
  with a random delay of up to ``interval / 12`` hours, catching up missed runs after
  downtime (``Persistent=true``);
* ``/etc/cron.d/certbot-like`` does the same on machines without systemd, and skips itself
  when systemd runs the timer.

The service's sandbox is deliberately light: ``renew`` writes to the config, work and logs
directories, installers edit web server configuration under ``/etc``, and deploy hooks may
write anywhere (a combined PEM for haproxy, a Java keystore under ``/usr/lib``, a webroot
under ``/home``), so ``ProtectSystem=``, ``ProtectHome=``, ``ReadWritePaths=`` and
``NoNewPrivileges=`` would each break some working setup. What is set never affects a
renewal: a private ``/tmp`` (as certbot's own unit) and low CPU and I/O priority. Operators
who know their hooks can tighten it with a drop-in (``systemctl edit
certbot-like-renew.service``), which survives a reinstall.

Everything the module does to the machine goes through :class:`Host` (directories, the
``systemctl`` executable, the command runner), so tests point it at temporary directories and
a fake runner instead of patching.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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


def _ours(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return handle.readline().startswith(MARKER)
    except OSError:
        return False


@dataclass(kw_only=True)
class Actions:
    """What changed on the machine: files removed, ``systemctl`` commands run, notes."""

    removed: list[Path] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "removed": [str(p) for p in self.removed],
            "commands": self.commands,
            "notes": self.notes,
        }


@dataclass(kw_only=True)
class InstallResult(Actions):
    """What :func:`install` did."""

    method: str
    schedule: Schedule
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def already_installed(self) -> bool:
        """True when no file had to change (a repeated install)."""
        return not self.written and not self.removed

    def to_json(self) -> dict[str, Any]:
        return {
            "action": "install",
            "method": self.method,
            "already_installed": self.already_installed,
            "interval_hours": self.schedule.interval_hours,
            "written": [str(p) for p in self.written],
            "unchanged": [str(p) for p in self.unchanged],
            **super().to_json(),
            "conflicts": [c.to_json() for c in self.conflicts],
        }


@dataclass(kw_only=True)
class RemoveResult(Actions):
    """What :func:`remove` did."""

    def to_json(self) -> dict[str, Any]:
        return {"action": "remove", **super().to_json()}


def _check_dir(directory: Path, method: str) -> None:
    """Raises: ConfigError: *directory* is missing (the scheduler is not installed)."""
    if directory.is_dir():
        return
    if method == "systemd":
        raise ConfigError(
            f"{directory} does not exist",
            "Is systemd installed? Pass --systemd-dir or --method cron",
        )
    raise ConfigError(
        f"{directory} does not exist",
        "Is cron installed (apt-get install cron)? Pass --cron-dir or --method systemd",
    )


def _systemctl(host: Host, actions: Actions, *args: str, check: bool = True) -> None:
    """Run ``systemctl *args*`` and record it; a failure becomes a note without *check*.

    Raises:
        ConfigError: it failed and *check* is set.
    """
    outcome = host.systemctl_run(*args)
    actions.commands.append(["systemctl", *args])
    if outcome.returncode != 0:
        message = f"`systemctl {' '.join(args)}` failed: {outcome.first_error_line()}"
        if check:
            raise ConfigError(message, "Fix that and run `certbot-like schedule install` again")
        actions.notes.append(message)


def install(
    host: Host,
    schedule: Schedule,
    method: str | None = None,
    *,
    enable: bool = True,
    force: bool = False,
) -> InstallResult:
    """Write the files of *method* (0644, atomically), then enable and start the timer.

    Files that already hold the same text are left alone, so a second run changes nothing
    and reports :attr:`InstallResult.already_installed`. Our files of the other method are
    removed, so exactly one renewer is installed. ``systemctl`` is skipped with *enable*
    false, without ``systemctl``, or when systemd is not running (a note says so).

    Raises:
        UsageError: an unknown method, or a path cron cannot run.
        ConfigError: certbot's own renewal is active (unless *force*), the target directory
            is missing, a file of ours exists but was not written by certbot-like (unless
            *force*), or ``systemctl`` failed.
        StorageError: a file could not be written or removed.
    """
    from certbot_like.storage.atomic import PUBLIC_MODE, write_file

    method = choose_method(host, method)
    texts = render(schedule, method)  # before anything else: a path cron cannot run
    result = InstallResult(method=method, schedule=schedule)
    result.conflicts = find_certbot_renewers(host)
    if result.conflicts and not force:
        raise conflict_error(result.conflicts)
    directory = host.systemd_dir if method == "systemd" else host.cron_dir
    _check_dir(directory, method)
    targets = [directory / name for name in texts]
    for path in targets:
        if (path.exists() or path.is_symlink()) and not force and not _ours(path):
            raise ConfigError(
                f"{path} exists and was not written by certbot-like",
                "Move it away, or pass --force to replace it",
            )
    for path in targets:
        data = texts[path.name].encode()
        try:
            same = (
                not path.is_symlink()
                and path.read_bytes() == data
                and (path.stat().st_mode & 0o7777) == PUBLIC_MODE
            )
        except OSError:
            same = False
        if same:
            result.unchanged.append(path)
        else:
            write_file(path, data, PUBLIC_MODE)
            result.written.append(path)
    if method == "systemd":
        _remove_files([host.cron_path], result, force=False)
        _enable(host, result, enable)
    else:
        _remove_systemd(host, result, force=False)
    return result


def _enable(host: Host, result: InstallResult, enable: bool) -> None:
    """Raises: ConfigError: ``systemctl`` failed."""
    manual = f"systemctl daemon-reload && systemctl enable --now {TIMER_NAME}"
    if not enable:
        result.notes.append(f"Not enabled (--no-enable); to start it: {manual}")
    elif host.systemctl is None:
        result.notes.append(f"systemctl was not found; to start the timer: {manual}")
    elif not host.systemd_running:
        result.notes.append(f"systemd is not running here; once it is: {manual}")
    else:
        if result.written or result.removed:
            _systemctl(host, result, "daemon-reload")
        _systemctl(host, result, "enable", "--now", TIMER_NAME)


def _remove_files(paths: Sequence[Path], actions: Actions, *, force: bool) -> None:
    """Delete those of *paths* that are ours (any with *force*), recording them.

    Raises:
        StorageError: a file could not be deleted.
    """
    from certbot_like.storage.atomic import storage_error

    for path in paths:
        if not path.exists() and not path.is_symlink():
            continue
        if not force and not _ours(path):
            actions.notes.append(f"Left {path} alone: it was not written by certbot-like")
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise storage_error(exc, "remove", path) from exc
        actions.removed.append(path)


def _remove_systemd(host: Host, actions: Actions, *, force: bool) -> None:
    """Stop and disable the timer, delete its enable link and our unit files, reload.

    Raises:
        StorageError: a file could not be deleted.
    """
    units = [p for p in (host.timer_path, host.service_path) if p.exists() or p.is_symlink()]
    if not units and not host.wants_link.is_symlink():
        return
    if not force and units and not all(_ours(p) for p in units):
        _remove_files(units, actions, force=False)  # only notes: nothing of ours to stop
        return
    if host.can_systemctl:
        _systemctl(host, actions, "disable", "--now", TIMER_NAME, check=False)
    before = len(actions.removed)
    if host.wants_link.is_symlink():  # left behind when systemctl could not run
        try:
            host.wants_link.unlink()
            actions.removed.append(host.wants_link)
        except FileNotFoundError:
            pass
        except OSError as exc:
            from certbot_like.storage.atomic import storage_error

            raise storage_error(exc, "remove", host.wants_link) from exc
    _remove_files(units, actions, force=True)
    if len(actions.removed) > before and host.can_systemctl:
        _systemctl(host, actions, "daemon-reload", check=False)


def remove(host: Host, *, force: bool = False) -> RemoveResult:
    """Stop and delete what :func:`install` wrote, by either method; a no-op when nothing is
    installed. Files with our names that certbot-like did not write are kept unless *force*.

    Raises:
        StorageError: a file could not be deleted.
    """
    result = RemoveResult()
    _remove_systemd(host, result, force=force)
    _remove_files([host.cron_path], result, force=force)
    return result


def _unit_value(text: str, key: str) -> str | None:
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == key:
            return value.strip()
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


@dataclass
class Status:
    """What is installed, when it runs, and what systemd says about it."""

    methods: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    systemd: dict[str, Any] | None = None
    cron: dict[str, Any] | None = None
    list_timers: str | None = None
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def installed(self) -> bool:
        return bool(self.methods)

    def to_json(self) -> dict[str, Any]:
        return {
            "installed": self.installed,
            "methods": self.methods,
            "files": [str(p) for p in self.files],
            "systemd": self.systemd,
            "cron": self.cron,
            "conflicts": [c.to_json() for c in self.conflicts],
        }


_SHOW_PROPERTIES = {
    "ActiveState": "active_state",
    "UnitFileState": "unit_file_state",
    "NextElapseUSecRealtime": "next_run",
    "LastTriggerUSec": "last_run",
}


def status(host: Host) -> Status:
    """Which method is installed, its files and schedule, and systemd's view of the timer
    (``systemctl show`` and ``list-timers``) when systemctl can be asked. Never raises for
    a missing or unreadable file; it is simply not reported."""
    result = Status(conflicts=find_certbot_renewers(host))
    timer = _read(host.timer_path)
    service = _read(host.service_path)
    if timer is not None or service is not None:
        result.methods.append("systemd")
        result.files += [p for p in (host.service_path, host.timer_path) if p.exists()]
        info: dict[str, Any] = {
            "on_calendar": _unit_value(timer or "", "OnCalendar"),
            "randomized_delay": _unit_value(timer or "", "RandomizedDelaySec"),
            "persistent": _unit_value(timer or "", "Persistent"),
            "exec_start": _unit_value(service or "", "ExecStart"),
            "enabled_link": host.wants_link.is_symlink(),
        }
        if host.can_systemctl:
            shown = host.systemctl_run(
                "show", *(f"--property={p}" for p in _SHOW_PROPERTIES), TIMER_NAME
            )
            if shown.returncode == 0:
                for line in shown.stdout.splitlines():
                    key, _, value = line.partition("=")
                    if key in _SHOW_PROPERTIES:
                        info[_SHOW_PROPERTIES[key]] = value or None
            timers = host.systemctl_run("list-timers", "--all", "--no-pager", TIMER_NAME)
            if timers.returncode == 0 and timers.stdout.strip():
                result.list_timers = timers.stdout.rstrip()
        result.systemd = info
    cron = _read(host.cron_path)
    if cron is not None:
        result.methods.append("cron")
        result.files.append(host.cron_path)
        job = next(
            (
                line
                for line in cron.splitlines()
                if line.strip() and not line.startswith("#") and not re.match(r"^\w+=", line)
            ),
            "",
        )
        fields = job.split(None, 6)
        result.cron = {
            "times": " ".join(fields[:5]) if len(fields) >= 6 else None,
            "user": fields[5] if len(fields) >= 6 else None,
            "command": fields[6] if len(fields) >= 7 else None,
        }
    return result
