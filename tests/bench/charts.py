"""The bench's charts, drawn as SVG with matplotlib (the ``bench`` extra, never a runtime one).

- ``perf-per-lineage.svg``: what one lineage costs (median wall time / N) in a no-op
  ``renew`` and in ``certificates`` against the number of lineages N, both axes log scale.
- ``perf-rtt.svg``: one issuance's wall time against the round-trip time to the CA, from the
  rows ``rtt<rtt ms>-issue-<names>``, with the target (2n+7) x RTT + 0.3 s dashed. Not drawn
  (and a stale one removed) when the results have no such rows.

The SVG is reproducible: no date in its metadata, a fixed hash salt for its ids, and text
kept as ``<text>`` elements.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.bench.scenarios import Row

PER_LINEAGE = "perf-per-lineage.svg"
RTT = "perf-rtt.svg"
LABELS = {
    "ours": "certbot-like",
    "ours-cold": "certbot-like, first run (cold)",
    "certbot": "certbot 5.8",
    "acme-tiny": "acme-tiny",
}
# One colour per client in every panel; ours' cold first run dashed in ours' colour.
STYLE = {"ours": "o-", "ours-cold": "o--", "certbot": "s-", "acme-tiny": "^-"}
COLOUR = {"ours": "C0", "ours-cold": "C0", "certbot": "C1", "acme-tiny": "C2"}
RTT_KEY = re.compile(r"^rtt(\d+)-issue-(\d+)$")

Series = dict[str, list[tuple[float, float]]]  # client -> [(x, y)], x ascending


def per_lineage(rows: list[Row], prefix: str) -> Series:
    """Milliseconds per lineage for rows ``<prefix>-<N>``, per client."""
    series: Series = {}
    for row in rows:
        head, _, size = row.key.rpartition("-")
        if head != prefix or not size.isdigit():
            continue
        n = int(size)
        for client, stat in row.stats.items():
            series.setdefault(client, []).append((n, 1000 * stat.median / n))
    return {k: sorted(v) for k, v in series.items()}


def rtt(rows: list[Row]) -> dict[int, Series]:
    """Issuance wall time (s) against RTT (ms), per number of names, per client."""
    out: dict[int, Series] = {}
    for row in rows:
        match = RTT_KEY.match(row.key)
        if not match:
            continue
        rtt_ms, names = int(match[1]), int(match[2])
        for client, stat in row.stats.items():
            out.setdefault(names, {}).setdefault(client, []).append((rtt_ms, stat.median))
    return {n: {k: sorted(v) for k, v in s.items()} for n, s in sorted(out.items())}


def _plot(ax: Any, series: Series) -> None:
    for client in [c for c in LABELS if c in series] + sorted(set(series) - set(LABELS)):
        xs, ys = zip(*series[client], strict=True)
        style, label = STYLE.get(client, "x-"), LABELS.get(client, client)
        if client == "ours" and "ours-cold" in series:
            label += ", warm"
        ax.plot(xs, ys, style, color=COLOUR.get(client), label=label, markersize=4)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)


def _save(fig: Any, path: Path) -> None:
    import matplotlib

    path.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context({"svg.hashsalt": "certbot-like-bench", "svg.fonttype": "none"}):
        fig.savefig(path, format="svg", metadata={"Date": None})


def _figure(panels: int) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2 * panels, 4.2), layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    return fig, list(axes)


def draw_per_lineage(rows: list[Row], path: Path) -> bool:
    """Draw the per-lineage chart into *path*; False (nothing written) without no-op rows."""
    panels = [
        ("no-op renew", per_lineage(rows, "noop")),
        ("certificates", per_lineage(rows, "certs")),
    ]
    panels = [(title, series) for title, series in panels if series]
    if not panels:
        return False
    fig, axes = _figure(len(panels))
    for ax, (title, series) in zip(axes, panels, strict=True):
        _plot(ax, series)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{title}: cost per lineage")
        ax.set_xlabel("lineages (N)")
        ax.set_ylabel("ms per lineage (median wall time / N)")
    _save(fig, path)
    return True


def draw_rtt(rows: list[Row], path: Path) -> bool:
    """Draw the RTT chart into *path*; False (nothing written) without ``rtt*-issue-*`` rows."""
    by_names = rtt(rows)
    if not by_names:
        return False
    fig, axes = _figure(len(by_names))
    for ax, (names, series) in zip(axes, by_names.items(), strict=True):
        _plot(ax, series)
        rtts = sorted({x for points in series.values() for x, _ in points})
        target = [(2 * names + 7) * r / 1000 + 0.3 for r in rtts]
        ax.plot(rtts, target, ":", color="gray", label=f"target ({2 * names + 7}) x RTT + 0.3 s")
        ax.legend(fontsize=8)
        ax.set_title(f"one issuance of {names} name{'s' if names > 1 else ''}")
        ax.set_xlabel("round-trip time to the CA (ms)")
        ax.set_ylabel("wall time (s, median)")
    _save(fig, path)
    return True


def draw_all(rows: list[Row], out_dir: Path) -> list[str]:
    """Draw both charts into *out_dir*; one line for each chart drawn or skipped.

    A chart whose rows are missing is not drawn and an older file of it is removed, so a
    document never shows a picture from another run.
    """
    notes = []
    for name, draw, missing in (
        (PER_LINEAGE, draw_per_lineage, "no no-op or `certificates` rows in this run"),
        (RTT, draw_rtt, "no `rtt*-issue-*` rows in this run"),
    ):
        path = out_dir / name
        if draw(rows, path):
            notes.append(f"drew {path}")
        else:
            path.unlink(missing_ok=True)
            notes.append(f"{name} not drawn: {missing}")
    return notes
