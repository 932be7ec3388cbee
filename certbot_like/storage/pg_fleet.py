"""What only a fleet asks of the PostgreSQL store: importing a node's lineages with their
version numbers, recording nodes, and the status overview (nodes, lineages, leases)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from certbot_like.storage.pg_store import PgStore
from certbot_like.storage.renewal_params import RenewalParams
from certbot_like.storage.store import CertFiles


def import_lineage(
    store: PgStore,
    name: str,
    versions: Mapping[int, CertFiles],
    current: int,
    params: RenewalParams,
) -> str:
    """Store a lineage read from a node's files, keeping its version numbers.

    Returns:
        ``imported``, ``present`` (the store has exactly these certificates already) or
        ``conflict`` (the store has another lineage of that name; nothing was written).

    Raises:
        StoreUnavailable, StorageError: the database failed (nothing was written).
    """
    from psycopg.types.json import Jsonb

    key = store.store_key()
    with store._db() as conn:
        row = conn.execute(
            "SELECT current_version FROM cl_lineages WHERE name = %s FOR UPDATE", (name,)
        ).fetchone()
        if row is not None:
            stored = {
                int(v): bytes(c)
                for v, c in conn.execute(
                    "SELECT version, cert FROM cl_versions WHERE lineage = %s", (name,)
                ).fetchall()
            }
            mine = {v: f.cert for v, f in versions.items()}
            return "present" if stored == mine and row[0] == current else "conflict"
        conn.execute(
            "INSERT INTO cl_lineages (name, params, current_version, renewed_by, renewed_at) "
            "VALUES (%s, %s, %s, %s, now())",
            (name, Jsonb(params.to_conf()), current, store.node),
        )
        for version, files in sorted(versions.items()):
            conn.execute(
                "INSERT INTO cl_versions (lineage, version, cert, chain, fullchain, "
                "privkey_sealed, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    name,
                    version,
                    files.cert,
                    files.chain,
                    files.fullchain,
                    key.seal(files.privkey, f"privkey:{name}:{version}"),
                    store.node,
                ),
            )
    return "imported"


def record_node(store: PgStore, *, ran: bool = False, synced: bool = False) -> None:
    """Note that this node ran ``renew`` and/or synced now (for ``fleet status``).

    Raises:
        StoreUnavailable, StorageError: the database failed.
    """
    from certbot_like import __version__

    with store._db() as conn:
        conn.execute(
            "INSERT INTO cl_nodes (name, version, last_run, last_sync) VALUES (%s, %s, "
            "CASE WHEN %s THEN now() END, CASE WHEN %s THEN now() END) "
            "ON CONFLICT (name) DO UPDATE SET version = excluded.version, "
            "last_run = coalesce(excluded.last_run, cl_nodes.last_run), "
            "last_sync = coalesce(excluded.last_sync, cl_nodes.last_sync)",
            (store.node, __version__, ran, synced),
        )


def held_leases(store: PgStore, names: set[str]) -> set[str]:
    """Which of *names* another process holds an unexpired lease on right now."""
    with store._db() as conn:
        rows = conn.execute(
            "SELECT name FROM cl_locks WHERE name = ANY(%s) AND expires_at > now()",
            (sorted(names),),
        ).fetchall()
    return {str(r[0]) for r in rows}


@dataclass
class FleetStatus:
    """What ``fleet status`` shows."""

    nodes: list[dict[str, Any]]
    lineages: list[dict[str, Any]]
    locks: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "lineages": self.lineages, "locks": self.locks}


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def fleet_status(store: PgStore) -> FleetStatus:
    """Nodes, lineages and leases as the database has them (three queries).

    Raises:
        StoreUnavailable, StorageError: the database failed.
    """
    with store._db() as conn:
        now = conn.execute("SELECT now()").fetchone()[0]
        nodes = conn.execute(
            "SELECT name, version, last_run, last_sync FROM cl_nodes ORDER BY name"
        ).fetchall()
        lineages = conn.execute(
            "SELECT l.name, l.current_version, l.renewed_by, l.renewed_at, s.data "
            "FROM cl_lineages l LEFT JOIN cl_state s ON s.lineage = l.name ORDER BY l.name"
        ).fetchall()
        locks = conn.execute(
            "SELECT name, node, holder, token, acquired_at, expires_at, expires_at > now() "
            "FROM cl_locks ORDER BY name"
        ).fetchall()
    return FleetStatus(
        nodes=[
            {
                "name": n,
                "version": v,
                "last_run": _iso(run),
                "last_sync": _iso(sync),
                "lag_seconds": round((now - sync).total_seconds()) if sync else None,
            }
            for n, v, run, sync in nodes
        ],
        lineages=[
            {
                "name": n,
                "version": v,
                "renewed_by": by,
                "renewed_at": _iso(at),
                "next_renewal": _next(data),
                "last_outcome": (data or {}).get("last_outcome"),
            }
            for n, v, by, at, data in lineages
        ],
        locks=[
            {
                "lineage": n,
                "node": node,
                "holder": holder,
                "fencing_token": token,
                "acquired_at": _iso(acq),
                "expires_at": _iso(exp),
                "expired": not live,
            }
            for n, node, holder, token, acq, exp, live in locks
        ],
    )


def _next(data: Mapping[str, Any] | None) -> str | None:
    """The next renewal moment the shared state knows (ARI's choice, else 2/3 of the
    lifetime), ISO 8601."""
    if not data:
        return None
    moment = data.get("ari_renew_at")
    before, after = data.get("not_before"), data.get("not_after")
    if moment is None and isinstance(before, (int, float)) and isinstance(after, (int, float)):
        moment = before + (after - before) * 2 / 3
    if not isinstance(moment, (int, float)):
        return None
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).isoformat()


class SyncMemo:
    """The generation of each lineage this node last copied (``<work-dir>/certbot-like/
    fleet-synced.json``), so a sync with nothing new reads no lineage."""

    def __init__(self, store: PgStore) -> None:
        self.path = store.layout.state_dir / "fleet-synced.json"
        try:
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            data = {}
        self.seen: dict[str, int] = data if isinstance(data, dict) else {}
        self._before = dict(self.seen)

    def save(self) -> None:
        from certbot_like.storage.atomic import make_dirs, write_file

        if self.seen != self._before:
            make_dirs(self.path.parent, 0o700)
            write_file(self.path, json.dumps(self.seen).encode(), 0o600)
