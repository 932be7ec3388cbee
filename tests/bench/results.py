"""The raw results of a bench run as one JSON document, and reading them back.

A full run writes ``docs/bench/results.json`` next to the generated block of
``docs/performance.md`` (commit, date, machine, load and every sample of every client), so
each figure there can be traced and the charts re-drawn without re-running
(``python -m tests.bench.run --charts-only``). Other runs write under ``bench-results/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.bench.provenance import Provenance
from tests.bench.scenarios import Row

FORMAT = 1


@dataclass
class Results:
    """One run: what was measured (provenance, wheel), where and when, and its rows."""

    provenance: Provenance
    date: str  # ISO 8601, UTC
    machine: dict[str, str]
    load: dict[str, float]  # 1-min load average: start, end, max
    quick: bool
    elapsed_s: float
    rows: list[Row]
    wheel_sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "commit": self.provenance.commit,
            "subject": self.provenance.subject,
            "dirty": self.provenance.dirty,
            "changed": list(self.provenance.changed),
            "wheel_sha256": self.wheel_sha256,
            "date": self.date,
            "machine": self.machine,
            "load": self.load,
            "quick": self.quick,
            "elapsed_s": self.elapsed_s,
            **self.extra,
            "rows": [row.to_json() for row in self.rows],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Results:
        """Raises ValueError for another format, KeyError when a field is missing."""
        if data.get("format") != FORMAT:
            raise ValueError(f"results format {data.get('format')!r}, expected {FORMAT}")
        known = {"format", "commit", "subject", "dirty", "changed", "wheel_sha256", "date"}
        known |= {"machine", "load", "quick", "elapsed_s", "rows"}
        return cls(
            provenance=Provenance(data["commit"], data["subject"], tuple(data["changed"])),
            date=data["date"],
            machine=dict(data["machine"]),
            load={k: float(v) for k, v in data["load"].items()},
            quick=bool(data["quick"]),
            elapsed_s=float(data["elapsed_s"]),
            rows=[Row.from_json(r) for r in data["rows"]],
            wheel_sha256=data.get("wheel_sha256", ""),
            extra={k: v for k, v in data.items() if k not in known},
        )


def write(path: Path, results: Results) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results.to_json(), indent=1) + "\n")


def read(path: Path) -> Results:
    """Raises OSError, json.JSONDecodeError, ValueError or KeyError for a bad file."""
    return Results.from_json(json.loads(path.read_text()))
