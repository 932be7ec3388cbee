"""End to end: nodes of a fleet (separate processes and config directories) renewing against
one PostgreSQL and one Pebble."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from certbot_like.storage.layout import Layout
from tests.harness.balancer import RoundRobin
from tests.harness.clirun import CLI
from tests.harness.netns import REQUIRE_ENV, NetNs, unavailable_reason
from tests.harness.postgres import Postgres
from tests.harness.servers import Pebble, free_port, wait_until
from tests.integration.conftest import unique_name
from tests.integration.fleet_fixtures import (  # noqa: F401
    Node,
    SharedWebroot,
    db_rows,
    fleet_with_due_lineages,
    make_nodes,
    postgres,
    store_url,
)

LINEAGES = 20


@pytest.fixture(scope="module")
def fleet_pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """A Pebble of this module's own, so that its log counts only this module's orders."""
    server = Pebble(tmp_path_factory.mktemp("pebble-fleet")).start()
    yield server
    server.stop()


@pytest.fixture
def webroot(fleet_pebble: Pebble, tmp_path: Path) -> Iterator[SharedWebroot]:
    served = SharedWebroot(tmp_path / "webroot", fleet_pebble.http_port)
    yield served
    served.close()


def webroot_params(webroot: SharedWebroot, names: list[str]) -> dict[str, object]:
    return {"authenticator": "webroot", "webroot_map": {n: str(webroot.root) for n in names}}


def validations(pebble: Pebble) -> int:
    """Challenge validations Pebble started (one per order here: one name per lineage; a
    POST to /order-plz can appear twice in the log when Pebble rejected its nonce)."""
    text = pebble.log_path.read_text(errors="replace")
    return len(re.findall(r"Starting \d+ validations", text))


def due_fleet(
    pebble: Pebble, url: str, tmp_path: Path, pg: Postgres, webroot: SharedWebroot, n: int
) -> tuple[list[Node], list[str]]:
    return fleet_with_due_lineages(
        pebble, url, tmp_path, pg, n, lambda names: webroot_params(webroot, names)
    )


@pytest.fixture
def namespaces(fleet_pebble: Pebble, postgres: Postgres) -> Iterator[list[NetNs]]:  # noqa: F811
    """Three network namespaces that reach only Pebble's ACME port and PostgreSQL; skipped
    where they cannot be made, unless CERTBOT_LIKE_REQUIRE_NETNS=1 (then a failure)."""
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but no network namespaces: {reason}")
        pytest.skip(f"no network namespaces: {reason}")
    made: list[NetNs] = []
    try:
        for index in range(3):
            ns = NetNs.create(f"node{index + 1}")
            assert ns is not None, "ip netns add failed"
            made.append(ns)
            for port in (fleet_pebble.port, postgres.port):
                ns.forward(port)
        yield made
    finally:
        for ns in made:
            ns.delete()


def test_three_nodes_renew_twenty_due_lineages_once_and_all_deploy_them(
    fleet_pebble: Pebble,
    store_url: str,  # noqa: F811
    tmp_path: Path,
    postgres: Postgres,  # noqa: F811
    webroot: SharedWebroot,
    namespaces: list[NetNs],
) -> None:
    """The nodes run in network namespaces of their own (loopback only, Pebble's ACME port
    and PostgreSQL forwarded in): they share nothing but the database, the CA and the
    webroot directory."""
    nodes, names = due_fleet(fleet_pebble, store_url, tmp_path, postgres, webroot, LINEAGES)
    for node in nodes:
        node.record_deploys()
    assert not namespaces[0].reaches(fleet_pebble.http_port)  # isolated from the host
    validated_before = validations(fleet_pebble)
    runs = [
        node.start("renew", *node.renew_args(), launcher=ns.launcher(CLI))
        for node, ns in zip(nodes, namespaces, strict=True)
    ]
    results = [run.finish(timeout=300) for run in runs]
    assert [r.returncode for r in results] == [0, 0, 0], [str(r) for r in results]
    renewed = [o["name"] for r in results for o in json.loads(r.stdout)["renewed"]]
    assert sorted(renewed) == sorted(names), "each lineage renewed by exactly one node"
    assert validations(fleet_pebble) - validated_before == LINEAGES
    versions = db_rows(
        store_url, "SELECT lineage, count(*), max(version) FROM cl_versions GROUP BY 1"
    )
    assert sorted(versions) == sorted((name, 2, 2) for name in names)
    trees = [node.live_tree() for node in nodes]
    assert len(trees[0]) == 4 * LINEAGES and trees[0] == trees[1] == trees[2]
    assert all(target.endswith("2.pem") for target, _ in trees[0].values())
    for node in nodes:
        assert node.deployed() == sorted(names), node.name
    status = nodes[2].fleet("status", "--json")
    doc = json.loads(status.stdout)
    assert {n["name"] for n in doc["nodes"]} == {"node1", "node2", "node3"}
    assert all(x["version"] == 2 and x["renewed_by"] for x in doc["lineages"])
    assert doc["locks"] == []


def test_a_second_run_on_every_node_renews_nothing_and_deploys_nothing(
    fleet_pebble: Pebble,
    store_url: str,  # noqa: F811
    tmp_path: Path,
    postgres: Postgres,  # noqa: F811
    webroot: SharedWebroot,
) -> None:
    nodes, names = due_fleet(fleet_pebble, store_url, tmp_path, postgres, webroot, 2)
    assert nodes[0].run("renew", *nodes[0].renew_args()).returncode == 0
    for node in nodes:
        node.record_deploys()
    validated_before = validations(fleet_pebble)
    for node in nodes:
        result = node.run("renew", *node.renew_args())
        assert result.returncode == 0, result
        assert sorted(o["name"] for o in json.loads(result.stdout)["not_due"]) == sorted(names)
    assert validations(fleet_pebble) == validated_before
    assert nodes[0].deployed() == [] and nodes[1].deployed() == nodes[2].deployed() == names


def test_a_dump_of_the_database_holds_no_private_key(
    fleet_pebble: Pebble,
    store_url: str,  # noqa: F811
    tmp_path: Path,
    postgres: Postgres,  # noqa: F811
    webroot: SharedWebroot,
) -> None:
    from tests.harness.leaks import secrets_in_config_dir

    nodes, _ = due_fleet(fleet_pebble, store_url, tmp_path, postgres, webroot, 2)
    assert nodes[1].run("renew", *nodes[1].renew_args()).returncode == 0
    dump = postgres.dump(store_url.rsplit("/", 1)[1]).decode()

    def present(text: str) -> bool:  # bytea columns are dumped as hex
        return text in dump or text.encode().hex() in dump

    assert "cl_versions" in dump and present("-----BEGIN CERTIFICATE-----")  # data is there
    secrets = set()
    for node in nodes:
        secrets |= secrets_in_config_dir(node.client.config_dir)
    from certbot_like.storage.pg_store import PgStore

    store = PgStore(
        store_url,
        Layout(tmp_path / "x", tmp_path / "y", tmp_path / "z"),
        nodes[0].client.config_dir / "store.key",
        "reader",
    )
    (account_id,) = store.account_ids(fleet_pebble.directory_url)
    secrets.add(store.load_account(fleet_pebble.directory_url, account_id).key_jwk["d"])
    store.close()
    assert len(secrets) >= 4
    assert [s for s in secrets if present(s)] == []
    assert not present("PRIVATE KEY")


def test_http01_through_a_load_balancer_passes_whichever_node_answers(
    fleet_pebble: Pebble,
    store_url: str,  # noqa: F811
    tmp_path: Path,
    postgres: Postgres,  # noqa: F811
) -> None:
    nodes = make_nodes(fleet_pebble, store_url, tmp_path, postgres, 3)
    ports = [free_port() for _ in nodes]
    servers = [
        node.start("fleet", "serve-challenges", "--listen", f"127.0.0.1:{port}")
        for node, port in zip(nodes, ports, strict=True)
    ]
    balancer = RoundRobin("127.0.0.1", fleet_pebble.http_port, [("127.0.0.1", p) for p in ports])
    try:
        for port in ports:
            wait_until(lambda port=port: _listening(port), 20, "fleet serve-challenges")
        name = unique_name("balanced")
        made = nodes[1].run("obtain", "-d", name, "--fleet-http", register=True)
        assert made.returncode == 0, made
    finally:
        balancer.close()
        for server in servers:
            server.proc.send_signal(signal.SIGTERM)
    assert [s.finish().returncode for s in servers] == [0, 0, 0]
    answered = {index for index, path, status in balancer.answers if status == 200}
    assert answered == {0, 1, 2}, balancer.answers  # each node answered a validation
    assert db_rows(store_url, "SELECT * FROM cl_challenges") == [], "answers withdrawn"
    synced = nodes[2].fleet("sync", "--json")
    assert json.loads(synced.stdout)["updated"] == [name]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_node_that_syncs_a_renewal_writes_the_lineages_deploy_targets(
    fleet_pebble: Pebble,
    store_url: str,  # noqa: F811
    tmp_path: Path,
    postgres: Postgres,  # noqa: F811
    webroot: SharedWebroot,
) -> None:
    """--deploy-to targets are stored with the lineage: the node that renews writes them,
    and so does every node that syncs the new version (issue 16)."""
    shared = tmp_path / "deployed"
    shared.mkdir()

    def with_targets(names: list[str]) -> dict[str, object]:
        return {**webroot_params(webroot, names), "deploy_to": [f"fullchain:{shared}/site.pem"]}

    nodes, (name,) = fleet_with_due_lineages(
        fleet_pebble, store_url, tmp_path, postgres, 1, with_targets, count=2
    )
    first, second = nodes
    target = shared / "site.pem"
    assert first.run("renew", *first.renew_args()).returncode == 0
    renewed = (first.client.live(name) / "fullchain.pem").read_bytes()
    assert target.read_bytes() == renewed
    target.unlink()  # as if this were the second machine's own disk
    synced = second.fleet("sync", "--json")
    assert synced.returncode == 0, synced
    assert json.loads(synced.stdout)["updated"] == [name]
    assert target.read_bytes() == renewed
    assert (target.stat().st_mode & 0o777) == 0o644
