"""Automatic renewal: the systemd service and timer, the cron file, and installing them.

``certbot-like schedule install|remove|status`` is a thin click layer over this package,
which is split by role:

* :mod:`~certbot_like.schedule.units`: the schedule (what runs, how often) and the text of
  the service, timer and cron files, with why the service's sandbox is light;
* :mod:`~certbot_like.schedule.detect`: the machine, through :class:`Host` (directories,
  ``systemctl``, the command runner, so tests use temporary directories and a fake runner
  instead of patching): systemd or cron, the certbot-like executable, certbot's own renewers;
* :mod:`~certbot_like.schedule.actions`: :func:`install` and :func:`remove`;
* :mod:`~certbot_like.schedule.installed`: :func:`status`, what is installed now.

Import from here; the submodules are an implementation detail.
"""

from __future__ import annotations

from certbot_like.schedule.actions import Actions, InstallResult, RemoveResult, install, remove
from certbot_like.schedule.detect import (
    CommandResult,
    Conflict,
    Host,
    choose_method,
    find_certbot_renewers,
    find_executable,
    handwritten_cron_jobs,
)
from certbot_like.schedule.installed import Status, status
from certbot_like.schedule.units import (
    CRON_NAME,
    INTERVALS,
    MARKER,
    SERVICE_NAME,
    TIMER_NAME,
    Schedule,
    check_interval,
    render,
    render_cron,
    render_service,
    render_timer,
    renew_arguments,
    systemd_quote,
)

__all__ = [
    "CRON_NAME",
    "INTERVALS",
    "MARKER",
    "SERVICE_NAME",
    "TIMER_NAME",
    "Actions",
    "CommandResult",
    "Conflict",
    "Host",
    "InstallResult",
    "RemoveResult",
    "Schedule",
    "Status",
    "check_interval",
    "choose_method",
    "find_certbot_renewers",
    "find_executable",
    "handwritten_cron_jobs",
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
