"""Fixtures of the fleet tests: one PostgreSQL per test session (per xdist worker), a fresh
database per test, and PgStores on it for nodes with their own config directories.

Import ``postgres`` (and ``store_url``) into a test module. A missing PostgreSQL fails the
tests (``ServerMissing``), never skips them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from certbot_like.storage.layout import Layout
from certbot_like.storage.pg_store import PgStore
from tests.harness.postgres import Postgres


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
