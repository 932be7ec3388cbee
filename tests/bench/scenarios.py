"""The measured scenarios. Each returns rows: one per scenario, one Stat per client.

Every client works in directories of its own with an account registered beforehand (not
timed), except the no-op trees, which both CLIs read: generated once per size with
``make_lineages`` in certbot's layout, each client with a private work and logs dir.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.bench.clients import AcmeTiny, CliClient, archive_versions, fresh_names
from tests.bench.measure import BenchError, Proc, Runner, Stat
from tests.bench.ours import compiled_from_source
from tests.harness.servers import Pebble


@dataclass
class Config:
    """How many runs each scenario gets (full `make bench` or quick mode)."""

    quick: bool
    runs: int = 5
    startup_runs: int = 10
    seq_runs: int = 3  # ours and acme-tiny, 20 sequential issuances
    certbot_seq_runs: int = 2  # certbot: ~1 min per run
    certbot_forced10_runs: int = 2  # certbot: ~25 s per run
    ours_forced100_runs: int = 3
    certbot_forced100_runs: int = 1  # certbot: ~4 min per run
    certbot_big_runs: int = 2  # certbot on 10,000 lineages: ~40 s per run
    noop_sizes: tuple[int, ...] = (10, 100, 1000, 10000)

    @classmethod
    def make(cls, quick: bool) -> Config:
        if not quick:
            return cls(quick=False)
        return cls(
            quick=True,
            runs=2,
            startup_runs=5,
            seq_runs=1,
            certbot_seq_runs=1,
            certbot_forced10_runs=1,
            ours_forced100_runs=1,
            noop_sizes=(10, 100, 1000),
        )


@dataclass
class Row:
    key: str
    title: str
    stats: dict[str, Stat]
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "note": self.note,
            "stats": {k: v.to_json() for k, v in self.stats.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        """The Row that :meth:`to_json` wrote. Raises KeyError or ValueError if it is not one."""
        stats = {k: Stat.from_json(v) for k, v in data["stats"].items()}
        return cls(data["key"], data["title"], stats, data.get("note", ""))


@dataclass
class Bench:
    cfg: Config
    runner: Runner
    pebble: Pebble
    ours: CliClient
    certbot: CliClient
    tiny: AcmeTiny
    scratch: Path
    rows: list[Row] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    max_load: float = 0.0  # highest 1-min load average seen after a measurement

    def log(self, message: str) -> None:
        load = os.getloadavg()[0]
        self.max_load = max(self.max_load, load)
        print(f"[{time.monotonic() - self.started:6.0f} s, load {load:4.2f}] {message}", flush=True)

    def fresh(self, *parts: str) -> tuple[Path, Path]:
        """A new (config dir, work root) pair under the scratch directory."""
        root = self.scratch.joinpath(*parts)
        if root.exists():
            shutil.rmtree(root)
        return root / "config", root / "client"

    def clients(self) -> tuple[CliClient, CliClient]:
        return self.ours, self.certbot

    def measure(
        self, what: str, make: Callable[[], Sequence[Proc]], runs: int, warmup: int = 0
    ) -> Stat:
        stat = self.runner.measure(make, runs, warmup)
        self.log(f"  {what}: median {stat.median:.3f} s over {runs} run(s), {stat.rss_mb:.0f} MB")
        return stat

    def add(self, row: Row) -> None:
        self.rows.append(row)


def _check_bytecode(b: Bench, client: CliClient, procs: list[Proc]) -> None:
    """Run *procs* under ``python -v``: ours must load every module from its bytecode.

    Raises BenchError when ours compiled a module from source (its figures would include
    compiling it in every run, which an installed client never does); for the other column
    it logs a warning (an editable ``--base`` build, say).
    """
    compiled: set[str] = set()
    for proc in procs:
        b.runner.run_one(Proc(proc.argv, {**proc.env, "PYTHONVERBOSE": "1"}))
        compiled.update(compiled_from_source(b.runner.out.read_text(errors="replace")))
    if not compiled:
        return
    message = (
        f"{client.key} compiled {len(compiled)} module(s) from source, e.g. "
        f"{', '.join(sorted(compiled)[:3])}"
    )
    if client is b.ours:
        raise BenchError(message)
    b.log(f"WARNING: {message}: its figures include compiling them in every run")


def prime(b: Bench) -> None:
    """Run every code path once, untimed, and check that no client compiles its modules.

    The first run of a path reads files the later ones find in the page cache; it is not
    measured. Every process of this pass runs under ``python -v`` (:func:`_check_bytecode`).
    """
    b.log("priming: every code path once, bytecode checked (not timed)")
    for client in b.clients():
        config, work = b.fresh(client.key, "prime")
        client.make_tree(config, work, 2, f"{client.key[0]}p")
        procs = [
            client.proc("--version"),
            client.proc("--help"),
            client.obtain(config, work, fresh_names(f"{client.key[0]}p", 1)),
            client.renew(config, work),
            client.renew(config, work, "--force-renewal"),
            client.certificates(config, work),
        ]
        _check_bytecode(b, client, procs)


def startup(b: Bench) -> None:
    b.log("start-up: --version, --help")
    for flag in ("--version", "--help"):
        stats: dict[str, Stat] = {}
        for client in b.clients():
            proc = client.proc(flag)
            stats[client.key] = b.measure(
                f"{client.key} {flag}", lambda p=proc: [p], b.cfg.startup_runs, warmup=2
            )
        if flag == "--help":
            tiny_help = b.tiny.help()
            stats["acme-tiny"] = b.measure(
                "acme-tiny --help", lambda p=tiny_help: [p], b.cfg.startup_runs, warmup=2
            )
        b.add(Row(f"startup{flag}", f"start-up `{flag}`", stats))


def _obtain_maker(
    client: CliClient, config: Path, work: Path, count: int, per_sample: int = 1
) -> Callable[[], list[Proc]]:
    def make() -> list[Proc]:
        return [
            client.obtain(config, work, fresh_names(f"{client.key[0]}{count}x", count))
            for _ in range(per_sample)
        ]

    return make


def _tiny_maker(tiny: AcmeTiny, count: int, per_sample: int = 1) -> Callable[[], list[Proc]]:
    def make() -> list[Proc]:
        return [tiny.obtain(fresh_names(f"t{count}x", count)) for _ in range(per_sample)]

    return make


def issuance(b: Bench) -> None:
    """One issuance of 1 and of 10 names (standalone; acme-tiny with its webroot)."""
    for count in (1, 10):
        b.log(f"issuance of {count} name(s)")
        stats: dict[str, Stat] = {}
        for client in b.clients():
            config, work = b.fresh(client.key, f"issue{count}")
            client.register(config, work)
            stats[client.key] = b.measure(
                client.key, _obtain_maker(client, config, work, count), b.cfg.runs, warmup=1
            )
        with b.tiny.webroot():
            stats["acme-tiny"] = b.measure(
                "acme-tiny", _tiny_maker(b.tiny, count), b.cfg.runs, warmup=1
            )
        title = "issue 1 name" if count == 1 else f"issue {count} names"
        b.add(Row(f"issue-{count}", f"{title} (HTTP-01, key generation included)", stats))


def sequential(b: Bench, count: int = 20) -> None:
    """*count* single-name certificates, one process each, one after the other."""
    b.log(f"{count} single-name certificates as {count} sequential processes")
    stats: dict[str, Stat] = {}
    for client in b.clients():
        config, work = b.fresh(client.key, "seq")
        client.register(config, work)
        runs = b.cfg.seq_runs if client.key == "ours" else b.cfg.certbot_seq_runs
        stats[client.key] = b.measure(
            client.key, _obtain_maker(client, config, work, 1, per_sample=count), runs
        )
    with b.tiny.webroot():
        stats["acme-tiny"] = b.measure(
            "acme-tiny", _tiny_maker(b.tiny, 1, per_sample=count), b.cfg.seq_runs
        )
    b.add(Row(f"seq-{count}", f"{count} certificates, {count} sequential processes", stats))


def forced_renewal(b: Bench) -> None:
    """`renew --force-renewal` of 10 and 100 generated lineages, each client its own tree."""
    plan = (
        (10, b.cfg.runs, b.cfg.certbot_forced10_runs),
        (100, b.cfg.ours_forced100_runs, b.cfg.certbot_forced100_runs),
    )
    for count, ours_runs, certbot_runs in plan:
        b.log(f"forced renewal of {count} lineages")
        stats: dict[str, Stat] = {}
        for client in b.clients():
            config, work = b.fresh(client.key, f"forced{count}")
            names = client.make_tree(config, work, count, f"{client.key[0]}f")
            warmup, runs = (1, ours_runs) if client.key == "ours" else (0, certbot_runs)
            proc = client.renew(config, work, "--force-renewal")
            stats[client.key] = b.measure(client.key, lambda p=proc: [p], runs, warmup)
            for name in (names[0], names[-1]):
                found = archive_versions(config, name)
                if found != 1 + warmup + runs:
                    raise BenchError(f"{client.key}: {name} has {found} versions, not renewed")
        b.add(
            Row(
                f"forced-{count}",
                f"forced renewal, {count} lineages",
                stats,
                "ours: --jobs 8 --max-requests-per-second 0; certbot: sequential",
            )
        )


def noop_and_certificates(b: Bench) -> None:
    """No-op `renew` and `certificates` over generated trees that both clients read."""
    for count in b.cfg.noop_sizes:
        b.log(f"no-op renew and certificates over {count:,} lineages")
        config, gen_work = b.fresh("noop", str(count))
        started = time.monotonic()
        b.ours.make_tree(config, gen_work, count, "n")
        b.log(f"  generated {count:,} lineages in {time.monotonic() - started:.1f} s")
        ours_work = config.parent / "ours"
        certbot_work = config.parent / "certbot"
        big = count >= 10000
        certbot_runs, certbot_warmup = (b.cfg.certbot_big_runs, 0) if big else (b.cfg.runs, 1)

        renew_ours = b.ours.renew(config, ours_work)
        cold = b.measure("ours cold (first run)", lambda p=renew_ours: [p], 1)
        warm = b.measure("ours warm", lambda p=renew_ours: [p], b.cfg.runs, warmup=1)
        renew_certbot = b.certbot.renew(config, certbot_work)
        certbot = b.measure("certbot", lambda p=renew_certbot: [p], certbot_runs, certbot_warmup)
        b.add(
            Row(
                f"noop-{count}",
                f"no-op renew, {count:,} lineages",
                {"ours": warm, "ours-cold": cold, "certbot": certbot},
            )
        )

        list_ours = b.ours.certificates(config, ours_work)
        list_certbot = b.certbot.certificates(config, certbot_work)
        stats = {
            "ours": b.measure("ours certificates", lambda p=list_ours: [p], b.cfg.runs, warmup=1),
            "certbot": b.measure(
                "certbot certificates", lambda p=list_certbot: [p], certbot_runs, certbot_warmup
            ),
        }
        b.add(Row(f"certs-{count}", f"`certificates`, {count:,} lineages", stats))
        shutil.rmtree(config.parent)


def latency(b: Bench) -> None:
    """Scenario ``rtt``: the clients behind a simulated round-trip time (``rtt.py``)."""
    from tests.bench.rtt import latency_scenarios  # rtt.py imports this module

    latency_scenarios(b)


SCENARIOS: dict[str, Callable[[Bench], None]] = {
    "startup": startup,
    "issue": issuance,
    "seq": sequential,
    "forced": forced_renewal,
    "noop": noop_and_certificates,
    "rtt": latency,
}
