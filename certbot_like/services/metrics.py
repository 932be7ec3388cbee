"""Prometheus metrics in the node_exporter textfile format (``*.prom``), written atomically.

Point node_exporter's ``--collector.textfile.directory`` at the file's directory; the file is
replaced by a rename, so the collector never reads half of it. The values come from the
renewal state (:mod:`certbot_like.services.health`), so writing them parses nothing that did
not change since the last run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from certbot_like.services.health import HealthReport
from certbot_like.storage.renewal_state import RunRecord

PREFIX = "certbot_like_"
# name -> (type, help); per-lineage metrics carry a ``lineage`` label.
LINEAGE_METRICS = {
    "certificate_expiration_timestamp_seconds": (
        "gauge",
        "When the lineage's current certificate expires (notAfter), POSIX seconds.",
    ),
    "certificate_renewal_timestamp_seconds": (
        "gauge",
        "When renew will renew the lineage (ARI or the lifetime rule), POSIX seconds.",
    ),
    "renewal_last_success_timestamp_seconds": (
        "gauge",
        "When a renewal of the lineage last succeeded, POSIX seconds (absent: never seen).",
    ),
    "renewal_last_attempt_failed": (
        "gauge",
        "1 when the lineage's last renewal attempt failed, else 0.",
    ),
    "renewal_failures_total": ("counter", "Failed renewal attempts of the lineage."),
    "check_state": (
        "gauge",
        "The lineage's `certbot-like check` state: 0 OK, 1 WARNING, 2 CRITICAL.",
    ),
}
RUN_METRICS = {
    "run_last_timestamp_seconds": ("gauge", "When the last renew run started, POSIX seconds."),
    "run_duration_seconds": ("gauge", "How long the last renew run took, in seconds."),
    "run_last_exit_code": ("gauge", "The exit code of the last renew run (0: nothing failed)."),
}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


def render(report: HealthReport, last_run: RunRecord | None) -> Iterator[str]:
    """The textfile's lines (each ending in a newline)."""
    rows: dict[str, list[tuple[str, float]]] = {name: [] for name in LINEAGE_METRICS}
    for health in report.lineages:
        label = _label(health.name)
        values: dict[str, float | None] = {
            "certificate_expiration_timestamp_seconds": health.not_after,
            "certificate_renewal_timestamp_seconds": health.renew_at,
            "renewal_last_success_timestamp_seconds": health.last_success,
            "renewal_last_attempt_failed": float(health.last_failed),
            "renewal_failures_total": float(health.failures),
            "check_state": float(health.status),
        }
        for name, value in values.items():
            if value is not None:
                rows[name].append((label, value))
    for name, (kind, text) in LINEAGE_METRICS.items():
        yield f"# HELP {PREFIX}{name} {text}\n# TYPE {PREFIX}{name} {kind}\n"
        for label, value in rows[name]:
            yield f'{PREFIX}{name}{{lineage="{label}"}} {_number(value)}\n'
    yield (
        f"# HELP {PREFIX}lineages Certificate lineages found.\n"
        f"# TYPE {PREFIX}lineages gauge\n{PREFIX}lineages {len(report.lineages)}\n"
    )
    if last_run is not None:
        run = {
            "run_last_timestamp_seconds": last_run.started,
            "run_duration_seconds": last_run.duration,
            "run_last_exit_code": float(last_run.exit_code),
        }
        for name, (kind, text) in RUN_METRICS.items():
            yield f"# HELP {PREFIX}{name} {text}\n# TYPE {PREFIX}{name} {kind}\n"
            yield f"{PREFIX}{name} {_number(round(run[name], 3))}\n"


def write_metrics(path: Path, report: HealthReport, last_run: RunRecord | None) -> None:
    """Atomically replace *path* with the metrics (mode 0644: they hold no secret).

    Raises:
        StorageError: the file cannot be written.
    """
    from certbot_like.storage.atomic import write_file

    write_file(path, "".join(render(report, last_run)).encode(), 0o644)
