"""``certbot-like check``: a monitoring plugin in the Nagios/Icinga/Zabbix convention."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from certbot_like.cli.command import CompatCommand
from certbot_like.cli.options import common_options, json_option, opt
from certbot_like.cli.output import print_json

if TYPE_CHECKING:
    from certbot_like.services.health import HealthReport, LineageHealth

CHECK_HELP = """Judge the renewal health of every certificate, as a monitoring plugin.

\b
Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios, Icinga, Zabbix, Sensu). The first
line is `CERTBOT-LIKE <STATE> - <summary> | <perfdata>`, then one line per lineage that is
not OK: the last renewal attempt failed, it is past its renewal moment without a new
certificate, it expires soon, its key does not match, its chain does not verify, or its
renewal conf does not cover its names.

\b
By default the thresholds scale with each certificate's lifetime: WARNING when less than
half of its renewal window (the time from its renewal moment to expiry) is left, CRITICAL
under a fifth (15 and 6 days for 90-day certificates, 36 and 14 hours for 6-day ones).
--warning-days and --critical-days set absolute ones instead. See docs/monitoring.md."""


class PluginCommand(CompatCommand):
    """A command whose usage errors exit 3 (UNKNOWN), as monitoring plugins must."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            setattr(exc, "exit_code", 3)  # noqa: B010  # an instance attribute, not the class's
            raise


def _perfdata(report: HealthReport) -> str:
    counts = [sum(1 for h in report.lineages if h.status == s) for s in (0, 1, 2)]
    parts = [
        f"lineages={len(report.lineages)};;;0",
        f"ok={counts[0]};;;0",
        f"warning={counts[1]};;;0",
        f"critical={counts[2]};;;0",
    ]
    expiries = [h.not_after for h in report.lineages if h.not_after is not None]
    if expiries:
        import time

        parts.append(f"shortest_validity={max(0, int(min(expiries) - time.time()))}s;;;0")
    return " ".join(parts)


def _summary(report: HealthReport) -> str:
    bad = [h for h in report.lineages if h.status]
    if not report.lineages and not report.missing:
        return "no certificate lineages found"
    if not bad and not report.missing:
        return f"{len(report.lineages)} lineage(s) renewing as they should"
    worst = sorted(bad, key=lambda h: -h.status)[:3]
    shown = ", ".join(f"{h.name} ({h.findings[0]})" for h in worst)
    more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
    parts = []
    if bad:
        parts.append(
            f"{len(bad)} of {len(report.lineages)} lineage(s) need attention: {shown}{more}"
        )
    if report.missing:
        parts.append(f"no lineage named {', '.join(report.missing)}")
    return "; ".join(parts)


def _line(health: LineageHealth) -> str:
    from certbot_like.services.health import STATE_NAMES

    return f"{STATE_NAMES[health.status]}: {health.name}: {'; '.join(health.findings)}"


@click.command(
    "check",
    cls=PluginCommand,
    help=CHECK_HELP,
    short_help="Monitoring plugin: renewal health (exit 0-3).",
)
@common_options
@opt(
    "--cert-name",
    "cert_names",
    multiple=True,
    metavar="NAME",
    help="Only these lineages (repeat for several).",
)
@opt(
    "--warning-days",
    type=click.FloatRange(0, min_open=True),
    metavar="D",
    help="WARNING when fewer days are left [default: half the renewal window].",
)
@opt(
    "--critical-days",
    type=click.FloatRange(0, min_open=True),
    metavar="D",
    help="CRITICAL when fewer days are left [default: a fifth of the renewal window].",
)
@json_option
@click.pass_context
def check_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.errors import CertbotLikeError
    from certbot_like.services.health import STATE_NAMES, UNKNOWN, Thresholds, evaluate

    try:
        from certbot_like.cli.runtime import build_runtime

        runtime = build_runtime(ctx, kw, log=False)
        report = evaluate(
            runtime.settings.store,
            kw.get("cert_names") or None,
            Thresholds(kw.get("warning_days"), kw.get("critical_days")),
        )
    except CertbotLikeError as exc:
        if kw.get("as_json"):
            print_json({"state": "UNKNOWN", "error": exc.one_line()})
        else:
            click.echo(f"CERTBOT-LIKE UNKNOWN - {exc.one_line()}")
        raise click.exceptions.Exit(UNKNOWN) from None
    status = report.status
    if kw.get("as_json"):
        doc = {
            "state": STATE_NAMES[status],
            "exit_code": status,
            "summary": _summary(report),
            "missing": report.missing,
            "lineages": [h.to_json() for h in report.lineages],
        }
        print_json(doc)
    else:
        click.echo(f"CERTBOT-LIKE {STATE_NAMES[status]} - {_summary(report)} | {_perfdata(report)}")
        for health in sorted(report.lineages, key=lambda h: (-h.status, h.name)):
            if health.status:
                click.echo(_line(health))
        for name in report.missing:
            click.echo(f"UNKNOWN: {name}: no such lineage")
    if status:
        raise click.exceptions.Exit(status)
