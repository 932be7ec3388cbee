"""ACME accounts in the fleet store: one row per (server, id), keys sealed.

The account key and a pending rollover key are sealed with the store key (bound to the
row: ``account:<server>:<id>``, ``pending:<server>:<id>``); the registration and metadata
are plain JSON. A rolled-over account keeps its old row (``moved``, no key) until its
pending key is dropped, as the file store keeps the old directory.
"""

from __future__ import annotations

import datetime
import json
import socket
from typing import Any

from certbot_like.errors import ConfigError
from certbot_like.storage.pg_lease import Db
from certbot_like.storage.sealed import StoreKey
from certbot_like.storage.store import StoredAccount


def _jsonb(value: Any) -> Any:
    from psycopg.types.json import Jsonb

    return Jsonb(value)


class PgAccounts:
    """The account half of :class:`~certbot_like.storage.pg_store.PgStore` (a mixin: the
    store gives ``_db``, ``store_key`` and ``description``)."""

    _db: Db

    @property
    def description(self) -> str:
        raise NotImplementedError

    def store_key(self) -> StoreKey:
        raise NotImplementedError

    def _seal(self, what: str, server: str, account_id: str, jwk: dict[str, Any]) -> bytes:
        return self.store_key().seal(json.dumps(jwk).encode(), f"{what}:{server}:{account_id}")

    def _open(self, what: str, server: str, account_id: str, sealed: bytes) -> dict[str, Any]:
        data = json.loads(self.store_key().open(bytes(sealed), f"{what}:{server}:{account_id}"))
        if not isinstance(data, dict) or "kty" not in data:
            raise ConfigError(f"The stored {what} key of account {account_id} is malformed")
        return data

    def account_ids(self, server: str) -> list[str]:
        with self._db() as conn:
            rows = conn.execute(
                "SELECT account_id FROM cl_accounts WHERE server = %s AND NOT moved "
                "AND key_sealed IS NOT NULL ORDER BY created",
                (server,),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def load_account(self, server: str, account_id: str) -> StoredAccount:
        with self._db() as conn:
            row = conn.execute(
                "SELECT uri, key_sealed, body, meta FROM cl_accounts "
                "WHERE server = %s AND account_id = %s AND NOT moved AND key_sealed IS NOT NULL",
                (server, account_id),
            ).fetchone()
        if row is None:
            raise ConfigError(
                f"Account {account_id} not found for {server} in {self.description}",
                "Run `certbot-like register`, or `certbot-like fleet import` on the node "
                "that has it",
            )
        key = self._open("account", server, account_id, row[1])
        return StoredAccount(account_id, server, str(row[0]), key, dict(row[2]), dict(row[3]))

    def all_stored_accounts(self) -> list[StoredAccount]:
        """Every usable account of every server (keys opened), for the nodes' local copies.

        Raises:
            StoreUnavailable: the database cannot be reached.
            ConfigError: a key cannot be opened with this node's store key.
        """
        with self._db() as conn:
            rows = conn.execute(
                "SELECT server, account_id, uri, key_sealed, body, meta FROM cl_accounts "
                "WHERE NOT moved AND key_sealed IS NOT NULL ORDER BY server, created"
            ).fetchall()
        return [
            StoredAccount(
                str(r[1]),
                str(r[0]),
                str(r[2]),
                self._open("account", str(r[0]), str(r[1]), r[3]),
                dict(r[4]),
                dict(r[5]),
            )
            for r in rows
        ]

    def save_account(self, account: StoredAccount) -> None:
        if not account.meta:
            now = datetime.datetime.now(datetime.UTC)
            account.meta = {
                "creation_dt": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "creation_host": socket.getfqdn(),
            }
        sealed = self._seal("account", account.server, account.account_id, account.key_jwk)
        with self._db() as conn:
            conn.execute(
                "INSERT INTO cl_accounts (server, account_id, uri, key_sealed, body, meta) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (server, account_id) DO UPDATE "
                "SET uri = excluded.uri, key_sealed = excluded.key_sealed, "
                "body = excluded.body, meta = excluded.meta, moved = false",
                (
                    account.server,
                    account.account_id,
                    account.uri,
                    sealed,
                    _jsonb(account.body),
                    _jsonb(account.meta),
                ),
            )

    def save_registration(self, account: StoredAccount) -> None:
        with self._db() as conn:
            conn.execute(
                "UPDATE cl_accounts SET uri = %s, body = %s WHERE server = %s AND account_id = %s",
                (account.uri, _jsonb(account.body), account.server, account.account_id),
            )

    def pending_account_key(self, server: str, account_id: str) -> dict[str, Any] | None:
        with self._db() as conn:
            row = conn.execute(
                "SELECT pending_sealed FROM cl_accounts WHERE server = %s AND account_id = %s",
                (server, account_id),
            ).fetchone()
        if row is None or row[0] is None:
            return None
        return self._open("pending", server, account_id, row[0])

    def save_pending_account_key(self, server: str, account_id: str, jwk: dict[str, Any]) -> str:
        sealed = self._seal("pending", server, account_id, jwk)
        with self._db() as conn:
            conn.execute(
                "UPDATE cl_accounts SET pending_sealed = %s WHERE server = %s AND account_id = %s",
                (sealed, server, account_id),
            )
        return f"{self.description} (account {account_id}, pending key)"

    def drop_pending_account_key(self, server: str, account_id: str) -> None:
        with self._db() as conn:
            conn.execute(
                "UPDATE cl_accounts SET pending_sealed = NULL "
                "WHERE server = %s AND account_id = %s",
                (server, account_id),
            )
            conn.execute(
                "DELETE FROM cl_accounts WHERE server = %s AND account_id = %s AND moved",
                (server, account_id),
            )

    def moved_pending_keys(self, server: str) -> list[tuple[str, dict[str, Any]]]:
        with self._db() as conn:
            rows = conn.execute(
                "SELECT account_id, pending_sealed FROM cl_accounts WHERE server = %s AND moved "
                "AND pending_sealed IS NOT NULL ORDER BY account_id",
                (server,),
            ).fetchall()
        return [(str(r[0]), self._open("pending", server, str(r[0]), r[1])) for r in rows]

    def replace_account_key(
        self, account: StoredAccount, new_id: str, new_key: dict[str, Any]
    ) -> None:
        old_id = account.account_id
        account.account_id, account.key_jwk = new_id, new_key
        with self._db():  # one transaction: the new row and the old one's retirement
            self.save_account(account)
            if old_id != new_id:
                with self._db() as conn:
                    conn.execute(
                        "UPDATE cl_accounts SET moved = true, key_sealed = NULL "
                        "WHERE server = %s AND account_id = %s",
                        (account.server, old_id),
                    )
