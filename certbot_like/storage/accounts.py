"""ACME accounts in certbot's layout.

``accounts/<netloc>/<path>/<id>/`` holds ``private_key.json`` (the JWK, 0600),
``regr.json`` (``{"body": {...}, "uri": ...}``) and ``meta.json`` (creation time and host).
The id is the MD5 of the public key's DER SubjectPublicKeyInfo, as certbot computes it, so
either client finds the other's accounts.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
from pathlib import Path
from typing import Any

from certbot_like.errors import ConfigError, StorageError
from certbot_like.storage.atomic import PRIVATE_MODE, make_dirs, storage_error, write_file
from certbot_like.storage.layout import Layout
from certbot_like.storage.store import StoredAccount

ACCOUNT_ID_LENGTH = 32


class AccountStore:
    """Finds, loads and saves accounts for one ACME server."""

    def __init__(self, layout: Layout, server: str) -> None:
        self.layout = layout
        self.server = server
        self.directory = layout.accounts_dir(server)

    def ids(self) -> list[str]:
        """Ids of the accounts stored for this server, oldest first (by creation time)."""
        try:
            entries = [
                e
                for e in os.listdir(self.directory)
                if len(e) == ACCOUNT_ID_LENGTH and all(c in "0123456789abcdef" for c in e)
            ]
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise storage_error(exc, "read", self.directory) from exc
        complete = [
            e
            for e in entries
            if (self.directory / e / "private_key.json").exists()
            and (self.directory / e / "regr.json").exists()
        ]
        return sorted(
            complete,
            key=lambda e: (
                (self.directory / e / "regr.json").stat().st_mtime
                if (self.directory / e / "regr.json").exists()
                else 0.0
            ),
        )

    def load(self, account_id: str) -> StoredAccount:
        """Load one account.

        Raises:
            ConfigError: the account does not exist or its files are malformed.
        """
        if len(account_id) != ACCOUNT_ID_LENGTH or not account_id.isalnum():
            raise ConfigError(
                f"Invalid account id {account_id!r}",
                "Run `certbot-like show-account` to see your account",
            )
        adir = self.directory / account_id
        if not adir.is_dir():
            raise ConfigError(
                f"Account {account_id} not found for {self.server}",
                "Run `certbot-like register`, or check --server and --config-dir",
            )
        try:
            key = json.loads((adir / "private_key.json").read_text())
            regr = json.loads((adir / "regr.json").read_text())
            meta_path = adir / "meta.json"
            meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"Account files in {adir} are unreadable: {type(exc).__name__}",
                "Restore them from a backup or register a new account",
            ) from None
        if not isinstance(key, dict) or "kty" not in key or not isinstance(regr, dict):
            raise ConfigError(
                f"Account files in {adir} are malformed",
                "Restore them from a backup or register a new account",
            )
        uri = regr.get("uri")
        if not isinstance(uri, str) or not uri.startswith("https://"):
            raise ConfigError(
                f"Account {account_id} has no https account URL in regr.json",
                "Register a new account with `certbot-like register`",
            )
        body = regr.get("body") if isinstance(regr.get("body"), dict) else {}
        return StoredAccount(
            account_id, self.server, uri, key, body or {}, meta if isinstance(meta, dict) else {}
        )

    def save(self, account: StoredAccount) -> Path:
        """Write an account's three files atomically (key 0600).

        Raises:
            StorageError: a file could not be written.
        """
        make_dirs(self.layout.accounts_root, 0o700)
        make_dirs(self.directory, 0o700)
        adir = self.directory / account.account_id
        make_dirs(adir, 0o700)
        meta = account.meta or {
            "creation_dt": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "creation_host": socket.getfqdn(),
        }
        account.meta = meta
        write_file(adir / "private_key.json", json.dumps(account.key_jwk).encode(), PRIVATE_MODE)
        self.save_regr(account)
        write_file(adir / "meta.json", json.dumps(meta).encode(), 0o644)
        return adir

    def save_regr(self, account: StoredAccount) -> None:
        """Rewrite ``regr.json`` (after an update of contact or status).

        Raises:
            StorageError: the file could not be written.
        """
        adir = self.directory / account.account_id
        regr = {"body": account.body, "uri": account.uri}
        write_file(adir / "regr.json", json.dumps(regr).encode(), 0o644)

    def replace_key(self, account: StoredAccount, new_id: str, new_key: dict[str, Any]) -> None:
        """After a key rollover: store the account under its new id, remove the old files.

        Raises:
            StorageError: the new files could not be written (the old ones are kept).
        """
        old_dir = self.directory / account.account_id
        account.account_id, account.key_jwk = new_id, new_key
        self.save(account)
        for name in ("private_key.json", "regr.json", "meta.json"):
            try:
                (old_dir / name).unlink(missing_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"Could not remove old account file {old_dir / name}", str(exc)
                ) from exc
        try:
            old_dir.rmdir()
        except OSError:
            pass
