"""The debug log in ``--logs-dir``: private (0700/0600), rotated by size, scrubbed of secrets.

Every record passes :class:`SecretFilter`, which removes PEM private key blocks, private JWK
members and every value registered with :func:`register_secret` (EAB HMAC keys, TSIG
secrets), so a secret cannot reach the log even through a third-party library's debug output.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import threading
from pathlib import Path

from certbot_like.errors import StorageError

LOG_NAME = "letsencrypt.log"
MAX_LOG_BYTES = 4 << 20
_PEM_PRIVATE = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
)
_JWK_PRIVATE = re.compile(r'("(?:d|p|q|dp|dq|qi|k)"\s*:\s*")[^"]*(")')
_secrets: set[str] = set()
_lock = threading.Lock()
REDACTED = "***"


def register_secret(value: str | None) -> None:
    """Never let *value* (8+ characters) appear in a log record."""
    if value and len(value) >= 8:
        with _lock:
            _secrets.add(value)


def scrub(text: str) -> str:
    """*text* with private keys, private JWK members and registered secrets removed."""
    text = _PEM_PRIVATE.sub("-----REDACTED PRIVATE KEY-----", text)
    text = _JWK_PRIVATE.sub(rf"\g<1>{REDACTED}\g<2>", text)
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class SecretFilter(logging.Filter):
    """Rewrites each record's message through :func:`scrub`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if record.exc_info and record.exc_info[1] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = scrub(formatted)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


class PrivateRotatingHandler(logging.handlers.RotatingFileHandler):
    """A size-rotated file handler whose files are created 0600."""

    def _open(self):  # type: ignore[no-untyped-def]  # signature of the stdlib base
        fd = os.open(
            self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600
        )
        os.fchmod(fd, 0o600)
        return os.fdopen(fd, "a", encoding="utf-8")


def setup_logging(logs_dir: Path, verbosity: int, max_backups: int = 10) -> Path | None:
    """Send DEBUG records to ``logs_dir/letsencrypt.log`` (0600, directory 0700).

    Console output is the CLI's business; this only configures the file log.

    Raises:
        StorageError: the log directory cannot be created.
    """
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    for old in [h for h in root.handlers if isinstance(h, PrivateRotatingHandler)]:
        root.removeHandler(old)  # a second run in one process (tests) must not log twice
        old.close()
    try:
        logs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(logs_dir, 0o700)
    except OSError as exc:
        raise StorageError(
            f"Cannot create the log directory {logs_dir}: {exc.strerror}",
            "Pass a writable --logs-dir",
        ) from None
    path = logs_dir / LOG_NAME
    handler = PrivateRotatingHandler(
        path, maxBytes=MAX_LOG_BYTES, backupCount=max(0, max_backups), delay=True
    )
    handler.setFormatter(logging.Formatter("%(asctime)s:%(levelname)s:%(name)s:%(message)s"))
    handler.addFilter(SecretFilter())
    handler.setLevel(logging.DEBUG)
    root.addHandler(handler)
    for noisy in ("urllib3", "requests"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbosity < 3 else logging.DEBUG)
    return path
