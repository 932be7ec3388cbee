"""Sealing private keys for the fleet store: what a wrong key, row or key file does."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from certbot_like.errors import ConfigError, StorageError
from certbot_like.storage.pg_store import redacted
from certbot_like.storage.sealed import StoreKey, create_key_file, read_key_file

SECRET = b"-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n"


def test_a_sealed_key_opens_only_with_its_key_and_for_its_row(tmp_path: Path) -> None:
    assert create_key_file(tmp_path / "store.key")
    assert not create_key_file(tmp_path / "store.key")  # an existing key is never replaced
    assert stat.S_IMODE((tmp_path / "store.key").stat().st_mode) == 0o600
    key = read_key_file(tmp_path / "store.key")
    sealed = key.seal(SECRET, "privkey:a.test:1")
    assert b"secret" not in sealed and sealed != key.seal(SECRET, "privkey:a.test:1")
    assert key.open(sealed, "privkey:a.test:1") == SECRET
    with pytest.raises(StorageError, match="does not open"):
        key.open(sealed, "privkey:b.test:1")  # moved to another row
    with pytest.raises(StorageError, match="does not open"):
        StoreKey(b"\0" * 32).open(sealed, "privkey:a.test:1")
    with pytest.raises(StorageError, match="not sealed"):
        key.open(SECRET, "privkey:a.test:1")
    assert key.fingerprint not in (tmp_path / "store.key").read_text()
    assert "fingerprint" in repr(key) and key.fingerprint in repr(key)


def test_a_key_file_readable_by_others_or_malformed_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.key"
    with pytest.raises(ConfigError, match="does not exist"):
        read_key_file(path)
    create_key_file(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        read_key_file(path)
    path.write_text("not a key\n")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="not a certbot-like store key"):
        read_key_file(path)


def test_store_urls_are_shown_without_their_password() -> None:
    assert redacted("postgresql://u:pw@db:5432/x") == "postgresql://u@db:5432/x"
    assert redacted("postgresql://u@db/x") == "postgresql://u@db/x"
