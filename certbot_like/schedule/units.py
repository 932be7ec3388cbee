"""What automatic renewal installs: the systemd service and timer and the cron file, and the
schedule they encode (what runs, how often). Pure text; nothing here touches the machine.

* ``certbot-like-renew.service`` runs ``certbot-like renew -q --no-random-sleep-on-renew``
  (the timer's ``RandomizedDelaySec=`` spreads the load on the CA instead of the client's own
  random sleep);
* ``certbot-like-renew.timer`` starts it every ``interval`` hours (twice a day by default)
  with a random delay of up to ``interval / 12`` hours, catching up missed runs after
  downtime (``Persistent=true``);
* ``/etc/cron.d/certbot-like`` does the same on machines without systemd, and skips itself
  when systemd runs the timer.

The files are rendered in code, so they always name the executable and directories of the
installation that wrote them.

The service's sandbox is deliberately light: ``renew`` writes to the config, work and logs
directories, installers edit web server configuration under ``/etc``, and deploy hooks may
write anywhere (a combined PEM for haproxy, a Java keystore under ``/usr/lib``, a webroot
under ``/home``), so ``ProtectSystem=``, ``ProtectHome=``, ``ReadWritePaths=`` and
``NoNewPrivileges=`` would each break some working setup. What is set never affects a
renewal: a private ``/tmp`` (as certbot's own unit) and low CPU and I/O priority. Operators
who know their hooks can tighten it with a drop-in (``systemctl edit
certbot-like-renew.service``), which survives a reinstall.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from certbot_like.errors import UsageError
from certbot_like.storage.layout import (
    DEFAULT_CONFIG_DIR,
    DEFAULT_LOGS_DIR,
    DEFAULT_WORK_DIR,
    Layout,
)

SERVICE_NAME = "certbot-like-renew.service"
TIMER_NAME = "certbot-like-renew.timer"
CRON_NAME = "certbot-like"
DEFAULT_INTERVAL = 12
INTERVALS = tuple(h for h in range(1, 25) if 24 % h == 0)  # 1 2 3 4 6 8 12 24
MARKER = "# Written by `certbot-like schedule install`"

_SAFE_ARG = re.compile(r"[A-Za-z0-9_@+=:,./-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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
