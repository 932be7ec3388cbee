"""Per-lineage leases in PostgreSQL, with fencing tokens.

A lease is a row of ``cl_locks``: the lineage, the node and process holding it, a fencing
token drawn from a sequence, and an expiry time. Taking it is one statement that inserts the
row or takes over an *expired* one; a heartbeat thread extends the leases this process holds
every third of the lease time. A process that dies (SIGKILL) or stops (SIGSTOP) stops
extending: its lease expires and another node takes it. A lease row survives a dead
connection, unlike an advisory lock, which is what makes a paused node detectable: when it
resumes, its token is no longer in the row, so :meth:`PgStore.save_version` refuses its
write (and the compare-and-swap on the lineage's version would refuse it too).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from certbot_like.errors import CertbotLikeError

logger = logging.getLogger(__name__)

Db = Callable[[], AbstractContextManager[Any]]

ACQUIRE = """
INSERT INTO cl_locks (name, node, holder, token, expires_at)
VALUES (%(name)s, %(node)s, %(holder)s, nextval('cl_fencing'),
        now() + make_interval(secs => %(lease)s))
ON CONFLICT (name) DO UPDATE
    SET node = excluded.node, holder = excluded.holder, token = excluded.token,
        acquired_at = now(), expires_at = excluded.expires_at
    WHERE cl_locks.expires_at < now()
RETURNING token
"""
EXTEND = """
UPDATE cl_locks SET expires_at = now() + make_interval(secs => %s)
WHERE name = %s AND token = %s
"""


class Leases:
    """The leases this process holds on one store, and the heartbeat that keeps them."""

    def __init__(self, db: Db, node: str, lease_seconds: float) -> None:
        self._db, self.node, self.lease_seconds = db, node, lease_seconds
        self._held: dict[str, int] = {}
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def token(self, name: str) -> int | None:
        """The fencing token this process holds for *name*, if any."""
        with self._guard:
            return self._held.get(name)

    def acquire(self, name: str) -> bool:
        """Take the lease of *name* when it is free or expired.

        Raises:
            StorageError: the database cannot be reached.
        """
        holder = f"{self.node}:{os.getpid()}:{threading.get_ident()}"
        with self._guard:
            if name in self._held:
                return False  # one holder per process, like the file store's locks
        with self._db() as conn:
            row = conn.execute(
                ACQUIRE,
                {"name": name, "node": self.node, "holder": holder, "lease": self.lease_seconds},
            ).fetchone()
        if row is None:
            return False
        with self._guard:
            self._held[name] = int(row[0])
            self._start()
        return True

    def release(self, name: str) -> None:
        """Give the lease back (a lease that expired meanwhile is left to its new holder)."""
        with self._guard:
            token = self._held.pop(name, None)
        if token is None:
            return
        try:
            with self._db() as conn:
                conn.execute("DELETE FROM cl_locks WHERE name = %s AND token = %s", (name, token))
        except CertbotLikeError as exc:  # it expires by itself
            logger.warning("Could not release the lease of %s: %s", name, exc.one_line())

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._wake.clear()
            self._thread = threading.Thread(
                target=self._beat, name="certbot-like-lease", daemon=True
            )
            self._thread.start()

    def _beat(self) -> None:
        while not self._wake.wait(self.lease_seconds / 3):
            with self._guard:
                held = list(self._held.items())
            if not held:
                return
            for name, token in held:
                self._extend(name, token)

    def _extend(self, name: str, token: int) -> None:
        try:
            with self._db() as conn:
                extended = conn.execute(EXTEND, (self.lease_seconds, name, token)).rowcount
        except CertbotLikeError as exc:
            logger.warning("Could not extend the lease of %s: %s", name, exc.one_line())
            return
        if not extended:
            logger.warning("%s: this node lost its lease; its result will not be stored", name)

    def stop(self) -> None:
        """Stop the heartbeat (the leases still held expire by themselves)."""
        self._wake.set()

    def held(self) -> Iterator[tuple[str, int]]:
        with self._guard:
            yield from list(self._held.items())


class Lease:
    """The :class:`~certbot_like.storage.store.LineageLock` of one lineage in PostgreSQL."""

    def __init__(self, leases: Leases, name: str, on_acquire: Callable[[str], None]) -> None:
        self._leases, self._name, self._on_acquire = leases, name, on_acquire
        self._mine = False

    def try_acquire(self) -> bool:
        """Take the lease; then re-read the lineage's generation (it may have just moved).

        Raises:
            StorageError: the database cannot be reached.
        """
        if self._mine or not self._leases.acquire(self._name):
            return False
        self._mine = True
        self._on_acquire(self._name)
        return True

    def release(self) -> None:
        if self._mine:
            self._mine = False
            self._leases.release(self._name)
