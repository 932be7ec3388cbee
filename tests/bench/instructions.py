"""Instruction counts (callgrind) of certbot-like at this tree against another commit.

Wall times on a shared 2-core machine move by 10-20% between two runs of the bench, so a
regression check between two builds of certbot-like needs a measure that does not: the
instructions a whole process executes (valgrind's callgrind, ``Collected``), which repeat
to within 0.2% for a single-threaded command. Each build is a wheel install
(``tests/bench/ours.py``); each command runs once untimed first (page cache, the plugin
catalog cache), then under callgrind; a command with threads (``renew --force-renewal`` of
10 lineages with ``--jobs 8``) varies more and runs three times (the median is kept).

    .venv/bin/python -m tests.bench.instructions --base-rev bddffc9   # ~6 min
    make bench-instructions

Writes ``docs/bench/instructions.json`` (``--out`` to change) and prints a table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from tests.bench.clients import CliClient, fresh_names
from tests.bench.measure import BenchError, Proc
from tests.bench.ours import ROOT, ensure_base, ensure_ours
from tests.bench.provenance import read as read_provenance
from tests.bench.run import PEBBLE_ENV
from tests.harness.servers import Pebble

OUT = ROOT / "docs" / "bench" / "instructions.json"
_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(proc: Proc) -> int:
    """The instructions *proc* executes, under callgrind. Raises BenchError if it fails."""
    with tempfile.TemporaryDirectory(prefix="callgrind-") as tmp:
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out", *proc.argv]
        done = subprocess.run(
            argv, capture_output=True, text=True, env={**os.environ, **proc.env}, check=False
        )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        tail = done.stdout[-1500:] + done.stderr[-1500:]
        raise BenchError(f"{' '.join(proc.argv)} failed:\n{tail}")
    return int(found.group(1))


def _untimed(proc: Proc) -> None:
    subprocess.run(proc.argv, env={**os.environ, **proc.env}, capture_output=True, check=False)


def measure(client: CliClient, scratch: Path) -> dict[str, int]:
    """Instruction counts of each scenario for *client* (its own trees under *scratch*)."""
    results: dict[str, int] = {}

    def count(key: str, make: Callable[[], Proc], runs: int = 1) -> None:
        _untimed(make())
        samples = [instructions(make()) for _ in range(runs)]
        results[key] = int(statistics.median(samples))

    count("--version", lambda: client.proc("--version"))
    count("renew --help", lambda: client.proc("renew", "--help"))
    config, work = scratch / "issue", scratch / "issue-work"
    client.register(config, work)
    count("issue 1 name", lambda: client.obtain(config, work, fresh_names("i", 1)), runs=2)
    count("issue 10 names", lambda: client.obtain(config, work, fresh_names("t", 10)))
    for size in (100, 1000):
        config, work = scratch / f"noop{size}", scratch / f"noop{size}-work"
        client.make_tree(config, work, size, f"n{size}x")
        count(f"no-op renew, {size:,} lineages (warm)", lambda c=config, w=work: client.renew(c, w))
        count(
            f"certificates, {size:,} lineages",
            lambda c=config, w=work: client.certificates(c, w),
        )
    config, work = scratch / "forced", scratch / "forced-work"
    client.make_tree(config, work, 10, "f")
    count(
        "forced renewal, 10 lineages",
        lambda: client.renew(config, work, "--force-renewal"),
        runs=3,
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-rev", required=True, metavar="REV", help="the commit to compare")
    parser.add_argument("--out", type=Path, default=OUT, help=f"JSON results (default {OUT})")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is missing: apt-get install valgrind (make deps installs it)")
        return 2
    prov = read_provenance(ROOT)
    ours = ensure_ours()
    base = ensure_base(args.base_rev)
    scratch = Path(tempfile.mkdtemp(prefix="certbot-like-instructions-"))
    pebble = Pebble(scratch / "pebble", env=dict(PEBBLE_ENV)).start()
    try:
        counts = {
            "ours": measure(CliClient.ours(pebble, ours.binary), scratch / "ours"),
            "base": measure(CliClient.ours(pebble, base.binary), scratch / "base"),
        }
    finally:
        pebble.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"| scenario | this tree | {args.base_rev} | ratio |\n|---|---|---|---|")
    for key, value in counts["ours"].items():
        then = counts["base"][key]
        print(f"| {key} | {value / 1e6:,.0f}M | {then / 1e6:,.0f}M | {value / then:.3f} |")
    record = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": prov.commit,
        "dirty": prov.dirty,
        "base_rev": args.base_rev,
        "wheel_sha256": ours.wheel_sha256,
        "instructions": counts,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"Raw numbers: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
