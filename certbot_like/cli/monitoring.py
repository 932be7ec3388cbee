"""The monitoring flags of ``renew``: ``--metrics-file``, ``--notify*`` and ``--ping-url``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from certbot_like.cli.options import F, opt

# the choices of --notify-on (services.notify checks the same tuple; importing it here would
# load the renew services for every renew start-up)
NOTIFY_ON = ("failure", "change", "always")

if TYPE_CHECKING:
    from certbot_like.services.run_monitor import MonitorSettings


class IntervalType(click.ParamType):  # type: ignore[type-arg]  # generic only in click 8.2+
    """``24h``, ``90 minutes``, ``2d`` -> seconds."""

    name = "interval"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, float):
            return value
        from certbot_like.errors import ConfigError
        from certbot_like.services.due import parse_interval

        try:
            seconds = parse_interval(str(value)).total_seconds()
        except ConfigError:
            self.fail(f"{value!r} is not an interval such as '24h', '30m' or '2d'", param, ctx)
        return float(seconds)


def monitoring_options() -> list[Callable[[F], F]]:
    """The decorators, for ``renew``."""
    return [
        opt(
            "--metrics-file",
            type=click.Path(dir_okay=False, path_type=Path),
            metavar="PATH",
            help="After the run, write Prometheus metrics there (node_exporter textfile "
            "format, replaced atomically; name it *.prom).",
        ),
        opt(
            "--notify",
            multiple=True,
            metavar="URL",
            help="Send a message after the run to this apprise URL (mailto://, slack://, "
            "json://, ntfy:// ...; repeat for several). Lineages may add their own with "
            "'notify = URL' in their renewal conf.",
        ),
        opt(
            "--notify-on",
            type=click.Choice(NOTIFY_ON),
            default="failure",
            help="failure: new failures and recoveries; change: also renewals; always: every run.",
        ),
        opt(
            "--notify-repeat",
            type=IntervalType(),
            default="24h",
            metavar="INTERVAL",
            help="Send the same failure again at most this often.",
        ),
        opt(
            "--ping-url",
            metavar="URL",
            help="Dead man's switch (healthchecks.io convention): URL/start before the run, "
            "URL on success, URL/fail on failure. A failed ping never fails the run.",
        ),
    ]


def monitor_settings(kw: Mapping[str, Any]) -> MonitorSettings:
    """The run's monitoring settings from the parsed flags."""
    from certbot_like.services.notify import NotifySettings
    from certbot_like.services.run_monitor import MonitorSettings

    repeat = kw.get("notify_repeat")
    return MonitorSettings(
        metrics_file=kw.get("metrics_file"),
        notify=NotifySettings(
            urls=tuple(u for u in kw.get("notify") or () if u),
            on=kw.get("notify_on") or "failure",
            repeat=float(repeat) if repeat is not None else 86400.0,
        ),
        ping_url=kw.get("ping_url") or None,
    )


def report_warnings(warnings: list[str], quiet: bool) -> None:
    """Print each warning on stderr (unless ``-q``); they never change the exit code."""
    if quiet:
        return
    for warning in warnings:
        click.echo(f"Warning: {warning}", err=True)
