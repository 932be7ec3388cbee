"""`make bench`: certbot-like, certbot 5.8 and acme-tiny side by side on one local Pebble.

    CERTBOT_BIN=.venv-certbot/bin/certbot .venv/bin/python -m tests.bench.run [--quick]

Measures ours as users install it: a wheel of this tree in ``.venv-bench-ours/``
(``tests/bench/ours.py``). A full run of every scenario writes the generated block of
docs/performance.md, the raw results docs/bench/results.json and the charts docs/*.svg, and
refuses a dirty tree unless BENCH_ALLOW_DIRTY=1 (``tests/bench/provenance.py``); quick or
partial runs write them under bench-results/ only. ``--quick`` or ``BENCH_QUICK=1``: fewer
runs, no 10,000-lineage tree. ``--only startup,issue,seq,forced,noop`` runs some scenarios
only. ``--charts-only [RESULTS]`` re-draws the charts from a results file without measuring.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench import provenance
from tests.bench.charts import draw_all
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
from tests.bench.ours import ensure_base, ensure_ours
from tests.bench.report import (
    evaluate,
    render_per_lineage,
    render_table,
    render_targets,
    write_doc,
)
from tests.bench.results import Results, read, write
from tests.bench.scenarios import SCENARIOS, Bench, Config, prime
from tests.harness.servers import Pebble

PEBBLE_ENV = {
    "PEBBLE_VA_NOSLEEP": "1",  # no random validation delay
    "PEBBLE_WFE_NONCEREJECT": "0",  # no badNonce rejections
    "PEBBLE_AUTHZREUSE": "0",  # every order validates (repeated renewals do the same work)
}
DOC = ROOT / "docs" / "performance.md"
DOC_RESULTS = ROOT / "docs" / "bench" / "results.json"
RESULTS = ROOT / "bench-results" / "results.json"


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


def host() -> dict[str, str]:
    """CPU, memory, OS and Python of this machine (also recorded by the fleet bench)."""
    return {
        "CPU": f"{_cpu_model()}, {os.cpu_count()} cores (/proc/cpuinfo)",
        "memory": f"{_mem_gib():.0f} GiB",
        "OS": f"{_os_name()}, kernel {platform.release()}",
        "Python": platform.python_version(),
    }


def machine(ours: CliClient, certbot: CliClient) -> dict[str, str]:
    return {
        **host(),
        "clients": f"{ours.version()}; {certbot.version()}; {acme_tiny_version()}",
        "CA": _pebble_version() + ", env " + " ".join(f"{k}={v}" for k, v in PEBBLE_ENV.items()),
    }


def render_block(
    res: Results, bench: Bench, loads: str, charts: list[str], ours: str = "as a wheel"
) -> str:
    cfg = bench.cfg
    rows = bench.rows
    prov = res.provenance
    lines = ["## Machine and versions", ""]
    if prov.dirty:
        lines += [f"**Measured from a dirty tree ({provenance.ALLOW_DIRTY}=1).**", ""]
    lines += ["| | |", "|---|---|", f"| code measured | {prov.describe()} |"]
    lines += [f"| how ours was installed | {ours} |"]
    lines += [f"| {k} | {v} |" for k, v in res.machine.items()]
    lines += [
        f"| load average (1 min) | {loads} (other work shared the 2 cores) |",
        f"| date | {res.date[:16].replace('T', ' ')} UTC |",
        f"| bench runtime | {res.elapsed_s / 60:.1f} min{' (quick mode)' if cfg.quick else ''} |",
        "| raw results | [bench/results.json](bench/results.json): every sample of this run |",
        "",
        "## Reproduce",
        "",
        "```",
        "make bench                 # full: 12-15 min here; installs acme-tiny into .venv-bench/",
        "BENCH_QUICK=1 make bench   # fewer runs, no 10,000-lineage tree",
        ".venv/bin/python -m tests.bench.run --charts-only   # re-draw the charts from the samples",
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
        "## Charts",
        "",
        *charts,
        "",
        "## Targets",
        "",
        render_targets(evaluate(rows)),
    ]
    return "\n".join(lines)


def chart_lines(notes: list[str]) -> list[str]:
    """Markdown for the charts drawn into docs/ (a line saying why for one not drawn)."""
    alt = {"perf-per-lineage.svg": "cost per lineage", "perf-rtt.svg": "issuance time vs RTT"}
    out = []
    for note in notes:
        if note.startswith("drew "):
            name = Path(note[5:]).name
            out += [f"![{alt.get(name, name)}]({name})", ""]
        else:
            out += [f"*{note}.*", ""]
    return out[:-1]


def _loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, skip 10,000")
    parser.add_argument("--only", default="", help=f"comma list of {','.join(SCENARIOS)}")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/")
    base = parser.add_mutually_exclusive_group()
    base.add_argument(
        "--base",
        type=Path,
        help="another certbot-like build (its certbot-like binary) in certbot's column: a "
        "regression check of this tree against it; writes bench-results/compare-base.json",
    )
    base.add_argument(
        "--base-rev",
        metavar="REV",
        help="as --base, with commit REV of this repository built and installed from its "
        "wheel into .venv-bench-base/",
    )
    parser.add_argument(
        "--charts-only",
        type=Path,
        nargs="?",
        const=DOC_RESULTS,
        metavar="RESULTS",
        help=f"only re-draw the charts from RESULTS (default {DOC_RESULTS.relative_to(ROOT)}; "
        "into docs/ for that file, else beside RESULTS)",
    )
    return parser


def charts_only(path: Path) -> int:
    """Re-draw the charts of a results file without measuring anything."""
    out_dir = DOC.parent if path.resolve() == DOC_RESULTS.resolve() else path.parent
    for note in draw_all(read(path).rows, out_dir):
        print(note)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is missing: pip install -e '.[bench]' (or `make install`)")
        return 2
    if args.charts_only:
        return charts_only(args.charts_only)
    quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    only = [s for s in args.only.split(",") if s] or list(SCENARIOS)
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    compare = args.base is not None or args.base_rev is not None
    full = not quick and only == list(SCENARIOS)
    writes_docs = full and not args.no_doc and not compare
    prov = provenance.read(ROOT)
    why = provenance.refusal(prov, provenance.allow_dirty(os.environ))
    if writes_docs and why:
        print(why)
        return 2

    certbot_bin = Path(os.environ.get("CERTBOT_BIN", str(DEFAULT_CERTBOT)))
    if not certbot_bin.exists():
        print(f"certbot is not installed at {certbot_bin}; run `make certbot-venv`")
        return 2
    tiny_bin = ensure_acme_tiny()
    installed = ensure_ours()
    base_bin = ensure_base(args.base_rev).binary if args.base_rev else args.base
    started = time.monotonic()
    load_start = _loadavg()
    scratch = Path(tempfile.mkdtemp(prefix="certbot-like-bench-"))
    pebble = Pebble(scratch / "pebble", env=dict(PEBBLE_ENV)).start()
    try:
        runner = Runner(scratch / "runner", RequestCounter(pebble.log_path))
        ours = CliClient.ours(pebble, installed.binary)
        certbot = (
            CliClient.base(pebble, base_bin) if base_bin else CliClient.certbot(pebble, certbot_bin)
        )
        tiny = AcmeTiny(tiny_bin, pebble, scratch / "acme-tiny")
        tiny.setup()
        bench = Bench(Config.make(quick), runner, pebble, ours, certbot, tiny, scratch)
        bench.log(f"Pebble at {pebble.directory_url}; scratch {scratch}; quick={quick}")
        bench.log(f"ours: {installed.binary} (wheel {installed.wheel_sha256[:12]})")
        prime(bench)
        for name in only:
            SCENARIOS[name](bench)
        info = machine(ours, certbot)
    finally:
        pebble.stop()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    elapsed = time.monotonic() - started
    load = {"start": load_start, "end": _loadavg(), "max": round(bench.max_load, 2)}
    loads = f"{load['start']:.2f} at start, {load['end']:.2f} at end, at most {load['max']:.2f}"
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    res = Results(prov, now, info, load, quick, elapsed, bench.rows, installed.wheel_sha256)

    print("\n" + render_table(bench.rows) + "\n\n" + render_per_lineage(bench.rows) + "\n")
    print(render_targets(evaluate(bench.rows)) + "\n")
    print(f"Bench took {elapsed / 60:.1f} min (load average {loads}).")
    moved = provenance.changed_during_run(prov, provenance.read(ROOT))
    if writes_docs and moved:
        print(moved)
        writes_docs = False
    if compare:
        results = RESULTS.with_name("compare-base.json")
        print(f"The certbot column is certbot-like at {args.base_rev or base_bin}, not certbot.")
    elif writes_docs:
        results = DOC_RESULTS
    else:
        results = RESULTS if full else RESULTS.with_name("results-partial.json")
    write(results, res)
    print(f"Raw numbers: {results}")
    notes = draw_all(bench.rows, DOC.parent if writes_docs else results.parent)
    print("\n".join(notes))
    if writes_docs:
        how = f"wheel `{installed.wheel_sha256[:12]}` in its own venv (`tests/bench/ours.py`)"
        write_doc(DOC, render_block(res, bench, loads, chart_lines(notes), how))
        print(f"Updated {DOC.relative_to(ROOT)}")
    print(f"acme-tiny venv: {BENCH_VENV}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
