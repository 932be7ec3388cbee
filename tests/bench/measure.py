"""Time commands: wall clock, peak RSS (``/usr/bin/time``) and requests seen by Pebble.

One *sample* is one or more processes run back to back (20 sequential issuances are one
sample). Its wall time is measured around the whole batch with ``perf_counter``, its peak
RSS is the largest ``%M`` that ``/usr/bin/time`` reported for one of the processes (it
includes their children, e.g. the ``openssl`` calls of acme-tiny), and its request count is
the number of ACME requests Pebble logged while it ran.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TIME_BIN = "/usr/bin/time"
REQUEST_MARK = "-> calling handler()"


class BenchError(RuntimeError):
    """A measured command failed: the numbers would be meaningless."""


@dataclass
class Proc:
    """One command to run: argv and extra environment."""

    argv: list[str]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Sample:
    wall: float
    rss_kb: int
    requests: int


@dataclass
class Stat:
    """The samples of one client in one scenario."""

    samples: list[Sample] = field(default_factory=list)
    warmup: int = 0

    @property
    def runs(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def spread(self) -> tuple[float, float]:
        walls = [s.wall for s in self.samples]
        return min(walls), max(walls)

    @property
    def rss_mb(self) -> float:
        return max(s.rss_kb for s in self.samples) / 1024

    @property
    def requests(self) -> float:
        return statistics.median(s.requests for s in self.samples)

    def to_json(self) -> dict[str, Any]:
        return {
            "median_s": self.median,
            "walls_s": [s.wall for s in self.samples],
            "peak_rss_mb": self.rss_mb,
            "requests": [s.requests for s in self.samples],
            "rss_kb": [s.rss_kb for s in self.samples],
            "warmup": self.warmup,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Stat:
        """The Stat that :meth:`to_json` wrote (its samples; the medians are recomputed).

        Raises KeyError or ValueError when *data* is not such a record.
        """
        columns = zip(data["walls_s"], data["rss_kb"], data["requests"], strict=True)
        samples = [Sample(float(w), int(r), int(q)) for w, r, q in columns]
        return cls(samples, warmup=int(data["warmup"]))


class RequestCounter:
    """Counts Pebble's request lines appended to its log since the last call."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.offset = 0
        self.total = 0

    def __call__(self) -> int:
        with self.log.open("rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1  # only complete lines
        self.offset += end
        self.total += data[:end].count(REQUEST_MARK.encode())
        return self.total


class Runner:
    """Runs samples; keeps the output of the last process for error messages."""

    def __init__(self, scratch: Path, count_requests: Callable[[], int]) -> None:
        scratch.mkdir(parents=True, exist_ok=True)
        self.out = scratch / "last-output.txt"
        self.time_file = scratch / "last-time.txt"
        self.count_requests = count_requests

    def run_one(self, proc: Proc, cwd: Path | None = None) -> int:
        """Run *proc* under /usr/bin/time; return its peak RSS in KiB."""
        env = {**os.environ, **proc.env}
        argv = [TIME_BIN, "-f", "%e %M", "-o", str(self.time_file), *proc.argv]
        with self.out.open("wb") as fh:
            code = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        if code.returncode != 0:
            tail = self.out.read_text(errors="replace")[-3000:]
            raise BenchError(f"exit {code.returncode}: {' '.join(proc.argv)}\n{tail}")
        return int(self.time_file.read_text().split()[-1])

    def sample(self, procs: Sequence[Proc]) -> Sample:
        before = self.count_requests()
        started = time.perf_counter()
        rss = max(self.run_one(p) for p in procs)
        wall = time.perf_counter() - started
        return Sample(wall, rss, self.count_requests() - before)

    def measure(self, make: Callable[[], Sequence[Proc]], runs: int, warmup: int = 0) -> Stat:
        """*warmup* unmeasured samples, then *runs* measured ones (*make* builds each)."""
        for _ in range(warmup):
            self.sample(make())
        return Stat([self.sample(make()) for _ in range(runs)], warmup=warmup)
