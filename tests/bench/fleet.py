"""The fleet's speed targets (``make bench-fleet``; ``--quick`` for small sizes).

1. A no-op ``renew`` over N lineages (10,000; quick: 1,000) on one node with ``--store``,
   against the same tree with the file store: warm runs (the renewal state filled), median
   of 3. Target: within 2x.
2. M due lineages (400; quick: 40) renewed by 4 nodes at once against one Pebble and one
   PostgreSQL, against one node doing all M with the same ``--jobs``: wall time of the
   whole run. Target: at least 3x faster; every lineage must end at version 2 (one order
   each). Run twice: on loopback (CPU-bound on 2 cores: five clients and Pebble share
   them) and with ``--rtt MS`` (env ``BENCH_RTT``, default 50) of latency between the
   nodes and Pebble, both ways (``latency.py``), as a real fleet is network-bound.

Runs certbot-like as users install it (the wheel in ``.venv-bench-ours/``, see
``tests/bench/ours.py``) as subprocesses. Prints the results; a full run writes them with
every sample, the commit, date, machine and load to ``docs/bench/fleet.json`` and refuses a
dirty tree unless ``BENCH_ALLOW_DIRTY=1`` (``tests/bench/provenance.py``); ``--quick``
writes ``bench-results/fleet.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from certbot_like.storage.layout import Layout
from tests.bench import provenance
from tests.bench.clients import ROOT
from tests.bench.latency import proxied
from tests.bench.ours import ensure_ours
from tests.bench.rtt import through
from tests.bench.run import PEBBLE_ENV, host
from tests.harness.lineages import make_lineages
from tests.harness.postgres import Postgres
from tests.harness.servers import Pebble
from tests.integration.fleet_fixtures import SharedWebroot, db_rows

JOBS = "8"


DOC_RESULTS = ROOT / "docs" / "bench" / "fleet.json"


class Node:
    def __init__(
        self, binary: Path, root: Path, pebble: Pebble, url: str | None, env: dict[str, str]
    ) -> None:
        self.binary, self.root, self.pebble, self.url, self.env = binary, root, pebble, url, env
        self.layout = Layout(root / "config", root / "work", root / "logs")

    def argv(self, *args: str) -> list[str]:
        base = [
            str(self.binary), *args, "--config-dir", str(self.layout.config_dir),
            "--work-dir", str(self.layout.work_dir), "--logs-dir", str(self.layout.logs_dir),
            "--server", self.pebble.directory_url, "--ca-bundle", str(self.pebble.ca_bundle),
            "-n",
        ]  # fmt: skip
        if args[0] != "fleet":
            base += ["--agree-tos", "--register-unsafely-without-email"]
        if self.url:
            base += ["--store", self.url, "--node-name", self.root.name]
        return base

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args), env={**os.environ, **self.env}, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip

    def run(self, *args: str) -> float:
        started = time.perf_counter()
        proc = self.start(*args)
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {err[-2000:]}")
        return time.perf_counter() - started


def _renew(*extra: str) -> list[str]:
    # no politeness limit against the local Pebble, as in run.py's forced renewals: at the
    # default 100 requests/s one node's ~3,400 requests for 400 lineages take 34 s whatever
    # the CA's speed, which would measure the limit, not the fleet
    return [
        "renew", "--no-random-sleep-on-renew", "--jobs", JOBS, "--max-requests-per-second", "0",
        *extra,
    ]  # fmt: skip


def noop(binary: Path, tmp: Path, pebble: Pebble, pg: Postgres, count: int) -> dict[str, Any]:
    files = Node(binary, tmp / "noop-file", pebble, None, pg.env)
    names = [f"noop{i}.bench.test" for i in range(count)]
    params = {"server": pebble.directory_url, "authenticator": "standalone", "account": "0" * 32}
    make_lineages(files.layout, names, params, days=90, age=0)
    fleet_root = tmp / "noop-fleet"
    shutil.copytree(files.root, fleet_root, symlinks=True)
    fleet = Node(binary, fleet_root, pebble, pg.new_database("bench"), pg.env)
    fleet.run("fleet", "init")
    imported = fleet.run("fleet", "import")
    result: dict[str, Any] = {"lineages": count, "import_s": round(imported, 2)}
    for key, node in (("file", files), ("fleet", fleet)):
        node.run(*_renew())  # cold: fills the renewal state
        node.run(*_renew())
        samples = [node.run(*_renew()) for _ in range(3)]
        result[f"{key}_runs_s"] = [round(s, 4) for s in samples]
        result[f"{key}_s"] = round(statistics.median(samples), 3)
    result["ratio"] = round(result["fleet_s"] / result["file_s"], 2)
    result["target_met"] = result["ratio"] <= 2.0
    return result


def _due_fleet(
    binary: Path, tmp: Path, tag: str, pebble: Pebble, pg: Postgres, nodes: int, count: int,
    webroot: SharedWebroot,
) -> tuple[list[Node], str, list[str]]:  # fmt: skip
    url = pg.new_database("bench")
    made = [Node(binary, tmp / f"{tag}{i}", pebble, url, pg.env) for i in range(nodes)]
    first = made[0]
    first.run("fleet", "init")
    first.run("register")
    ((account,),) = db_rows(url, "SELECT account_id FROM cl_accounts")
    names = [f"{tag}{i}.bench.test" for i in range(count)]
    params = {
        "account": account, "server": pebble.directory_url, "authenticator": "webroot",
        "webroot_map": {n: str(webroot.root) for n in names}, "key_type": "ecdsa",
        "ca_bundle": str(pebble.ca_bundle),
    }  # fmt: skip
    make_lineages(first.layout, names, params, age=80)
    first.run("fleet", "import")
    for node in made[1:]:
        node.layout.config_dir.mkdir(parents=True)
        shutil.copy(first.layout.config_dir / "store.key", node.layout.config_dir / "store.key")
        node.run("fleet", "sync")
    return made, url, names


def _check_once(url: str, names: list[str]) -> bool:
    rows = db_rows(url, "SELECT lineage, count(*), max(version) FROM cl_versions GROUP BY 1")
    return sorted(rows) == sorted((n, 2, 2) for n in names)


def spread(
    binary: Path, tmp: Path, pebble: Pebble, pg: Postgres, count: int, rtt_ms: int = 0
) -> dict[str, Any]:
    """1 node against 4 on *count* due lineages; with *rtt_ms*, the nodes talk to Pebble
    and Pebble validates through the latency proxies (``latency.py``)."""
    if rtt_ms:
        with proxied(pebble.port, pebble.http_port, rtt_ms / 1000) as pair:
            result = spread(binary, tmp / f"rtt{rtt_ms}", through(pebble, pair), pg, count)
            return {"rtt_ms": rtt_ms, **result, "acme_connections": pair.acme.connections}
    webroot = SharedWebroot(tmp / "webroot", pebble.http_port)
    try:
        (alone,), url1, names1 = _due_fleet(binary, tmp, "alone", pebble, pg, 1, count, webroot)
        one = alone.run(*_renew())
        four, url4, names4 = _due_fleet(binary, tmp, "four", pebble, pg, 4, count, webroot)
        started = time.perf_counter()
        procs = [node.start(*_renew()) for node in four]
        outputs = [p.communicate() for p in procs]
        codes = [p.returncode for p in procs]
        together = time.perf_counter() - started
    finally:
        webroot.close()
    return {
        "lineages": count,
        "one_node_s": round(one, 2),
        "four_nodes_s": round(together, 2),
        "speed_up": round(one / together, 2),
        "target_met": one / together >= 3,
        "exit_codes": codes,
        "errors": [err.strip().splitlines()[-1:] for _, err in outputs if err.strip()],
        "each_ordered_once": _check_once(url1, names1) and _check_once(url4, names4),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument(
        "--rtt",
        type=int,
        default=int(os.environ.get("BENCH_RTT", "50")),
        help="round-trip time in ms between the nodes and Pebble for the second run of "
        "scenario 2 (env BENCH_RTT; default 50; 0: loopback only)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    prov = provenance.read(ROOT)
    why = provenance.refusal(prov, provenance.allow_dirty(os.environ))
    if why and not quick:
        print(why)
        return 2
    installed = ensure_ours()
    binary = installed.binary
    load_start = round(os.getloadavg()[0], 2)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    pg = Postgres().start()
    os.environ.update(pg.env)  # this process reads the database too (the password file)
    pebble = Pebble(tmp / "pebble", env=PEBBLE_ENV).start()
    try:
        measured = {
            "noop": noop(binary, tmp, pebble, pg, 1000 if quick else 10000),
            "spread": spread(binary, tmp, pebble, pg, 40 if quick else 400),
        }
        if args.rtt:
            count = 40 if quick else 400
            measured["spread_rtt"] = spread(binary, tmp, pebble, pg, count, args.rtt)
    finally:
        pebble.stop()
        pg.destroy()
        shutil.rmtree(tmp, ignore_errors=True)
    results = {
        "format": 1,
        **prov.to_json(),
        "dirty": prov.dirty,
        "wheel_sha256": installed.wheel_sha256,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": host(),
        "load": {"start": load_start, "end": round(os.getloadavg()[0], 2)},
        "quick": quick,
        "elapsed_s": round(time.monotonic() - started, 1),
        **measured,
    }
    moved = provenance.changed_during_run(prov, provenance.read(ROOT))
    if moved:
        print(moved)
    out = ROOT / "bench-results" / "fleet.json" if quick or moved else DOC_RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"Raw results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
