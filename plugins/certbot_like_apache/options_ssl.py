"""``<config_dir>/options-ssl-apache.conf``: the TLS settings every SSL VirtualHost we create
includes.

The content follows Mozilla's *intermediate* profile (TLS 1.2 and 1.3, forward-secret AEAD
ciphers, no session tickets). As certbot does, the plugin keeps a digest of what it wrote in
``.updated-options-ssl-apache-conf-digest.txt``: a file still as we wrote it (this or an
earlier version) is replaced by the current version; a file the administrator edited is
left alone and a warning says so.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from certbot_like_apache.backup import Checkpoint

logger = logging.getLogger(__name__)

OPTIONS_NAME = "options-ssl-apache.conf"
DIGEST_NAME = ".updated-options-ssl-apache-conf-digest.txt"

CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-CHACHA20-POLY1305",
    )
)

CONTENT = f"""\
# This file holds the TLS settings of the VirtualHosts certbot-like created. certbot-like
# replaces it with newer recommendations as long as it is unchanged; once you edit it, it
# is left alone (and a warning is shown on each installation).
# Mozilla "intermediate" profile: https://ssl-config.mozilla.org/

SSLProtocol             -all +TLSv1.2 +TLSv1.3
SSLCipherSuite          {CIPHERS}
SSLHonorCipherOrder     off
SSLSessionTickets       off
SSLOptions              +StrictRequire
""".encode()

PREVIOUS_DIGESTS: frozenset[str] = frozenset()
"""SHA-256 digests of earlier versions of :data:`CONTENT` (replaced when found unchanged)."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ensure_options_file(config_dir: Path, checkpoint: Checkpoint) -> tuple[Path, str | None]:
    """Create or update the options file; returns its path and a warning for the operator
    (``None`` when all is well).

    Raises:
        InstallerError: the file could not be written.
    """
    path = config_dir / OPTIONS_NAME
    digest_path = config_dir / DIGEST_NAME
    current = _sha256(CONTENT)
    if not path.exists():
        checkpoint.write_file(str(path), CONTENT, 0o644)
        checkpoint.write_file(str(digest_path), current.encode() + b"\n", 0o644)
        return path, None
    have = _sha256(path.read_bytes())
    if have == current:
        return path, None
    try:
        stored = digest_path.read_text().strip()
    except OSError:
        stored = ""
    if have in PREVIOUS_DIGESTS or have == stored:
        logger.info("Updating %s to the current recommended TLS settings", path)
        checkpoint.write_file(str(path), CONTENT, 0o644)
        checkpoint.write_file(str(digest_path), current.encode() + b"\n", 0o644)
        return path, None
    return path, (
        f"{path} was edited by hand and is kept as it is; compare it with the current "
        "recommendations in docs/apache.md (Mozilla intermediate profile)"
    )
