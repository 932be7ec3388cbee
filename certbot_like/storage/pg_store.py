""":class:`PgStore`: the :class:`~certbot_like.storage.store.Store` contract on PostgreSQL,
shared by every node of a fleet.

The database is the source of truth; each node keeps its own config directory as a
materialised copy written exactly as :class:`FileStore` writes it (archive, atomic ``live/``
swap, renewal conf), so ``Lineage.live`` paths, hooks, installers and certbot itself keep
seeing local files. A new version is stored in one transaction that checks

- the compare-and-swap value: the lineage is still at the version the caller read;
- the fencing token: when this process took the lineage's lease, the lease is still its own;

and only then copied to the local directory. ``fleet sync`` (and ``renew`` at its start and
end) copies what other nodes stored. Private keys enter the database sealed
(:mod:`certbot_like.storage.sealed`). ``psycopg`` is imported only here, on first use.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from certbot_like.errors import ConfigError, StorageError, StoreUnavailable, UsageError
from certbot_like.names import check_lineage_name
from certbot_like.storage.file_store import FileStore
from certbot_like.storage.layout import KINDS, Layout
from certbot_like.storage.pg_accounts import PgAccounts
from certbot_like.storage.pg_challenges import PgChallenges
from certbot_like.storage.pg_lease import Lease, Leases
from certbot_like.storage.pg_local import for_node
from certbot_like.storage.pg_state import PgState
from certbot_like.storage.renewal_params import RenewalParams
from certbot_like.storage.sealed import StoreKey, read_key_file
from certbot_like.storage.store import CertFiles, Lineage, LineageFacts, facts_from_pem

logger = logging.getLogger(__name__)
DEFAULT_LEASE = 300.0
CONNECT_TIMEOUT = 10


def redacted(url: str) -> str:
    """*url* without a password (for messages and ``description``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class PgStore(PgAccounts, PgChallenges, PgState):
    """Lineages, accounts, renewal state and leases in PostgreSQL; files materialised in
    *layout* on this node."""

    def __init__(
        self,
        url: str,
        layout: Layout,
        key_file: Path,
        node: str,
        lease_seconds: float = DEFAULT_LEASE,
    ) -> None:
        self.url, self.layout, self.key_file, self.node = url, layout, key_file, node
        self.local = FileStore(layout)
        self._conn: Any = None
        self._guard = threading.RLock()
        self._key: StoreKey | None = None
        self._generations: dict[str, int] = {}
        self._state_seen: dict[str, list[Any]] = {}
        self.leases = Leases(self._db, node, lease_seconds)

    @property
    def description(self) -> str:
        return redacted(self.url)

    # -- connection ---------------------------------------------------------------------------

    def store_key(self) -> StoreKey:
        """The sealing key from ``--store-key-file`` (read once).

        Raises:
            ConfigError: the key file is missing or malformed.
        """
        if self._key is None:
            self._key = read_key_file(self.key_file)
        return self._key

    def connect(self, *, check: bool = True) -> Any:
        """The connection (opened on first use); with *check*, the schema version and the
        store key's fingerprint are compared with the database's.

        Raises:
            StoreUnavailable: the server cannot be reached.
            ConfigError: psycopg is missing, the schema is not initialised or is of another
                version, or the key file is not the fleet's.
        """
        if self._conn is not None and not self._conn.closed:
            return self._conn
        try:
            import psycopg
        except ImportError:
            raise ConfigError(
                "--store postgresql:// needs the psycopg driver",
                "Install the extra: pip install 'certbot-like[postgresql]'",
            ) from None
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        except psycopg.Error as exc:
            raise self._unavailable(exc) from None
        if check:
            self._check(conn)
        self._conn = conn
        return conn

    def _check(self, conn: Any) -> None:
        from certbot_like.storage import pg_schema

        try:
            version = pg_schema.current_version(conn)
            stored = pg_schema.read_meta(conn, "key_fingerprint") if version else None
        except Exception:
            conn.close()
            raise
        if version != pg_schema.SCHEMA_VERSION:
            conn.close()
            raise ConfigError(
                f"The store {self.description} has schema version {version}, this certbot-like "
                f"uses {pg_schema.SCHEMA_VERSION}",
                "Run `certbot-like fleet init --store URL` once",
            )
        if stored != self.store_key().fingerprint:
            conn.close()
            raise ConfigError(
                f"The store key file {self.key_file} is not the one the store {self.description} "
                "was initialised with",
                "Copy store.key from a node of the fleet (mode 0600)",
            )

    def initialize(self) -> tuple[int, int, bool]:
        """Create or migrate the schema, create the key file when missing, record the key's
        fingerprint (idempotent).

        Returns:
            (schema version before, after, whether a key file was created).

        Raises:
            StoreUnavailable, StorageError, ConfigError: as :meth:`connect`, or the key file
                differs from the one the store was initialised with.
        """
        from certbot_like.storage import pg_schema
        from certbot_like.storage.sealed import create_key_file

        created = create_key_file(self.key_file)
        key = self.store_key()
        with self._db(check=False) as conn:
            before, after = pg_schema.migrate(conn)
            stored = pg_schema.write_meta_once(conn, "key_fingerprint", key.fingerprint)
        if stored != key.fingerprint:
            raise ConfigError(
                f"The store {self.description} was initialised with another store key than "
                f"{self.key_file}",
                "Copy store.key from a node of the fleet instead of creating a new one",
            )
        return before, after, created

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        parts = urlsplit(self.url)
        if parts.password:
            reason = reason.replace(parts.password, "***")
        return StoreUnavailable(
            f"The store {self.description} cannot be reached ({reason[:200]})",
            "Try again later; local files are untouched",
        )

    @contextlib.contextmanager
    def _db(self, *, check: bool = True) -> Iterator[Any]:
        """One transaction on the connection (nested calls become savepoints).

        Raises:
            StoreUnavailable: the connection failed or broke (it is reopened next time).
            StorageError: the database refused a statement.
        """
        import psycopg

        with self._guard:
            conn = self.connect(check=check)
            try:
                with conn.transaction():
                    yield conn
            except psycopg.OperationalError as exc:
                with contextlib.suppress(Exception):
                    conn.close()
                self._conn = None
                raise self._unavailable(exc) from None
            except psycopg.Error as exc:
                reason = " ".join(str(exc).split())[:200]
                raise StorageError(
                    f"The store {self.description} refused a change: {reason}",
                    "Check the role's privileges (docs/fleet.md)",
                ) from None

    def close(self) -> None:
        """Stop the lease heartbeat and close the connection."""
        self.leases.stop()
        with self._guard:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None

    # -- lineages ----------------------------------------------------------------------------

    def lineage_names(self) -> list[str]:
        with self._db() as conn:
            rows = conn.execute("SELECT name, generation FROM cl_lineages ORDER BY name").fetchall()
        self._generations = {str(r[0]): int(r[1]) for r in rows}
        return [str(r[0]) for r in rows]

    def has_lineage(self, name: str) -> bool:
        with self._db() as conn:
            row = conn.execute("SELECT 1 FROM cl_lineages WHERE name = %s", (name,)).fetchone()
        return row is not None

    def _unknown(self, name: str) -> UsageError:
        return UsageError(
            f"No certificate named {name} in {self.description}",
            "Run `certbot-like certificates` to see the names",
        )

    def read_lineage(self, name: str) -> Lineage:
        with self._db() as conn:
            row = conn.execute(
                "SELECT params, current_version, generation, array(SELECT version FROM "
                "cl_versions WHERE lineage = l.name ORDER BY version) FROM cl_lineages l "
                "WHERE name = %s",
                (name,),
            ).fetchone()
        if row is None:
            raise self._unknown(name)
        check_lineage_name(name)
        self._generations[name] = int(row[2])
        live_dir = self.layout.live_dir(name)
        return Lineage(
            name=name,
            params=RenewalParams.from_conf(row[0], f"{self.description} lineage {name}"),
            live={k: live_dir / f"{k}.pem" for k in KINDS},
            location=f"{self.description} (lineage {name})",
            version=row[1],
            version_list=tuple(row[3]),
            problems=() if row[1] is not None else ("no current version",),
        )

    def orphan_certificates(self) -> list[str]:
        return self.local.orphan_certificates()  # this node's live/ is materialised locally

    def read_files(
        self, name: str, version: int | None = None, *, kinds: Collection[str] = KINDS
    ) -> CertFiles:
        with self._db() as conn:
            row = conn.execute(
                "SELECT v.version, v.privkey_sealed, v.cert, v.chain, v.fullchain "
                "FROM cl_lineages l JOIN cl_versions v ON v.lineage = l.name "
                "AND v.version = coalesce(%s, l.current_version) WHERE l.name = %s",
                (version, name),
            ).fetchone()
        if row is None:
            raise StorageError(
                f"{name} has no version {version or '(current)'} in {self.description}",
                "Obtain it again",
            )
        key = self.store_key().open(bytes(row[1]), f"privkey:{name}:{row[0]}")
        return CertFiles(key, bytes(row[2]), bytes(row[3]), bytes(row[4]))

    def change_token(self, name: str, hint: str | None) -> str | None:
        generation = self._generations.get(name)
        if generation is None:
            self.refresh_generation(name)
            generation = self._generations.get(name)
            if generation is None:
                raise self._unknown(name)
        return str(generation)

    def refresh_generation(self, name: str) -> None:
        """Read *name*'s generation again (after taking its lease: it may have moved).

        Raises:
            StoreUnavailable: the database cannot be reached.
        """
        with self._db() as conn:
            row = conn.execute(
                "SELECT generation FROM cl_lineages WHERE name = %s", (name,)
            ).fetchone()
        if row is None:
            self._generations.pop(name, None)
        else:
            self._generations[name] = int(row[0])

    def lineage_facts(self, name: str) -> LineageFacts:
        lineage = self.read_lineage(name)
        with self._db() as conn:
            row = conn.execute(
                "SELECT cert FROM cl_versions WHERE lineage = %s AND version = %s",
                (name, lineage.version),
            ).fetchone()
        if row is None:
            raise StorageError(f"{name} has no current certificate in {self.description}")
        return facts_from_pem(bytes(row[0]), lineage.params, lineage.location, hint="pg")

    def prepare_writes(self) -> None:
        self.local.prepare_writes()
        with self._db() as conn:
            conn.execute("SELECT 1")

    def save_version(
        self,
        name: str,
        files: CertFiles,
        params: RenewalParams,
        *,
        expect_version: int | None,
    ) -> Lineage:
        check_lineage_name(name)
        token = self.leases.token(name)
        with self._db() as conn:
            row = conn.execute(
                "SELECT current_version, coalesce((SELECT max(version) FROM cl_versions "
                "WHERE lineage = %s), 0) FROM cl_lineages WHERE name = %s FOR UPDATE",
                (name, name),
            ).fetchone()
            if row is not None and expect_version is not None and row[0] != expect_version:
                raise StorageError(
                    f"{name} changed while it was being renewed (version {row[0]}, expected "
                    f"{expect_version}); nothing was stored",
                    "Another node renewed it; run `certbot-like fleet sync` to get it",
                )
            if token is not None and not _still_held(conn, name, token):
                raise StorageError(
                    f"{name}: this node's lease expired and another node took it before the "
                    "certificate was stored; nothing was stored",
                    "Another node may have renewed it; run `certbot-like fleet sync`",
                )
            version = (int(row[1]) if row else 0) + 1
            self._write_version(conn, name, version, files, params)
        self._generations.pop(name, None)
        self.materialize(name)
        return self.read_lineage(name)

    def _write_version(
        self, conn: Any, name: str, version: int, files: CertFiles, params: RenewalParams
    ) -> None:
        from psycopg.types.json import Jsonb

        conn.execute(
            "INSERT INTO cl_lineages (name, params, current_version, generation, renewed_by, "
            "renewed_at) VALUES (%s, %s, NULL, 0, %s, now()) ON CONFLICT (name) DO NOTHING",
            (name, Jsonb(params.to_conf()), self.node),
        )
        sealed = self.store_key().seal(files.privkey, f"privkey:{name}:{version}")
        conn.execute(
            "INSERT INTO cl_versions (lineage, version, cert, chain, fullchain, privkey_sealed, "
            "created_by) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (name, version, files.cert, files.chain, files.fullchain, sealed, self.node),
        )
        conn.execute(
            "UPDATE cl_lineages SET params = %s, current_version = %s, "
            "generation = generation + 1, renewed_by = %s, renewed_at = now(), "
            "updated_at = now() WHERE name = %s",
            (Jsonb(params.to_conf()), version, self.node, name),
        )

    def write_params(self, name: str, params: RenewalParams) -> None:
        from psycopg.types.json import Jsonb

        with self._db() as conn:
            done = conn.execute(
                "UPDATE cl_lineages SET params = %s, generation = generation + 1, "
                "updated_at = now() WHERE name = %s",
                (Jsonb(params.to_conf()), name),
            ).rowcount
        if not done:
            raise self._unknown(name)
        self._generations.pop(name, None)
        if self.local.has_lineage(name):
            self.local.write_params(name, for_node(params, self.layout))

    def delete_lineage(self, name: str) -> list[str]:
        with self._db() as conn:
            done = conn.execute("DELETE FROM cl_lineages WHERE name = %s", (name,)).rowcount
            conn.execute("DELETE FROM cl_state WHERE lineage = %s", (name,))
        if not done:
            raise self._unknown(name)
        self._generations.pop(name, None)
        removed = [f"{self.description} (lineage {name})"]
        if self.local.has_lineage(name):
            removed += self.local.delete_lineage(name)
        return removed

    def unused_name(self, name: str) -> str:
        with self._db() as conn:
            rows = conn.execute(
                "SELECT name FROM cl_lineages WHERE name = %s OR name LIKE %s",
                (name, name.replace("%", r"\%").replace("_", r"\_") + "-%"),
            ).fetchall()
        taken = {str(r[0]) for r in rows} | set(self.local.lineage_names())
        if name not in taken:
            return name
        for counter in range(1, 10000):
            candidate = f"{name}-{counter:04d}"
            if candidate not in taken:
                return candidate
        raise StorageError(f"Too many lineages named {name}-NNNN", "Delete unused ones")

    # -- the local copy -------------------------------------------------------------------------

    def stored_versions(self) -> dict[str, tuple[int | None, int]]:
        """Every lineage's (current version, generation) in the database (one query)."""
        with self._db() as conn:
            rows = conn.execute(
                "SELECT name, current_version, generation FROM cl_lineages"
            ).fetchall()
        return {str(r[0]): (r[1], int(r[2])) for r in rows}

    def materialize(self, name: str, *, check_local: bool = False) -> bool:
        """Copy the versions of *name* this node lacks into its config directory, the current
        one last (``live/`` then points at it); write the renewal conf. With *check_local*
        (a lineage this node never copied from the store), a local lineage of that name must
        hold the store's certificate for its current version.

        Returns:
            Whether a new version was written (settings alone do not count).

        Raises:
            StorageError: a local write failed (the database keeps the version).
            ConfigError: with *check_local*, the local lineage is another one (left alone).
        """
        lineage = self.read_lineage(name)
        if lineage.version is None:
            return False
        params = for_node(lineage.params, self.layout)  # this node's own directories
        local_max = 0
        if self.local.has_lineage(name):
            local = self.local.read_lineage(name)
            if check_local and not self._same_certificate(name, local.version):
                raise ConfigError(
                    f"{name}: this node's lineage of that name is not the store's; left alone",
                    "Delete or rename one of them (`certbot-like fleet import` names conflicts)",
                )
            if local.version == lineage.version:
                if local.params.to_conf() != params.to_conf():
                    self.local.write_params(name, params)
                return False
            local_max = max(local.versions, default=0)
        missing = [v for v in lineage.versions if local_max < v <= lineage.version]
        if not missing:
            logger.warning("%s: the local copy is ahead of the store; left alone", name)
            return False
        for version in missing:
            files = self.read_files(name, version)
            self.local.save_version(name, files, params, expect_version=None)
        return True

    def _same_certificate(self, name: str, version: int | None) -> bool:
        if version is None:
            return False
        with self._db() as conn:
            row = conn.execute(
                "SELECT cert FROM cl_versions WHERE lineage = %s AND version = %s",
                (name, version),
            ).fetchone()
        return row is not None and bytes(row[0]) == self.local.read_files(name, version).cert

    # -- renewal state and locks -------------------------------------------------------------

    def run_lock(self) -> contextlib.AbstractContextManager[object]:
        """This node's run lock (its config directory's, shared with certbot): the nodes of
        a fleet run at the same time and exclude each other per lineage only."""
        return self.local.run_lock()

    def lineage_lock(self, name: str) -> Lease:
        return Lease(self.leases, name, self.refresh_generation)

    def hook_dir(self, stage: str) -> Path:
        return self.local.hook_dir(stage)


def _still_held(conn: Any, name: str, token: int) -> bool:
    """Whether the lease row still carries *token*: a lease that ran out but that no other
    node took over is still this writer's (a slow heartbeat under load is no reason to
    throw a certificate away); one taken over or released carries another token or none."""
    row = conn.execute(
        "SELECT 1 FROM cl_locks WHERE name = %s AND token = %s FOR UPDATE", (name, token)
    ).fetchone()
    return row is not None
