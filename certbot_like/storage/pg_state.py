"""The renewal state shared by a fleet: per lineage the cached certificate facts, the ARI
decision, Retry-After and the last outcome (``cl_state``), per CA whether it offers ARI
(``cl_servers``). So the fleet asks the CA once per lineage, not once per node.

Nodes run at the same time, so a save writes only the lineages whose state this run
changed (compared with what it read): another node's update of another lineage is kept.
"""

from __future__ import annotations

import logging
from typing import Any

from certbot_like.errors import StorageError, StoreUnavailable
from certbot_like.storage.pg_lease import Db
from certbot_like.storage.renewal_state import (
    FIELD_ORDER,
    LineageState,
    RenewalState,
    ServerState,
    row_state,
)

logger = logging.getLogger(__name__)


class PgState:
    """The state half of :class:`~certbot_like.storage.pg_store.PgStore` (a mixin: the store
    gives ``_db`` and ``node``)."""

    _db: Db
    node: str
    _state_seen: dict[str, list[Any]]

    def load_state(self) -> RenewalState:
        try:
            with self._db() as conn:
                rows = conn.execute("SELECT lineage, data FROM cl_state").fetchall()
                servers = conn.execute("SELECT server, ari, checked FROM cl_servers").fetchall()
        except StorageError as exc:
            logger.warning("Reading the renewal state: %s", exc.one_line())
            if isinstance(exc, StoreUnavailable):
                raise
            return RenewalState(dirty=True)
        state = RenewalState()
        self._state_seen = {}
        for name, data in rows:
            key = str(name)
            try:
                seen = _row(data)
                # a row as this version writes it: by type signature (a warm run over 10,000
                # lineages), anything else through the checked path
                copied = [list(v) if type(v) is list else v for v in seen]  # nothing shared
                fast = row_state(copied) if len(data) == len(FIELD_ORDER) else None
                state.lineages[key] = fast or LineageState.from_json(dict(data))
                self._state_seen[key] = seen
            except (ValueError, TypeError, AttributeError):
                state.dirty = True
        for server, ari, checked in servers:
            state.servers[str(server)] = ServerState(ari=bool(ari), checked=float(checked))
        return state

    def save_state(self, state: RenewalState, keep: set[str] | None = None) -> None:
        """Write the lineages whose state differs from what this run read (others' updates
        to other lineages are kept), and every server's ARI flag.

        Raises:
            StorageError: the write failed.
        """
        from psycopg.types.json import Jsonb

        if keep is not None:
            state.lineages = {k: v for k, v in state.lineages.items() if k in keep}
        changed = []
        for name, lineage_state in state.lineages.items():
            data = lineage_state.to_json()
            row = _row(data)
            if self._state_seen.get(name) != row:
                changed.append((name, Jsonb(data), self.node, row))
        with self._db() as conn:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO cl_state (lineage, data, updated_by) VALUES (%s, %s, %s) "
                    "ON CONFLICT (lineage) DO UPDATE SET data = excluded.data, "
                    "updated_by = excluded.updated_by, updated_at = now()",
                    [row[:3] for row in changed],
                )
                cur.executemany(
                    "INSERT INTO cl_servers (server, ari, checked) VALUES (%s, %s, %s) "
                    "ON CONFLICT (server) DO UPDATE SET ari = excluded.ari, "
                    "checked = excluded.checked",
                    [(k, v.ari, v.checked) for k, v in state.servers.items()],
                )
            if keep is not None:
                conn.execute("DELETE FROM cl_state WHERE lineage <> ALL(%s)", (sorted(keep),))
        for name, _, _, row in changed:
            self._state_seen[name] = row
        state.dirty = False


def _row(data: Any) -> list[Any]:
    """The fields of a state document in :data:`FIELD_ORDER`, tuples as lists: what this run
    read, compared with what it would write (no JSON text per lineage).

    Raises:
        AttributeError: *data* is not a mapping.
    """
    return [
        list(value) if isinstance(value, tuple) else value for value in map(data.get, FIELD_ORDER)
    ]
