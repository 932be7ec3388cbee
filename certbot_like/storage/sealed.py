"""Private keys sealed with the store key before they enter a shared database.

The store key is 32 random bytes kept in a file on every node of a fleet (``store.key`` in
the config directory, mode 0600), never in the database: a dump of the database alone
reveals no key. Each private key is sealed with AES-256-GCM under a fresh 96-bit nonce; the
associated data names the row it belongs to (``privkey:example.com:3``), so a sealed value
copied into another row fails to open instead of being used for the wrong certificate.

The database stores a fingerprint of the key (an HMAC of a fixed label, not the key), so a
node started with a different key file is refused with one line before it writes anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from certbot_like.errors import ConfigError, StorageError

KEY_BYTES = 32
_MAGIC = b"cls1"  # certbot-like sealed, format 1
_HEADER = "certbot-like-store-key-v1:"


class StoreKey:
    """An AES-256-GCM key that seals and opens private keys (its bytes are never printed)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("a store key has 32 bytes")
        self._key = key

    def __repr__(self) -> str:
        return f"StoreKey(fingerprint={self.fingerprint})"

    @property
    def fingerprint(self) -> str:
        """A public identifier of the key (HMAC-SHA256 of a label, 16 hex digits)."""
        return hmac.new(self._key, b"certbot-like store key id", hashlib.sha256).hexdigest()[:16]

    def seal(self, plaintext: bytes, context: str) -> bytes:
        """Encrypt *plaintext* bound to *context* (the row it is stored in)."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        return _MAGIC + nonce + AESGCM(self._key).encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        """Decrypt what :meth:`seal` made for *context*.

        Raises:
            StorageError: the value was not sealed with this key for this context.
        """
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not sealed.startswith(_MAGIC) or len(sealed) < len(_MAGIC) + 12 + 16:
            raise StorageError(f"The stored key of {context} is not sealed", "Restore it")
        nonce, body = sealed[4:16], sealed[16:]
        try:
            return AESGCM(self._key).decrypt(nonce, body, context.encode())
        except InvalidTag:
            raise StorageError(
                f"The stored key of {context} does not open with this node's store key",
                "Copy the fleet's store.key to this node (--store-key-file)",
            ) from None


def read_key_file(path: Path) -> StoreKey:
    """Load the store key from *path*.

    Raises:
        ConfigError: the file is missing, unreadable, malformed or readable by others.
    """
    try:
        text = path.read_text().strip()
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        raise ConfigError(
            f"The store key file {path} does not exist",
            "Run `certbot-like fleet init` on the first node and copy the file to the others",
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read the store key file {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise ConfigError(
            f"The store key file {path} is readable by other users (mode {mode:o})",
            f"Run `chmod 600 {path}`",
        )
    if not text.startswith(_HEADER):
        raise ConfigError(f"{path} is not a certbot-like store key file", "Restore it")
    try:
        key = base64.b64decode(text[len(_HEADER) :], validate=True)
        return StoreKey(key)
    except ValueError:
        raise ConfigError(f"{path} is not a certbot-like store key file", "Restore it") from None


def create_key_file(path: Path) -> bool:
    """Write a new random store key to *path* (0600) unless a file is already there.

    Returns:
        Whether a new key was written.

    Raises:
        StorageError: the file cannot be written.
    """
    from certbot_like.storage.atomic import make_dirs

    make_dirs(path.parent, 0o755)
    text = _HEADER + base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise StorageError(f"Cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    return True
