""":class:`MemoryStore`: the :class:`~certbot_like.storage.store.Store` contract in memory.

For unit tests of the services (milliseconds per test, no disk), and the reference for a
database store: every lineage has a generation number that is also its change token, and
a new version is stored with compare-and-swap on it.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certbot_like.errors import ConfigError, LockError, StorageError, UsageError
from certbot_like.names import check_lineage_name
from certbot_like.storage.renewal_params import RenewalParams
from certbot_like.storage.renewal_state import RenewalState
from certbot_like.storage.store import (
    KINDS,
    CertFiles,
    Lineage,
    LineageFacts,
    StoredAccount,
    facts_from_pem,
)


@dataclass
class _Record:
    params: RenewalParams
    versions: dict[int, CertFiles] = field(default_factory=dict)
    current: int | None = None
    generation: int = 0


@dataclass
class _Account:
    account: StoredAccount
    created: int
    pending: dict[str, Any] | None = None
    moved: bool = False  # the key and registration moved to a new id; only pending is left


class _Lock:
    def __init__(self, held: set[str], guard: threading.Lock, name: str) -> None:
        self._held, self._guard, self._name, self._mine = held, guard, name, False

    def try_acquire(self) -> bool:
        with self._guard:
            if self._name in self._held:
                return False
            self._held.add(self._name)
            self._mine = True
            return True

    def release(self) -> None:
        with self._guard:
            if self._mine:
                self._held.discard(self._name)
                self._mine = False


class MemoryStore:
    """Everything in dictionaries; thread-safe; ``root`` only names the fake live paths."""

    def __init__(self, root: Path = Path("/memory")) -> None:
        self.root = root
        self._lineages: dict[str, _Record] = {}
        self._accounts: dict[tuple[str, str], _Account] = {}
        self._state = RenewalState()
        self._guard = threading.RLock()
        self._lock_guard = threading.Lock()
        self._held: set[str] = set()
        self._counter = 0
        self.writable = True  # tests set False to simulate a read-only store

    @property
    def description(self) -> str:
        return f"memory:{self.root}"

    # -- lineages ----------------------------------------------------------------------------

    def lineage_names(self) -> list[str]:
        with self._guard:
            return sorted(self._lineages)

    def orphan_certificates(self) -> list[str]:
        return []  # a lineage is stored with its settings or not at all

    def has_lineage(self, name: str) -> bool:
        with self._guard:
            return name in self._lineages

    def _record(self, name: str) -> _Record:
        record = self._lineages.get(name)
        if record is None:
            raise UsageError(
                f"No certificate named {name} in {self.description}",
                "Run `certbot-like certificates` to see the names",
            )
        return record

    def _live(self, name: str) -> dict[str, Path]:
        return {k: self.root / "live" / name / f"{k}.pem" for k in KINDS}

    def read_lineage(self, name: str) -> Lineage:
        with self._guard:
            record = self._record(name)
            problems = () if record.current is not None else ("no current version",)
            return Lineage(
                name=name,
                params=record.params,
                live=self._live(name),
                location=f"{self.description}/{name}",
                version=record.current,
                version_list=tuple(sorted(record.versions)),
                problems=problems,
            )

    def read_files(
        self, name: str, version: int | None = None, *, kinds: Collection[str] = KINDS
    ) -> CertFiles:
        with self._guard:
            record = self._record(name)
            wanted = record.current if version is None else version
            if wanted is None or wanted not in record.versions:
                raise StorageError(f"{name} has no version {wanted}", "Obtain it again")
            return record.versions[wanted]

    def change_token(self, name: str, hint: str | None) -> str | None:
        with self._guard:
            return str(self._record(name).generation)

    def lineage_facts(self, name: str) -> LineageFacts:
        files = self.read_files(name)
        return facts_from_pem(files.cert, self.read_lineage(name).params, name)

    def _check_writable(self) -> None:
        if not self.writable:
            raise StorageError(f"Could not write to {self.description}", "It is read-only")

    def prepare_writes(self) -> None:
        self._check_writable()

    def save_version(
        self,
        name: str,
        files: CertFiles,
        params: RenewalParams,
        *,
        expect_version: int | None,
    ) -> Lineage:
        check_lineage_name(name)
        with self._guard:
            self._check_writable()
            record = self._lineages.get(name)
            moved = record is not None and record.current != expect_version
            if moved and expect_version is not None:
                raise StorageError(
                    f"{name} changed while it was being renewed (version "
                    f"{record.current if record else None}, expected {expect_version}); "
                    "nothing was stored",
                    "Another run renewed it; run again to see its state",
                )
            if record is None:
                record = self._lineages[name] = _Record(params=params)
            version = max(record.versions, default=0) + 1
            record.versions[version] = files
            record.current = version
            record.params = params
            record.generation += 1
            return self.read_lineage(name)

    def write_params(self, name: str, params: RenewalParams) -> None:
        with self._guard:
            self._check_writable()
            record = self._record(name)
            record.params = params
            record.generation += 1

    def delete_lineage(self, name: str) -> list[str]:
        with self._guard:
            self._check_writable()
            self._record(name)
            del self._lineages[name]
        return [f"{self.description}/{name}"]

    def unused_name(self, name: str) -> str:
        with self._guard:
            if name not in self._lineages:
                return name
            for counter in range(1, 10000):
                candidate = f"{name}-{counter:04d}"
                if candidate not in self._lineages:
                    return candidate
        raise StorageError(f"Too many lineages named {name}-NNNN", "Delete unused ones")

    # -- accounts ----------------------------------------------------------------------------

    def account_ids(self, server: str) -> list[str]:
        with self._guard:
            found = [
                (entry.created, account_id)
                for (srv, account_id), entry in self._accounts.items()
                if srv == server and not entry.moved
            ]
        return [account_id for _, account_id in sorted(found)]

    def load_account(self, server: str, account_id: str) -> StoredAccount:
        with self._guard:
            entry = self._accounts.get((server, account_id))
            if entry is None or entry.moved:
                raise ConfigError(
                    f"Account {account_id} not found for {server}",
                    "Run `certbot-like register`, or check --server and --config-dir",
                )
            return copy.deepcopy(entry.account)

    def save_account(self, account: StoredAccount) -> None:
        with self._guard:
            self._check_writable()
            if not account.meta:
                now = datetime.datetime.now(datetime.UTC)
                account.meta = {"creation_dt": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
            self._counter += 1
            key = (account.server, account.account_id)
            old = self._accounts.get(key)
            self._accounts[key] = _Account(
                copy.deepcopy(account), self._counter, old.pending if old else None
            )

    def save_registration(self, account: StoredAccount) -> None:
        with self._guard:
            self._check_writable()
            entry = self._accounts[(account.server, account.account_id)]
            entry.account.body = copy.deepcopy(account.body)
            entry.account.uri = account.uri

    def pending_account_key(self, server: str, account_id: str) -> dict[str, Any] | None:
        with self._guard:
            entry = self._accounts.get((server, account_id))
            return copy.deepcopy(entry.pending) if entry else None

    def save_pending_account_key(self, server: str, account_id: str, jwk: dict[str, Any]) -> str:
        with self._guard:
            self._check_writable()
            self._accounts[(server, account_id)].pending = copy.deepcopy(jwk)
        return f"{self.description}/accounts/{account_id}/pending"

    def drop_pending_account_key(self, server: str, account_id: str) -> None:
        with self._guard:
            entry = self._accounts.get((server, account_id))
            if entry is None:
                return
            entry.pending = None
            if entry.moved:
                del self._accounts[(server, account_id)]

    def moved_pending_keys(self, server: str) -> list[tuple[str, dict[str, Any]]]:
        with self._guard:
            return [
                (account_id, copy.deepcopy(entry.pending))
                for (srv, account_id), entry in sorted(self._accounts.items())
                if srv == server and entry.moved and entry.pending is not None
            ]

    def replace_account_key(
        self, account: StoredAccount, new_id: str, new_key: dict[str, Any]
    ) -> None:
        with self._guard:
            self._check_writable()
            old_id = account.account_id
            account.account_id, account.key_jwk = new_id, new_key
            self.save_account(account)
            old = self._accounts.get((account.server, old_id))
            if old is not None and old_id != new_id:
                old.moved = True

    # -- renewal state and locks -------------------------------------------------------------

    def load_state(self) -> RenewalState:
        with self._guard:
            state = copy.deepcopy(self._state)
        state.dirty = False
        return state

    def save_state(self, state: RenewalState, keep: set[str] | None = None) -> None:
        with self._guard:
            if keep is not None:
                state.lineages = {k: v for k, v in state.lineages.items() if k in keep}
            self._state = copy.deepcopy(state)
            state.dirty = False

    @contextlib.contextmanager
    def run_lock(self) -> Iterator[object]:
        lock = _Lock(self._held, self._lock_guard, "\0run")
        if not lock.try_acquire():
            raise LockError(f"Another run is using {self.description}", "Wait for it to finish")
        try:
            yield lock
        finally:
            lock.release()

    def lineage_lock(self, name: str) -> _Lock:
        return _Lock(self._held, self._lock_guard, name)

    def hook_dir(self, stage: str) -> Path:
        return self.root / "renewal-hooks" / stage
