"""Scale probe: `certificates` and no-op `renew` over 10,000 and 100,000 lineages.

Not part of ``make bench`` (a 100,000-lineage tree is ~2.7 GB and takes long to make)::

    python -m tests.bench.scale_probe make /tmp/scale-10k 10000
    python -m tests.bench.scale_probe run /tmp/scale-10k VENV/bin/certbot-like [--certbot BIN]

``make`` writes a tree with ``tests/harness/lineages.make_lineages`` (not due, standalone
params pointing at a closed local port: a no-op ``renew`` never needs the CA, and the cold
run's one directory request fails at once). ``run`` measures, each under
``/usr/bin/time -f '%e %M %U %S'`` (wall seconds, peak RSS, user + system CPU seconds:
on a shared machine CPU time moves less than wall time): the cold no-op ``renew``
(renewal state removed first), warm no-op ``renew`` runs, ``certificates`` and
``certificates --json``, and prints one JSON object with the samples.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# the server of every generated lineage: nothing listens there
SERVER = "https://127.0.0.1:9/dir"


def make(root: Path, count: int, batch: int = 1000) -> None:
    from certbot_like.storage.layout import Layout
    from tests.harness.lineages import LocalIssuer, make_lineages

    layout = Layout(root / "config", root / "work", root / "logs")
    params = {
        "account": "0" * 32,
        "server": SERVER,
        "authenticator": "standalone",
        "key_type": "ecdsa",
        "http01_port": "9",
        "http01_address": "127.0.0.1",
    }
    issuer = LocalIssuer()
    started = time.monotonic()
    for first in range(0, count, batch):
        names = [f"n{i:06d}.scale.test" for i in range(first, min(count, first + batch))]
        make_lineages(layout, names, params, issuer=issuer)
        print(f"{first + len(names)} lineages, {time.monotonic() - started:.0f} s", flush=True)


def _timed(cmd: list[str], env: dict[str, str], stdout: Any = subprocess.DEVNULL) -> dict[str, Any]:
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%e %M %U %S", *cmd],
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=env,
        check=False,
    )
    wall, rss, user, system = out.stderr.decode().strip().splitlines()[-1].split()
    return {
        "wall": float(wall),
        "cpu": round(float(user) + float(system), 2),
        "rss_mb": round(int(rss) / 1024, 1),
        "rc": out.returncode,
    }


def _dirs(root: Path, work: str) -> list[str]:
    return [
        "--config-dir", str(root / "config"),
        "--work-dir", str(root / work / "work"),
        "--logs-dir", str(root / work / "logs"),
    ]  # fmt: skip


def run(root: Path, binary: str, runs: int, certbot: str | None, json_lines: Path | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    result: dict[str, Any] = {"binary": binary, "tree": str(root)}
    dirs = _dirs(root, "ours")
    shutil.rmtree(root / "ours" / "work", ignore_errors=True)
    renew = [binary, "renew", *dirs, "-n", "--no-random-sleep-on-renew"]
    result["renew_cold"] = _timed(renew, env)
    result["renew_warm"] = [_timed(renew, env) for _ in range(runs)]
    listing = [binary, "certificates", *dirs]
    result["certificates"] = [_timed(listing, env) for _ in range(runs)]
    result["certificates_json"] = []
    for _ in range(runs):
        with open(json_lines or os.devnull, "wb") as sink:  # the last run's document stays
            result["certificates_json"].append(_timed([*listing, "--json"], env, stdout=sink))
    if certbot:
        cdirs = _dirs(root, "certbot")
        result["certbot_renew"] = _timed(
            [certbot, "renew", *cdirs, "-n", "--no-random-sleep-on-renew"], env
        )
        result["certbot_certificates"] = _timed([certbot, "certificates", *cdirs], env)
    json.dump(result, sys.stdout, indent=1)
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_make = sub.add_parser("make")
    p_make.add_argument("root", type=Path)
    p_make.add_argument("count", type=int)
    p_run = sub.add_parser("run")
    p_run.add_argument("root", type=Path)
    p_run.add_argument("binary")
    p_run.add_argument("--runs", type=int, default=3)
    p_run.add_argument("--certbot")
    p_run.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    if args.cmd == "make":
        make(args.root, args.count)
    else:
        run(args.root, args.binary, args.runs, args.certbot, args.json_out)


if __name__ == "__main__":
    main()
