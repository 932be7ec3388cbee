"""``certbot-like doctor``: find what breaks renewal before it does."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from certbot_like.cli.command import CompatCommand
from certbot_like.cli.options import common_options, json_option, opt
from certbot_like.cli.output import print_json

if TYPE_CHECKING:
    from certbot_like.services.doctor import DoctorReport
    from certbot_like.services.doctor_net import NetOptions
    from certbot_like.services.lineages import LineageInfo

DOCTOR_HELP = """Find what would break renewal, each finding with why it matters and how to fix it.

\b
Checks: a renewal timer or cron job, and one frequent enough for the shortest lifetime in
use; renewal confs asking for OCSP Must-Staple; certificates relying on clientAuth;
plugins that are not installed; credentials files missing or readable by others; private
keys readable by others; broken live/ links; live/ directories without a renewal conf;
the clock against each CA's Date header; CAA records that forbid the CA; HTTP-01 names
whose A/AAAA records do not point at this machine (--offline skips the network checks).

Exit 0 when clean, 1 for warnings only, 2 when there are problems. See docs/monitoring.md."""


@click.command("doctor", cls=CompatCommand, help=DOCTOR_HELP, short_help="Find renewal problems.")
@common_options
@opt(
    "--systemd-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/etc/systemd/system"),
    help="Where to look for the renewal timer.",
)
@opt(
    "--cron-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/etc/cron.d"),
    help="Where to look for the renewal cron job.",
)
@opt(
    "--dns-resolver",
    metavar="IP[:PORT]",
    help="Resolver for the CAA and address checks [default: the system's].",
)
@opt(
    "--caa-identity",
    "caa_identities",
    multiple=True,
    metavar="DOMAIN",
    help="The CA's CAA identity (e.g. letsencrypt.org) when its directory lists none.",
)
@opt("--offline", is_flag=True, help="Skip the checks that use the network (clock, CAA, DNS).")
@json_option
@click.pass_context
def doctor_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like import schedule
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.errors import UsageError
    from certbot_like.plugin_registry import plugins
    from certbot_like.services import doctor
    from certbot_like.services.doctor_net import NetOptions, parse_resolver
    from certbot_like.services.lineages import all_lineages

    runtime = build_runtime(ctx, kw, log=False)
    resolver = None
    if kw.get("dns_resolver"):
        try:
            resolver = parse_resolver(kw["dns_resolver"])
        except ValueError:
            raise UsageError(
                f"--dns-resolver {kw['dns_resolver']!r} is not IP[:PORT]",
                "Give an IP address, e.g. 127.0.0.53 or 127.0.0.1:5353",
            ) from None
    options = NetOptions(resolver, tuple(i.lower() for i in kw.get("caa_identities") or ()))
    report = doctor.DoctorReport()
    infos = list(all_lineages(runtime.settings.store))
    host = schedule.Host.from_system(systemd_dir=kw["systemd_dir"], cron_dir=kw["cron_dir"])
    lifetime = doctor.shortest_lifetime(infos)
    cron_jobs = schedule.handwritten_cron_jobs(host)
    doctor.safe(report, "timer", doctor.check_timer, schedule.status(host), lifetime, cron_jobs)
    names = set(plugins())
    for info in infos:
        doctor.check_lineage(report, info, names)
    doctor.check_orphans(report, runtime.settings.store.orphan_certificates())
    if not kw.get("offline"):
        _network_checks(report, infos, options, runtime.settings.ca.server)
    _print(report, bool(kw.get("as_json")))
    code = report.exit_code()
    if code:
        raise click.exceptions.Exit(code)


def _network_checks(
    report: DoctorReport, infos: list[LineageInfo], options: NetOptions, default_server: str
) -> None:
    from certbot_like.services import doctor_net

    by_ca: dict[tuple[str, str | None], list[LineageInfo]] = {}
    for info in infos:
        if info.params is not None:
            key = (info.params.server or default_server, info.params.ca_bundle)
            by_ca.setdefault(key, []).append(info)
    for (server, bundle), group in by_ca.items():
        facts = doctor_net.ask_ca(server, bundle, options.timeout)
        doctor_net.check_clock(report, facts)
        identities = set(options.caa_identities or facts.identities)
        for info in group:
            if identities and info.names:
                doctor_net.check_caa(report, info.name, info.names, identities, options)
            if info.params is not None and doctor_net.uses_http01(info.params):
                doctor_net.check_addresses(report, info.name, info.names, options)


def _print(report: DoctorReport, as_json: bool) -> None:
    if as_json:
        doc = {
            "exit_code": report.exit_code(),
            "findings": [f.to_json() for f in report.findings],
        }
        print_json(doc)
        return
    if not report.findings:
        click.echo("No problems found.")
        return
    for finding in sorted(report.findings, key=lambda f: f.level != "problem"):
        where = f"{finding.lineage}: " if finding.lineage else ""
        click.echo(f"{finding.level.upper()}: {where}{finding.what}")
        click.echo(f"  why: {finding.why}")
        click.echo(f"  fix: {finding.fix}")
    problems = sum(f.level == "problem" for f in report.findings)
    warnings = len(report.findings) - problems
    click.echo(f"{problems} problem(s), {warnings} warning(s).")
