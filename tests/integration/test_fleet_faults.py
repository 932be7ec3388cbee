"""End to end: a fleet survives a killed node, a paused node and a database restart.

The lineages use the manual authenticator with an auth hook that serves the challenge from a
shared directory and, while the file ``block`` exists, first writes ``started`` and waits:
the test then knows the node holds the lineage's lease and is in the middle of an order.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.postgres import Postgres
from tests.harness.servers import Pebble, wait_until
from tests.integration.fleet_fixtures import (  # noqa: F401
    Node,
    SharedWebroot,
    db_rows,
    fleet_with_due_lineages,
    postgres,
    store_url,
)

LEASE = "3"


@pytest.fixture(scope="module")
def fault_pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    server = Pebble(tmp_path_factory.mktemp("pebble-faults")).start()
    yield server
    server.stop()


class Gate:
    """The blocking auth hook and the files that steer it."""

    def __init__(self, root: Path, pebble: Pebble) -> None:
        self.root = root
        self.webroot = SharedWebroot(root / "webroot", pebble.http_port)
        self.block, self.started = root / "block", root / "started"
        challenge_dir = self.webroot.root / ".well-known" / "acme-challenge"
        challenge_dir.mkdir(parents=True, exist_ok=True)
        self.hook = root / "auth-hook"
        self.hook.write_text(
            "#!/bin/sh\n"
            f'echo "$CERTBOT_VALIDATION" > {challenge_dir}/"$CERTBOT_TOKEN"\n'
            f"if [ -e {self.block} ]; then\n"
            f"  touch {self.started}\n"
            f"  while [ -e {self.block} ]; do sleep 0.1; done\n"
            "fi\n"
        )
        self.hook.chmod(0o755)
        self.block.touch()

    def params(self, names: list[str]) -> dict[str, object]:
        return {"authenticator": "manual", "manual_auth_hook": str(self.hook)}

    def wait_started(self, run: object) -> None:
        wait_until(self.started.exists, 60, "the auth hook")

    def open(self) -> None:
        self.block.unlink(missing_ok=True)

    def close(self) -> None:
        self.open()
        self.webroot.close()


@pytest.fixture
def gate(fault_pebble: Pebble, tmp_path: Path) -> Iterator[Gate]:
    made = Gate(tmp_path / "gate", fault_pebble)
    yield made
    made.close()


def renew_args(node: Node) -> list[str]:
    return ["--no-random-sleep-on-renew", "--json", "--store-lease", LEASE]


def versions(url: str, name: str) -> list[int]:
    rows = db_rows(url, "SELECT version FROM cl_versions WHERE lineage = %s ORDER BY 1", name)
    return [r[0] for r in rows]


def lease_expired(url: str) -> bool:
    return not db_rows(url, "SELECT 1 FROM cl_locks WHERE expires_at > now()")


def test_a_node_killed_mid_order_leaves_the_lineage_to_the_next_node(
    fault_pebble: Pebble,
    store_url: str,  # noqa: F811
    tmp_path: Path,
    postgres: Postgres,  # noqa: F811
    gate: Gate,
) -> None:
    nodes, (name,) = fleet_with_due_lineages(
        fault_pebble, store_url, tmp_path, postgres, 1, gate.params, count=2
    )
    victim = nodes[0].start("renew", *renew_args(nodes[0]))
    gate.wait_started(victim)
    assert db_rows(store_url, "SELECT node FROM cl_locks") == [("node1",)]
    victim.proc.send_signal(signal.SIGKILL)
    victim.finish()
    gate.open()
    wait_until(lambda: lease_expired(store_url), 30, "the dead node's lease to expire")
    result = nodes[1].run("renew", *renew_args(nodes[1]))
    assert result.returncode == 0, result
    assert [o["name"] for o in json.loads(result.stdout)["renewed"]] == [name]
    assert versions(store_url, name) == [1, 2]
    assert db_rows(store_url, "SELECT * FROM cl_locks") == [], "no orphaned lease"
    synced = nodes[0].run("renew", *renew_args(nodes[0]))  # the killed node converges
    assert synced.returncode == 0, synced
    assert nodes[0].live_tree() == nodes[1].live_tree()
    assert versions(store_url, name) == [1, 2]


def test_a_paused_node_that_lost_its_lease_cannot_store_its_late_certificate(
    fault_pebble: Pebble,
    store_url: str,  # noqa: F811
    tmp_path: Path,
    postgres: Postgres,  # noqa: F811
    gate: Gate,
) -> None:
    nodes, (name,) = fleet_with_due_lineages(
        fault_pebble, store_url, tmp_path, postgres, 1, gate.params, count=2
    )
    paused = nodes[0].start("renew", *renew_args(nodes[0]))
    gate.wait_started(paused)
    paused.proc.send_signal(signal.SIGSTOP)
    try:
        gate.open()  # the hook (not stopped) ends; the node itself stays paused
        wait_until(lambda: lease_expired(store_url), 30, "the paused node's lease to expire")
        result = nodes[1].run("renew", *renew_args(nodes[1]))
        assert result.returncode == 0, result
        assert [o["name"] for o in json.loads(result.stdout)["renewed"]] == [name]
    finally:
        paused.proc.send_signal(signal.SIGCONT)
    late = paused.finish(timeout=120)
    assert late.returncode == 7, late
    (failed,) = json.loads(late.stdout)["failed"]
    assert "lease expired" in failed["reason"] or "changed while" in failed["reason"]
    assert versions(store_url, name) == [1, 2]
    assert nodes[0].live_tree() == nodes[1].live_tree(), "the late node synced the winner"


def test_postgresql_stopped_mid_run_fails_cleanly_and_the_next_run_converges(
    fault_pebble: Pebble,
    store_url: str,  # noqa: F811
    tmp_path: Path,
    postgres: Postgres,  # noqa: F811
    gate: Gate,
) -> None:
    nodes, (name,) = fleet_with_due_lineages(
        fault_pebble, store_url, tmp_path, postgres, 1, gate.params, count=1
    )
    node = nodes[0]
    before = node.live_tree()
    run = node.start("renew", *renew_args(node))
    gate.wait_started(run)
    postgres.stop()
    try:
        gate.open()
        result = run.finish(timeout=120)
    finally:
        postgres.start()
    assert result.returncode == 75, result
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "cannot be reached" in lines[0], result.stderr
    assert node.live_tree() == before, "local files untouched"
    wait_until(lambda: lease_expired(store_url), 30, "the lease to expire")
    again = node.run("renew", *renew_args(node))
    assert again.returncode == 0, again
    assert versions(store_url, name) == [1, 2]
    assert all(target.endswith("2.pem") for target, _ in node.live_tree().values())
    assert os.path.exists(node.client.config_dir / "live" / name / "cert.pem")
