"""`make bench`: certbot-like, certbot 5.8 and acme-tiny side by side on one local Pebble.

    CERTBOT_BIN=.venv-certbot/bin/certbot .venv/bin/python -m tests.bench.run [--quick]

Prints the table, writes bench-results/results.json and (full runs of every scenario)
the generated block of docs/performance.md; quick or partial runs write
bench-results/results-partial.json only. ``--quick`` or ``BENCH_QUICK=1``: fewer runs,
no 10,000-lineage tree. ``--only startup,issue,seq,forced,noop`` runs some scenarios only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.clients import (
    BENCH_VENV,
    DEFAULT_CERTBOT,
    ROOT,
    AcmeTiny,
    CliClient,
    acme_tiny_version,
    ensure_acme_tiny,
)
from tests.bench.measure import RequestCounter, Runner
from tests.bench.report import (
    evaluate,
    render_per_lineage,
    render_table,
    render_targets,
    write_doc,
)
from tests.bench.scenarios import SCENARIOS, Bench, Config, prime
from tests.harness.servers import Pebble

PEBBLE_ENV = {
    "PEBBLE_VA_NOSLEEP": "1",  # no random validation delay
    "PEBBLE_WFE_NONCEREJECT": "0",  # no badNonce rejections
    "PEBBLE_AUTHZREUSE": "0",  # every order validates (repeated renewals do the same work)
}
DOC = ROOT / "docs" / "performance.md"
RESULTS = ROOT / "bench-results" / "results.json"
# Measured processes run with compiled bytecode, as an installed client does: the sandbox
# sets PYTHONDONTWRITEBYTECODE=1, which would make ours (an editable install without
# __pycache__) compile its modules in every process. The cache goes outside the tree.
PYCACHE = ROOT / "bench-results" / "pycache"


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def _pebble_version() -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "pebble"], capture_output=True, text=True
    )
    return f"Pebble {out.stdout.strip() or 'unknown'} (Debian package)"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def _revision() -> str:
    def git(*args: str) -> str:
        out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
        return out.stdout.strip()

    dirty = " + uncommitted changes in the working tree" if git("status", "--porcelain") else ""
    return f"certbot-like at {git('rev-parse', '--short', 'HEAD') or 'unknown'}{dirty}"


def machine(ours: CliClient, certbot: CliClient) -> dict[str, str]:
    return {
        "code measured": _revision(),
        "CPU": f"{_cpu_model()}, {os.cpu_count()} cores (/proc/cpuinfo)",
        "memory": f"{_mem_gib():.0f} GiB",
        "OS": f"{_os_name()}, kernel {platform.release()}",
        "Python": platform.python_version(),
        "clients": f"{ours.version()}; {certbot.version()}; {acme_tiny_version()}",
        "CA": _pebble_version() + ", env " + " ".join(f"{k}={v}" for k, v in PEBBLE_ENV.items()),
    }


def render_block(info: dict[str, str], bench: Bench, elapsed: float, loads: str) -> str:
    cfg = bench.cfg
    rows = bench.rows
    lines = ["## Machine and versions", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in info.items()]
    lines += [
        f"| load average (1 min) | {loads} (other work shared the 2 cores) |",
        f"| date | {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC |",
        f"| bench runtime | {elapsed / 60:.1f} min{' (quick mode)' if cfg.quick else ''} |",
        "",
        "## Reproduce",
        "",
        "```",
        "make bench                 # full: 12-15 min here; installs acme-tiny into .venv-bench/",
        "BENCH_QUICK=1 make bench   # fewer runs, no 10,000-lineage tree",
        "```",
        "",
        "## Results (medians of wall time)",
        "",
        f"Runs per client are in the last column; each scenario had a warm-up run first "
        f"(not counted) except certbot's forced renewals, 20 sequential issuances and "
        f"10,000-lineage runs, which take {cfg.certbot_forced100_runs}-"
        f"{cfg.certbot_seq_runs} runs because one run of certbot takes minutes. Ratios are "
        "ours/theirs (below 1: ours is faster). Peak RSS is the largest `%M` of "
        "`/usr/bin/time` over the runs (for acme-tiny it includes its `openssl` children). "
        "Requests are those Pebble logged during one run (median), with an account "
        "registered beforehand. ours renews with `--jobs 8 --max-requests-per-second 0` "
        "(no politeness limit against a local CA; the default is 100/s); certbot with "
        "`renew --force-renewal --no-random-sleep-on-renew`, sequential as it always is.",
        "",
        render_table(rows),
        "",
        "No-op `renew`, cost per lineage:",
        "",
        render_per_lineage(rows),
        "",
        "## Targets",
        "",
        render_targets(evaluate(rows)),
    ]
    return "\n".join(lines)


def _loadavg() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, skip 10,000")
    parser.add_argument("--only", default="", help=f"comma list of {','.join(SCENARIOS)}")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/")
    parser.add_argument(
        "--base",
        type=Path,
        help="another certbot-like build (its certbot-like binary) in certbot's column: a "
        "regression check of this tree against it; writes bench-results/compare-base.json",
    )
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    only = [s for s in args.only.split(",") if s] or list(SCENARIOS)
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")

    certbot_bin = Path(os.environ.get("CERTBOT_BIN", str(DEFAULT_CERTBOT)))
    if not certbot_bin.exists():
        print(f"certbot is not installed at {certbot_bin}; run `make certbot-venv`")
        return 2
    tiny_bin = ensure_acme_tiny()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    started = time.monotonic()
    load_start = _loadavg()
    scratch = Path(tempfile.mkdtemp(prefix="certbot-like-bench-"))
    pebble = Pebble(scratch / "pebble", env=dict(PEBBLE_ENV)).start()
    try:
        runner = Runner(scratch / "runner", RequestCounter(pebble.log_path))
        ours = CliClient.ours(pebble)
        certbot = (
            CliClient.base(pebble, args.base)
            if args.base
            else CliClient.certbot(pebble, certbot_bin)
        )
        tiny = AcmeTiny(tiny_bin, pebble, scratch / "acme-tiny")
        tiny.setup()
        bench = Bench(Config.make(quick), runner, pebble, ours, certbot, tiny, scratch)
        bench.log(f"Pebble at {pebble.directory_url}; scratch {scratch}; quick={quick}")
        prime(bench)
        for name in only:
            SCENARIOS[name](bench)
        info = machine(ours, certbot)
    finally:
        pebble.stop()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    elapsed = time.monotonic() - started
    loads = f"{load_start} at start, {_loadavg()} at end, at most {bench.max_load:.2f}"

    table = render_table(bench.rows)
    print("\n" + table + "\n\n" + render_per_lineage(bench.rows) + "\n")
    print(render_targets(evaluate(bench.rows)) + "\n")
    print(f"Bench took {elapsed / 60:.1f} min (load average {loads}).")
    full = not quick and only == list(SCENARIOS)
    results = RESULTS if full else RESULTS.with_name("results-partial.json")
    if args.base:
        results = RESULTS.with_name("compare-base.json")
        print(f"The certbot column is certbot-like at {args.base}, not certbot.")
    results.parent.mkdir(exist_ok=True)
    payload = {
        "machine": info,
        "quick": quick,
        "elapsed_s": elapsed,
        "rows": [r.to_json() for r in bench.rows],
    }
    results.write_text(json.dumps(payload, indent=1))
    print(f"Raw numbers: {results}")
    if full and not args.no_doc and not args.base:
        write_doc(DOC, render_block(info, bench, elapsed, loads))
        print(f"Updated {DOC.relative_to(ROOT)}")
    print(f"acme-tiny venv: {BENCH_VENV}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
