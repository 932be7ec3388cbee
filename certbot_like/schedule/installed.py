"""What automatic renewal looks like now: which method is installed, its files and schedule,
and systemd's view of the timer (``certbot-like schedule status``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certbot_like.schedule.detect import (
    DEFAULT_SYSTEMD_DIR,
    Conflict,
    Host,
    find_certbot_renewers,
)
from certbot_like.schedule.units import SERVICE_NAME, TIMER_NAME


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
    service_path, timer_path = host.service_path, host.timer_path
    if (
        host.package_dir is not None
        and host.systemd_dir == DEFAULT_SYSTEMD_DIR
        and not (service_path.exists() or timer_path.exists())
    ):
        # the Debian package's units (same names; files in /etc/systemd/system override them)
        service_path, timer_path = host.package_dir / SERVICE_NAME, host.package_dir / TIMER_NAME
    timer = _read(timer_path)
    service = _read(service_path)
    if timer is not None or service is not None:
        result.methods.append("systemd")
        result.files += [p for p in (service_path, timer_path) if p.exists()]
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
