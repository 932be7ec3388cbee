"""Scenario ``rtt``: the three clients behind a simulated network round-trip time.

Two latency proxies (``latency.py``) sit on the paths a real network would slow down:
client -> Pebble's ACME API (the client is given ``https://127.0.0.1:PROXY/dir``; TLS
passes through the proxy) and Pebble's HTTP-01 validator -> the client's challenge
responder (the validation proxy listens on Pebble's ``httpPort`` and forwards to another
port, where ours and certbot run their standalone server and acme-tiny's webroot is
served). Each proxy adds RTT/2 per direction and one RTT per new connection.

At RTT 0, 50 ms and 200 ms: one issuance of 1 and of 10 names for each client. At 50 ms:
100 due lineages renewed by ours (``--jobs 32``) and by certbot (once: it takes minutes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from certbot_like.storage.layout import Layout
from tests.bench.clients import AcmeTiny, CliClient, archive_versions, fresh_names
from tests.bench.latency import PathPair, proxied
from tests.bench.measure import BenchError, Proc, Stat
from tests.bench.report import Target, fmt_ratio, fmt_s
from tests.bench.scenarios import Bench, Row
from tests.harness.lineages import make_lineages
from tests.harness.servers import Pebble

RTTS_MS = (0, 50, 200)
TARGET_RTT_MS = 50
JOBS = 32


@dataclass
class RttConfig:
    """Runs per RTT: (ours, certbot, acme-tiny); the due-renewal scenario's size and runs."""

    runs: dict[int, tuple[int, int, int]]
    renew_count: int = 100
    ours_renew_runs: int = 3

    @classmethod
    def make(cls, quick: bool) -> RttConfig:
        if quick:
            return cls({0: (2, 1, 2), 50: (2, 1, 2), 200: (1, 1, 1)}, 20, 1)
        # certbot: one issuance of 10 names at 200 ms takes about 20 s
        return cls({0: (5, 3, 5), 50: (5, 2, 5), 200: (3, 1, 3)})


def through(pebble: Pebble, pair: PathPair) -> Pebble:
    """Pebble as a client behind the proxies sees it: the ACME port is the proxy's, the
    HTTP-01 port is where the client must answer (behind the validation proxy).

    A copy of the dataclass that shares the running process: never ``stop()`` it.
    """
    return dataclasses.replace(pebble, port=pair.acme.port, http_port=pair.responder_port)


@contextmanager
def behind_proxies(b: Bench) -> Iterator[tuple[PathPair, CliClient, CliClient, AcmeTiny]]:
    """The proxies on Pebble's ports, and the three clients set up to go through them."""
    with proxied(b.pebble.port, b.pebble.http_port, 0.0) as pair:
        view = through(b.pebble, pair)
        ours = dataclasses.replace(b.ours, pebble=view)
        certbot = dataclasses.replace(b.certbot, pebble=view)
        tiny = AcmeTiny(b.tiny.binary, view, b.scratch / "rtt-tiny")
        tiny.setup()
        yield pair, ours, certbot, tiny


def _obtain(client: CliClient, config: Path, work: Path, count: int) -> Callable[[], list[Proc]]:
    return lambda: [client.obtain(config, work, fresh_names(f"{client.key[0]}r{count}x", count))]


def _tiny(tiny: AcmeTiny, count: int) -> Callable[[], list[Proc]]:
    return lambda: [tiny.obtain(fresh_names(f"tr{count}x", count))]


def issuance_at(
    b: Bench, pair: PathPair, clients: tuple[CliClient, CliClient], tiny: AcmeTiny
) -> None:
    """One issuance of 1 and of 10 names per client at the pair's current RTT."""
    rtt_ms = round(pair.acme.rtt * 1000)
    ours_runs, certbot_runs, tiny_runs = RttConfig.make(b.cfg.quick).runs[rtt_ms]
    for count in (1, 10):
        b.log(f"RTT {rtt_ms} ms: issuance of {count} name(s)")
        stats: dict[str, Stat] = {}
        connections: dict[str, float] = {}
        for client in clients:
            config, work = b.fresh(client.key, f"rtt{rtt_ms}-issue{count}")
            client.register(config, work)
            runs, warmup = (ours_runs, 1) if client.key == "ours" else (certbot_runs, 0)
            before = pair.acme.connections
            maker = _obtain(client, config, work, count)
            stats[client.key] = b.measure(client.key, maker, runs, warmup)
            connections[client.key] = (pair.acme.connections - before) / (runs + warmup)
        with tiny.webroot():
            before = pair.acme.connections
            stats["acme-tiny"] = b.measure("acme-tiny", _tiny(tiny, count), tiny_runs, warmup=1)
            connections["acme-tiny"] = (pair.acme.connections - before) / (tiny_runs + 1)
        names = "1 name" if count == 1 else f"{count} names"
        note = "TCP connections to the ACME API per run: " + ", ".join(
            f"{k} {v:g}" for k, v in connections.items()
        )
        b.log("  " + note)
        b.add(Row(f"rtt{rtt_ms}-issue-{count}", f"RTT {rtt_ms} ms: issue {names}", stats, note))


def due_tree(client: CliClient, config: Path, work: Path, count: int, tag: str) -> list[str]:
    """Register an account and generate *count* lineages that are due (80 of 90 days)."""
    account = client.register(config, work)
    names = fresh_names(tag, count)
    make_lineages(Layout(config, work / "work", work / "logs"), names,
                  client.renewal_params(account), days=90, age=80)  # fmt: skip
    return names


def _due_maker(
    b: Bench, client: CliClient, count: int, args: list[str], made: list[tuple[Path, list[str]]]
) -> Callable[[], list[Proc]]:
    """Each call: a fresh due tree (recorded in *made*), and the renew command over it."""

    def make() -> list[Proc]:
        config, work = b.fresh(client.key, f"rtt-due{len(made)}")
        names = due_tree(client, config, work, count, f"{client.key[0]}d")
        made.append((config, names))
        return [client.renew(config, work, *args)]

    return make


def due_renewal(b: Bench, clients: tuple[CliClient, ...], extra: list[str]) -> None:
    """*count* due lineages, a fresh tree per run (made before the clock starts)."""
    cfg = RttConfig.make(b.cfg.quick)
    count = cfg.renew_count
    b.log(f"RTT {TARGET_RTT_MS} ms: {count} due lineages renewed")
    stats: dict[str, Stat] = {}
    for client in clients:
        runs = cfg.ours_renew_runs if client.key == "ours" else 1
        args = [*extra] if client.key == "ours" else []
        made: list[tuple[Path, list[str]]] = []
        stats[client.key] = b.measure(client.key, _due_maker(b, client, count, args, made), runs)
        for config, names in made:
            for name in (names[0], names[-1]):
                if archive_versions(config, name) != 2:
                    raise BenchError(f"{client.key}: {name} was not renewed exactly once")
    politeness = "" if "--max-requests-per-second" in extra else " (default 100 requests/s)"
    b.add(
        Row(
            f"rtt{TARGET_RTT_MS}-renew-{count}" + ("-polite" if politeness else ""),
            f"RTT {TARGET_RTT_MS} ms: {count} due lineages renewed{politeness}",
            stats,
            "ours: " + " ".join(extra) + "; certbot: sequential",
        )
    )


def latency_scenarios(b: Bench) -> None:
    """Issuance at every RTT, then the due renewals at 50 ms."""
    with behind_proxies(b) as (pair, ours, certbot, tiny):
        for rtt_ms in RTTS_MS:
            pair.set_rtt(rtt_ms / 1000)
            issuance_at(b, pair, (ours, certbot), tiny)
        pair.set_rtt(TARGET_RTT_MS / 1000)
        fast = ["--jobs", str(JOBS), "--max-requests-per-second", "0"]
        due_renewal(b, (ours, certbot), fast)
        due_renewal(b, (ours,), ["--jobs", str(JOBS)])


def issuance_budget(count: int, rtt_ms: int = TARGET_RTT_MS) -> float:
    """The issue's target for one issuance of *count* names: (2n+7) x RTT + 0.3 s."""
    return (2 * count + 7) * rtt_ms / 1000 + 0.3


def targets(rows: list[Row]) -> list[Target]:
    """The issue's latency targets, evaluated on the rows of this run."""
    by = {row.key: row for row in rows}
    out = []
    for count in (1, 10):
        budget = issuance_budget(count)
        text = (
            f"RTT {TARGET_RTT_MS} ms: issue {count} name(s) within (2n+7) x RTT + 0.3 s "
            f"= {fmt_s(budget)}"
        )
        row = by.get(f"rtt{TARGET_RTT_MS}-issue-{count}")
        if row is None:
            out.append(Target(text, None, "not measured"))
            continue
        ours = row.stats["ours"]
        others = "; ".join(f"{k} {fmt_s(v.median)}" for k, v in row.stats.items() if k != "ours")
        measured = f"ours {fmt_s(ours.median)} ({ours.requests:g} requests); {others}"
        out.append(Target(text, ours.median <= budget, measured))
    text = f"RTT {TARGET_RTT_MS} ms: 100 due lineages with --jobs >= 50x faster than certbot"
    row = next((r for r in rows if r.key.startswith(f"rtt{TARGET_RTT_MS}-renew-")), None)
    if row is None or "certbot" not in row.stats:
        out.append(Target(text, None, "not measured"))
    else:
        ours, certbot = row.stats["ours"], row.stats["certbot"]
        size = row.key.split("-")[2]
        note = "" if size == "100" else f" ({size} lineages: quick mode)"
        measured = (
            f"ours {fmt_s(ours.median)}, certbot {fmt_s(certbot.median)}: "
            f"{fmt_ratio(ours, certbot)}{note}"
        )
        out.append(Target(text, ours.median * 50 <= certbot.median, measured))
    return out
