"""The storage contract suite, run against PgStore on a real PostgreSQL."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from certbot_like.errors import ConfigError, StorageError
from certbot_like.storage.pg_store import PgStore
from tests.integration.fleet_fixtures import pg_store, postgres, store_url  # noqa: F401
from tests.unit import test_store_contract as contract
from tests.unit.test_store_contract import (  # noqa: F401  (collected here against PgStore)
    PARAMS,
    test_a_new_lineage_is_listed_and_reads_back_typed,
    test_a_renewal_adds_a_version_and_keeps_the_old_one,
    test_a_writer_that_read_an_old_version_is_refused,
    test_accounts_round_trip_and_key_rollover_steps,
    test_delete_removes_the_lineage_and_unknown_names_are_usage_errors,
    test_renewal_state_round_trips_and_keeps_only_named_lineages,
    test_the_change_token_moves_only_when_the_lineage_does,
    test_the_run_lock_excludes_a_second_holder_and_lineage_locks_are_per_name,
    test_write_params_changes_settings_not_certificates,
)


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[PgStore]:  # noqa: F811
    first = pg_store(store_url, tmp_path / "node1")
    first.initialize()
    yield first
    first.close()


def test_a_second_node_sees_the_first_nodes_version_and_materializes_it(
    store: PgStore,
    tmp_path: Path,
) -> None:
    shutil.copy(store.key_file, tmp_path / "key")
    (tmp_path / "node2" / "config").mkdir(parents=True)
    shutil.copy(tmp_path / "key", tmp_path / "node2" / "config" / "store.key")
    second = pg_store(store.url, tmp_path / "node2", "node2")
    files = contract._files(["a.test"])
    store.save_version("a.test", files, PARAMS, expect_version=None)
    assert second.lineage_names() == ["a.test"] and second.read_files("a.test") == files
    assert second.materialize("a.test") and not second.materialize("a.test")
    live = second.layout.live_dir("a.test")
    assert (live / "privkey.pem").read_bytes() == files.privkey
    key = second.layout.archive_dir("a.test") / "privkey1.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    second.close()


def test_a_node_whose_lease_was_taken_over_cannot_store(
    store: PgStore,
    tmp_path: Path,
) -> None:
    store.save_version("a.test", contract._files(["a.test"]), PARAMS, expect_version=None)
    slow = pg_store(store.url, tmp_path / "node1", "slow", lease=1.0)
    slow.leases.stop()  # a paused node: its heartbeat does not run
    lock = slow.lineage_lock("a.test")
    assert lock.try_acquire()
    slow.leases._wake.set()
    with slow._db() as conn:  # let the lease run out without sleeping
        conn.execute("UPDATE cl_locks SET expires_at = now() - interval '1 s'")
    assert store.lineage_lock("a.test").try_acquire()
    with pytest.raises(StorageError, match="lease expired"):
        slow.save_version("a.test", contract._files(["a.test"]), PARAMS, expect_version=1)
    assert store.read_lineage("a.test").version == 1
    slow.close()


def test_a_node_with_another_store_key_is_refused(
    store: PgStore,
    tmp_path: Path,
) -> None:
    other = pg_store(store.url, tmp_path / "other", "other")
    from certbot_like.storage.sealed import create_key_file

    create_key_file(other.key_file)
    with pytest.raises(ConfigError, match="not the one the store"):
        other.lineage_names()
