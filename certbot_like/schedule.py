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

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certbot_like.errors import ConfigError
from certbot_like.schedule_units import (
    CRON_NAME,
    INTERVALS,
    MARKER,
    SERVICE_NAME,
    TIMER_NAME,
    CommandResult,
    Conflict,
    Host,
    Schedule,
    check_interval,
    choose_method,
    conflict_error,
    find_certbot_renewers,
    find_executable,
    render,
    render_cron,
    render_service,
    render_timer,
    renew_arguments,
    systemd_quote,
)


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


# This module's API plus what it re-exports from schedule_units for its callers.
__all__ = [
    "CRON_NAME",
    "INTERVALS",
    "MARKER",
    "SERVICE_NAME",
    "TIMER_NAME",
    "CommandResult",
    "Host",
    "InstallResult",
    "RemoveResult",
    "Schedule",
    "Status",
    "check_interval",
    "choose_method",
    "find_certbot_renewers",
    "find_executable",
    "install",
    "remove",
    "render",
    "render_cron",
    "render_service",
    "render_timer",
    "renew_arguments",
    "status",
    "systemd_quote",
]
