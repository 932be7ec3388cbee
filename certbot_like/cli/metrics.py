"""``certbot-like metrics``: Prometheus metrics of every lineage, on stdout or into a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from certbot_like.cli.command import CompatCommand
from certbot_like.cli.options import common_options, opt

METRICS_HELP = """Print Prometheus metrics for every certificate lineage, or write them to a file.

\b
The node_exporter textfile format: with --output the file is replaced atomically, so
node_exporter's textfile collector never reads half of it. `renew --metrics-file PATH` writes
the same file after each run, with the run's time and duration added.

\b
  certbot-like metrics --output /var/lib/prometheus/node-exporter/certbot-like.prom

See docs/monitoring.md for the metric names and example alert rules."""


@click.command(
    "metrics", cls=CompatCommand, help=METRICS_HELP, short_help="Write Prometheus metrics."
)
@common_options
@opt(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Write the metrics to PATH (atomically) instead of stdout.",
)
@click.pass_context
def metrics_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.services.health import evaluate
    from certbot_like.services.metrics import render, write_metrics

    runtime = build_runtime(ctx, kw, log=False)
    report = evaluate(runtime.settings.store)
    last_run = report.state.last_run if report.state else None
    if kw.get("output"):
        write_metrics(kw["output"], report, last_run)
    else:
        click.echo("".join(render(report, last_run)), nl=False)
