"""End to end: a tree made by certbot 5.8 joins a fleet with `fleet import`, and certbot can
still read every node's local tree afterwards; a node that only synced gets the accounts and
its own paths, so certbot renews there (``renew --dry-run``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from certbot_like.storage.layout import Layout
from tests.harness.lineages import make_lineages
from tests.harness.postgres import Postgres
from tests.harness.servers import Pebble
from tests.integration.checks import assert_lineage
from tests.integration.conftest import unique_name
from tests.integration.fleet_fixtures import (  # noqa: F401
    Node,
    make_nodes,
    postgres,
    store_url,
)
from tests.integration.test_certbot_compat import certbot_bin, run_certbot  # noqa: F401


@pytest.fixture(scope="module")
def certbot_pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """A Pebble that accepts every nonce: certbot gives up on Pebble's deliberate badNonce
    answers (ours retries them, tests/integration/test_pebble_faults.py), which made the
    certbot steps here fail now and then."""
    server = Pebble(
        tmp_path_factory.mktemp("pebble-certbot"), env={"PEBBLE_WFE_NONCEREJECT": "0"}
    ).start()
    yield server
    server.stop()


def certbot_certonly(binary: Path, node: Node, pebble: Pebble, name: str) -> None:
    """certbot 5.8 obtains *name* on *node* (standalone, its own account)."""
    made = run_certbot(
        binary, node.client, "certonly", "--server", pebble.directory_url,
        "--standalone", "--http-01-port", str(pebble.http_port),
        "--http-01-address", "127.0.0.1", "--agree-tos",
        "--register-unsafely-without-email", "-d", name,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr


def test_a_certbot_tree_is_imported_renewed_by_another_node_and_still_read_by_certbot(
    certbot_pebble: Pebble,
    store_url: str,  # noqa: F811
    tmp_path: Path,
    postgres: Postgres,  # noqa: F811
    certbot_bin: Path,  # noqa: F811
) -> None:
    pebble = certbot_pebble
    first, second, third = make_nodes(pebble, store_url, tmp_path, postgres, 3)
    name = unique_name("certbot")
    certbot_certonly(certbot_bin, first, pebble, name)

    imported = first.fleet("import", "--json")
    assert imported.returncode == 0, imported
    doc = json.loads(imported.stdout)
    assert doc["imported"] == [name] and len(doc["accounts"]) == 1
    again = first.fleet("import", "--json")
    assert again.returncode == 0, again
    assert json.loads(again.stdout)["imported"] == [] and json.loads(again.stdout)[
        "already_present"
    ] == [name]

    assert second.fleet("sync").returncode == 0
    renewed = second.run("renew", "--force-renewal", "--no-random-sleep-on-renew", "--json")
    assert renewed.returncode == 0, renewed  # with certbot's RSA account, from the store
    assert [o["name"] for o in json.loads(renewed.stdout)["renewed"]] == [name]
    synced = first.fleet("sync", "--json")
    assert json.loads(synced.stdout)["updated"] == [name]
    for node in (first, second):
        assert_lineage(node.client.live(name), {name}, pebble.root_pem(), version=2)
        listed = run_certbot(certbot_bin, node.client, "certificates")
        assert listed.returncode == 0, listed.stderr
        assert f"Certificate Name: {name}" in listed.stdout
        assert "VALID" in listed.stdout and "INVALID" not in listed.stdout

    layout = Layout(third.client.config_dir, third.client.work_dir, third.client.logs_dir)
    make_lineages(layout, [name], {"authenticator": "standalone"})
    conflict = third.fleet("import")
    assert conflict.returncode == 3, conflict
    assert name in conflict.stderr and "left alone" in conflict.stderr
    theirs = (third.client.live(name) / "cert.pem").read_bytes()
    refused = third.fleet("sync", "--json")
    assert refused.returncode == 3, refused
    assert name in json.loads(refused.stdout)["left_alone"][0]
    assert (third.client.live(name) / "cert.pem").read_bytes() == theirs
    assert first.fleet("sync", "--json").returncode == 0
    assert_lineage(first.client.live(name), {name}, pebble.root_pem(), version=2)


def test_a_synced_node_gets_the_accounts_and_its_own_paths_and_certbot_renews_there(
    certbot_pebble: Pebble,
    store_url: str,  # noqa: F811
    tmp_path: Path,
    postgres: Postgres,  # noqa: F811
    certbot_bin: Path,  # noqa: F811
) -> None:
    """Issue 12: accounts reach every node's accounts/ (certbot's layout, only when they
    changed), and a renewal conf copied to another node names that node's directories."""
    pebble = certbot_pebble
    first, second = make_nodes(pebble, store_url, tmp_path, postgres, 2)
    name = unique_name("synced")
    certbot_certonly(certbot_bin, first, pebble, name)
    first_conf = (first.client.config_dir / "renewal" / f"{name}.conf").read_text()
    assert f"config_dir = {first.client.config_dir}" in first_conf  # certbot wrote its own
    assert first.fleet("import").returncode == 0

    synced = second.fleet("sync", "--json")
    assert synced.returncode == 0, synced
    doc = json.loads(synced.stdout)
    assert doc["updated"] == [name] and len(doc["accounts"]) == 1
    (key,) = (second.client.config_dir / "accounts").rglob("private_key.json")
    assert key.parent.name == doc["accounts"][0]
    assert key.stat().st_mode & 0o777 == 0o600
    for folder in [key.parent, *key.parent.parents]:
        if folder == second.client.config_dir:
            break
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    original = first.client.config_dir / key.relative_to(second.client.config_dir)
    assert json.loads(key.read_bytes()) == json.loads(original.read_bytes())  # certbot's path

    conf = (second.client.config_dir / "renewal" / f"{name}.conf").read_text()
    assert f"config_dir = {second.client.config_dir}" in conf
    assert f"work_dir = {second.client.work_dir}" in conf
    assert f"logs_dir = {second.client.logs_dir}" in conf
    assert str(first.client.root) not in conf, conf

    written = key.stat().st_mtime_ns
    again = second.fleet("sync", "--json")
    assert json.loads(again.stdout)["accounts"] == [] and key.stat().st_mtime_ns == written

    shown = second.client.run_raw(["show-account", *second.client.base_args(), "--json"])
    assert shown.returncode == 0, shown  # no --store: this node's own accounts/
    assert doc["accounts"][0] in shown.stdout

    dry = run_certbot(
        certbot_bin, second.client, "renew", "--dry-run", "--cert-name", name,
        "--server", pebble.directory_url, "--no-random-sleep-on-renew",
    )  # fmt: skip
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "simulated renewals succeeded" in dry.stdout + dry.stderr
