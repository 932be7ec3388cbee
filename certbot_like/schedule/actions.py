"""Installing and removing automatic renewal: writing the unit files or the cron file,
``systemctl`` enable/disable, and cleaning up the other method's files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certbot_like.errors import ConfigError
from certbot_like.schedule.detect import (
    Conflict,
    Host,
    choose_method,
    conflict_error,
    find_certbot_renewers,
)
from certbot_like.schedule.units import MARKER, TIMER_NAME, Schedule, render


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
