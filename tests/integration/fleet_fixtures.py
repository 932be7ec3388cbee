"""Fixtures of the fleet tests: one PostgreSQL per test session (per xdist worker), a fresh
database per test, and PgStores on it for nodes with their own config directories.

Import ``postgres`` (and ``store_url``) into a test module. A missing PostgreSQL fails the
tests (``ServerMissing``), never skips them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from certbot_like.storage.layout import Layout
from certbot_like.storage.pg_store import PgStore
from tests.harness.clirun import CLI, CliProcess
from tests.harness.lineages import make_lineages
from tests.harness.postgres import Postgres
from tests.harness.servers import Pebble
from tests.integration.conftest import Client, Result, unique_name


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """PostgreSQL 15 started by initdb/pg_ctl as ``nobody`` on a free port."""
    server = Postgres().start()
    yield server
    server.destroy()


@pytest.fixture
def store_url(postgres: Postgres, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty database's URL; this process finds the password in PGPASSFILE."""
    for key, value in postgres.env.items():
        monkeypatch.setenv(key, value)
    return postgres.new_database()


def pg_store(url: str, root: Path, node: str = "node1", lease: float = 300.0) -> PgStore:
    """An initialised PgStore for a node whose directories are under *root*."""
    layout = Layout(root / "config", root / "work", root / "logs")
    store = PgStore(url, layout, root / "config" / "store.key", node, lease_seconds=lease)
    return store


class SharedWebroot:
    """One web server on Pebble's HTTP-01 port serving a directory every node's webroot
    authenticator writes to (what an NFS-mounted webroot behind a load balancer does)."""

    def __init__(self, root: Path, port: int) -> None:
        import functools
        import http.server
        import threading

        self.root = root
        # the challenge directory exists, as on a real shared webroot: each node's webroot
        # plugin then only adds and removes its own files, never a directory another
        # node's run is writing into
        (root / ".well-known" / "acme-challenge").mkdir(parents=True, exist_ok=True)

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

        handler = functools.partial(Quiet, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@dataclass
class Node:
    """One machine of a fleet: a Client with its own directories, --store and --node-name."""

    client: Client
    name: str
    url: str

    @property
    def root(self) -> Path:
        return self.client.root

    def args(self, *args: str) -> list[str]:
        return ["--store", self.url, "--node-name", self.name, *args]

    def run(self, command: str, *args: str, register: bool = False) -> Result:
        return self.client.run(command, *self.args(*args), register=register)

    def start(self, command: str, *args: str, launcher: Sequence[str] = CLI) -> CliProcess:
        return self.client.start(command, *self.args(*args), launcher=launcher)

    def fleet(self, sub: str, *args: str) -> Result:
        return self.client.run_raw(["fleet", sub, *self.client.base_args(), *self.args(*args)])

    def renew_args(self) -> list[str]:
        return ["--no-random-sleep-on-renew", "--json", "--jobs", "4"]

    def record_deploys(self) -> Path:
        """A deploy hook in this node's renewal-hooks/deploy/ that appends RENEWED_LINEAGE to
        a file of its own."""
        log = self.root / "deployed.log"
        hook = self.client.config_dir / "renewal-hooks" / "deploy" / "record"
        hook.parent.mkdir(parents=True, exist_ok=True)
        hook.write_text(f'#!/bin/sh\necho "$(basename "$RENEWED_LINEAGE")" >> {log}\n')
        hook.chmod(0o755)
        return log

    def deployed(self) -> list[str]:
        log = self.root / "deployed.log"
        return sorted(log.read_text().split()) if log.exists() else []

    def live_tree(self) -> dict[str, tuple[str, bytes]]:
        """Every live/ file: (link target, content), by relative path."""
        live = self.client.config_dir / "live"
        return {
            str(p.relative_to(live)): (os.readlink(p) if p.is_symlink() else "", p.read_bytes())
            for p in sorted(live.rglob("*.pem"))
        }


def make_nodes(
    pebble: Pebble, url: str, tmp_path: Path, postgres: Postgres, count: int
) -> list[Node]:
    """*count* nodes; the first runs ``fleet init`` and the others get its store key."""
    nodes = []
    for index in range(1, count + 1):
        client = Client(pebble, tmp_path / f"node{index}", env=dict(postgres.env))
        nodes.append(Node(client, f"node{index}", url))
    first = nodes[0]
    result = first.fleet("init")
    assert result.returncode == 0, result
    for node in nodes[1:]:
        node.client.config_dir.mkdir(parents=True)
        shutil.copy(first.client.config_dir / "store.key", node.client.config_dir / "store.key")
    return nodes


def fleet_with_due_lineages(
    pebble: Pebble,
    url: str,
    tmp_path: Path,
    pg: Postgres,
    n: int,
    how: Callable[[list[str]], dict[str, object]],
    count: int = 3,
) -> tuple[list[Node], list[str]]:
    """*count* nodes sharing *n* due lineages (renewal settings ``how(names)`` for the
    authenticator): node1 registers, makes them, imports them; the others sync them."""
    nodes = make_nodes(pebble, url, tmp_path, pg, count)
    first = nodes[0]
    assert first.run("register", register=True).returncode == 0
    (account,) = db_rows(url, "SELECT account_id FROM cl_accounts")
    names = [unique_name("fleet") for _ in range(n)]
    params = {
        "account": account[0],
        "server": pebble.directory_url,
        "key_type": "ecdsa",
        "ca_bundle": str(pebble.ca_bundle),
        **how(names),
    }
    layout = Layout(first.client.config_dir, first.client.work_dir, first.client.logs_dir)
    make_lineages(layout, names, params, age=80)
    result = first.fleet("import", "--json")
    assert result.returncode == 0, result
    assert sorted(json.loads(result.stdout)["imported"]) == sorted(names)
    for node in nodes[1:]:
        synced = node.fleet("sync", "--json")
        assert synced.returncode == 0, synced
        assert sorted(json.loads(synced.stdout)["updated"]) == sorted(names)
    return nodes, names


def db_rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of *sql* read straight from the database (the test's view, not the client's)."""
    import psycopg

    with psycopg.connect(url) as conn:
        return list(conn.execute(sql, params).fetchall())
