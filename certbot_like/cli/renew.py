"""``certbot-like renew``: renew every lineage that is due (for timers, cron and people)."""

from __future__ import annotations

import datetime
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from certbot_like.cli.command import CompatCommand
from certbot_like.cli.monitoring import monitor_settings, monitoring_options, report_warnings
from certbot_like.cli.options import (
    F,
    account_options,
    common_options,
    json_option,
    opt,
    stored_settings_options,
    was_set,
)
from certbot_like.cli.output import print_json

if TYPE_CHECKING:
    from certbot_like.services.due import Outcome, RenewReport
    from certbot_like.services.renew_request import RenewOverrides

RENEW_HELP = """Renew every certificate that is due, with the settings it was obtained with.

\b
A lineage is due when its CA's renewal information (ARI, RFC 9773) says so, or otherwise
when a third of its lifetime is left (half for lifetimes under ten days), or at
renew_before_expiry from its renewal conf. Lineages written by certbot are renewed too.

\b
For a systemd timer or cron:   certbot-like renew -q
Renew one lineage now:         certbot-like renew --cert-name example.com --force-renewal
Rehearse against staging:      certbot-like renew --dry-run

Without a terminal it prints only renewals and errors (-q: errors only) and waits a random
1-480 s before the first CA request (--no-random-sleep-on-renew skips it). Exit 0 only when
nothing failed; see docs/exit-codes.md."""

# The stored settings the operator may override on the renew command line (typed fields of
# RenewalParams, named as the click parameters).
OVERRIDABLE_FIELDS = (
    "key_type",
    "rsa_key_size",
    "elliptic_curve",
    "reuse_key",
    "preferred_chain",
    "pre_hook",
    "post_hook",
    "deploy_hook",
)


def renew_options(func: F) -> F:
    func = stored_settings_options(func)
    decorators = [
        opt(
            "--cert-name",
            "cert_names",
            multiple=True,
            metavar="NAME",
            help="Only these lineages (repeat for several).",
        ),
        opt(
            "--force-renewal",
            "--renew-by-default",
            "force_renewal",
            is_flag=True,
            help="Renew even lineages that are not due.",
        ),
        opt("--jobs", type=click.IntRange(1, 64), default=4, help="Lineages renewed at once."),
        opt(
            "--max-requests-per-second",
            type=click.FloatRange(0),
            default=100.0,
            help="Shared limit on requests to the CA (0: none).",
        ),
        opt("--new-key", is_flag=True, help="A new key this time, even with reuse_key."),
        *monitoring_options(),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _overrides(ctx: click.Context, kw: dict[str, Any]) -> RenewOverrides:
    from certbot_like.challenges import parse_challenge_types
    from certbot_like.cli.plugin_choice import build_choice, choose_plugin_names
    from certbot_like.plugin_catalog import catalog
    from certbot_like.services.renew_request import RenewOverrides
    from certbot_like.storage.renewal_params import RenewalParams

    params: dict[str, Any] = {
        name: kw[name]
        for name in OVERRIDABLE_FIELDS
        if kw.get(name) is not None and was_set(ctx, name)
    }
    if kw.get("preferred_challenges"):
        params["pref_challs"] = parse_challenge_types(kw["preferred_challenges"])
    auth_name, inst_name = choose_plugin_names(kw, need_authenticator=False)
    authenticator = build_choice(auth_name, ctx, kw) if auth_name else None
    installer = build_choice(inst_name, ctx, kw) if inst_name else None
    plugin_values: dict[str, Any] = {}
    for info in catalog().values():
        for flag in info.flags:
            if flag.name in kw and was_set(ctx, flag.name) and kw[flag.name] not in (None, ()):
                plugin_values[flag.name] = (
                    tuple(kw[flag.name]) if flag.base == "tuple" else kw[flag.name]
                )
    return RenewOverrides(
        params=RenewalParams(**params),
        authenticator=authenticator,
        installer=installer,
        plugin_values=plugin_values,
        new_key=bool(kw.get("new_key")),
        force=bool(kw.get("force_renewal")),
        hook_timeout=float(kw.get("hook_timeout") or 300.0),
    )


class TerminalProgress:
    """A live status line on stderr while lineages renew (only on a terminal)."""

    def __init__(self) -> None:
        self.total = self.count = self.failed = 0

    def start(self, total: int) -> None:
        self.total = total
        self._draw()

    def done(self, outcome: Outcome) -> None:
        self.count += 1
        self.failed += outcome.status == "failed"
        click.echo("\r\033[K", nl=False, err=True)
        _print_outcome(outcome, quiet=False)
        self._draw()

    def finish(self) -> None:
        click.echo("\r\033[K", nl=False, err=True)

    def _draw(self) -> None:
        bar_width = 24
        filled = int(bar_width * self.count / self.total) if self.total else bar_width
        bar = "#" * filled + "-" * (bar_width - filled)
        click.echo(
            f"\r[{bar}] {self.count}/{self.total} renewed or tried, {self.failed} failed",
            nl=False,
            err=True,
        )


def _when(ts: float | None) -> str:
    if ts is None:
        return "unknown"
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _print_outcome(outcome: Outcome, quiet: bool) -> None:
    if outcome.status in ("renewed", "dry-run") and not quiet:
        verb = "Renewed" if outcome.status == "renewed" else "Dry run OK"
        click.echo(f"{verb}: {outcome.name} (expires {_when(outcome.not_after)})")
        if outcome.exit_code:
            click.echo(f"Warning: {outcome.name}: {outcome.reason}", err=True)
    elif outcome.status == "failed":
        click.echo(f"Failed: {outcome.name}: {outcome.reason}", err=True)


def _print_summary(report: RenewReport, interactive: bool, quiet: bool, printed_live: bool) -> None:
    if not printed_live:
        for outcome in report.outcomes:
            _print_outcome(outcome, quiet)
    if quiet or not interactive:
        return
    for outcome in report.by_status("not-due"):
        via = " (ARI)" if outcome.via_ari else ""
        click.echo(f"Not due: {outcome.name} (renewal from {_when(outcome.renew_at)}{via})")
    for outcome in report.by_status("deferred") + report.by_status("skipped"):
        click.echo(f"Skipped: {outcome.name}: {outcome.reason}")
    renewed = len(report.by_status("renewed")) + len(report.by_status("dry-run"))
    failed = len(report.by_status("failed"))
    if renewed or failed:
        click.echo(
            f"{renewed} renewed, {failed} failed, {len(report.by_status('not-due'))} not due."
        )
    else:
        click.echo("No renewals were attempted.")


@click.command(
    "renew",
    cls=CompatCommand,
    with_plugins=True,
    help=RENEW_HELP,
    short_help="Renew certificates that are due.",
)
@common_options
@account_options
@renew_options
@json_option
@click.pass_context
def renew_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.errors import CertbotLikeError
    from certbot_like.services.due import RenewOptions
    from certbot_like.services.renew import renew_all
    from certbot_like.services.run_monitor import MonitorSettings, finish_run, start_run

    monitor_settings(kw).register_secrets()  # before the log records the command line
    runtime = build_runtime(ctx, kw)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    opts = RenewOptions(
        cert_names=frozenset(kw["cert_names"]) if kw.get("cert_names") else None,
        overrides=_overrides(ctx, kw),
        server_override=kw.get("server") if was_set(ctx, "server") else None,
        bundle_override=kw.get("ca_bundle") if was_set(ctx, "ca_bundle") else None,
        run_deploy_hooks=bool(kw.get("run_deploy_hooks")),
        directory_hooks=not kw.get("no_directory_hooks"),
        jobs=int(kw.get("jobs") or 4),
        random_sleep=not interactive and not kw.get("no_random_sleep"),
        max_requests_per_second=float(kw.get("max_requests_per_second") or 0),
    )
    quiet = runtime.settings.quiet
    progress = TerminalProgress() if interactive and not quiet and not kw.get("as_json") else None
    monitor = monitor_settings(kw) if not runtime.settings.dry_run else MonitorSettings()
    started = time.time()
    report_warnings(start_run(monitor), quiet)
    try:
        report = renew_all(
            runtime.settings,
            opts,
            runtime.display,
            runtime.hooks(opts.overrides.hook_timeout),
            runtime.locked,
            progress,
        )
    except CertbotLikeError as exc:
        store, took = runtime.settings.store, time.time() - started
        report_warnings(finish_run(store, monitor, None, exc, started, took), quiet)
        raise
    store, took = runtime.settings.store, time.time() - started
    if not runtime.settings.dry_run:
        report_warnings(finish_run(store, monitor, report, None, started, took), quiet)
    if kw.get("as_json"):
        print_json(report.to_json())
    else:
        _print_summary(report, interactive, quiet, progress is not None)
    code = report.exit_code()
    if code:
        raise click.exceptions.Exit(code)
