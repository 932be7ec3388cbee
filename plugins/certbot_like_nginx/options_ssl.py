"""The TLS settings file included by every server block we deploy into.

``<config_dir>/options-ssl-nginx.conf`` is certbot's path and certbot's update rule applies:
the file is (re)written when it is missing or when its content is a version we (or certbot)
shipped; a file the administrator edited is left alone, and the digest of our current
version is recorded in ``.updated-options-ssl-nginx-conf-digest.txt`` so the warning about it
is given once per new version. The settings are Mozilla's "intermediate" profile (TLS 1.2
and 1.3, AEAD ciphers with forward secrecy, no session tickets). It carries no OCSP
stapling: certificates without an OCSP URL (Let's Encrypt's today) cannot be stapled.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from .backup import Checkpoint

logger = logging.getLogger(__name__)

FILE_NAME = "options-ssl-nginx.conf"
DIGEST_NAME = ".updated-options-ssl-nginx-conf-digest.txt"

CONTENT = """\
# This file contains important security parameters. If you modify this file
# manually, certbot-like will no longer update it: it will log a warning instead
# and you will need to keep it current yourself. Contents are based on
# https://ssl-config.mozilla.org (the "intermediate" profile).

ssl_session_cache shared:le_nginx_SSL:10m;
ssl_session_timeout 1440m;
ssl_session_tickets off;

ssl_protocols TLSv1.2 TLSv1.3;
ssl_prefer_server_ciphers off;

ssl_ciphers "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:\
ECDHE-RSA-CHACHA20-POLY1305";
"""

DIRECTIVES = frozenset(
    {
        "ssl_session_cache",
        "ssl_session_timeout",
        "ssl_session_tickets",
        "ssl_protocols",
        "ssl_prefer_server_ciphers",
        "ssl_ciphers",
    }
)
"""Directives the file sets: a server block setting one itself cannot include the file
(nginx rejects a duplicate directive)."""

CERTBOT_HASHES = frozenset(
    {
        "0f81093a1465e3d4eaa8b0c14e77b2a2e93568b0fc1351c2b87893a95f0de87c",
        "9a7b32c49001fed4cff8ad24353329472a50e86ade1ef9b2b9e43566a619612e",
        "a6d9f1c7d6b36749b52ba061fff1421f9a0a3d2cfdafbd63c05d06f65b990937",
        "7f95624dd95cf5afc708b9f967ee83a24b8025dc7c8d9df2b556bbc64256b3ff",
        "394732f2bbe3e5e637c3fb5c6e980a1f1b90b01e2e8d6b7cff41dde16e2a756d",
        "4b16fec2bcbcd8a2f3296d886f17f9953ffdcc0af54582452ca1e52f5f776f16",
        "c052ffff0ad683f43bffe105f7c606b339536163490930e2632a335c8d191cc4",
        "02329eb19930af73c54b3632b3165d84571383b8c8c73361df940cb3894dd426",
        "63e2bddebb174a05c9d8a7cf2adf72f7af04349ba59a1a925fe447f73b2f1abf",
        "2901debc7ecbc10917edd9084c05464c9c5930b463677571eaf8c94bffd11ae2",
        "30baca73ed9a5b0e9a69ea40e30482241d8b1a7343aa79b49dc5d7db0bf53b6c",
        "108c4555058a087496a3893aea5d9e1cee0f20a3085d44a52dc1a66522299ac3",
        "d5e021706ecdccc7090111b0ae9a29ef61523e927f020e410caf0a1fd7063981",
        "ef11e3fb17213e74d3e1816cde0ec37b8b95b4167cf21e7b8ff1eaa9c6f918ee",
        "af85f6193808a44789a1d293e6cffa249cad9a21135940800958b8e3c72dbc69",
        "a2a612fd21b02abaa32d9d11ac63d987d6e3054dbfa356de5800eea0d7ce17f3",
        "2d9648302e3588a172c318e46bff88ade46fc7a16d6afc85322776a04800d473",
        "5e21cc66989f26ec46116d979421e538131cf8ab33ffff3f682fbfe491b0ace8",
        "f5615544105c4eee44f02a604e3e9ae55b3d5bad247160bb18731a0ac531af02",
        "05a799c4db12f8e15e68219c98056824cbd5ae7b05863225318ae112f343880b",
        "dc81acfd9670f137d5abbccfe3438d9306d4b6a906439b0fbf6a6756272e7cc7",
        "3c71724d610c4239b62b65224eb4b19b09c0f949b2cc572d22e345b218870621",
        "d212bdc44ed7b39305476756b831d36896f923a1c937846d121c6649ec448794",
        "a13543b1248a503f535aa23a8adeff7d5ab4f1b221f64da28448a9e770bde3ed",
    }
)
"""SHA-256 of every version of the file certbot has shipped (safe to replace)."""

OUR_HASHES = frozenset({hashlib.sha256(CONTENT.encode()).hexdigest()})
"""SHA-256 of every version certbot-like has shipped (add the old one when CONTENT changes)."""


def options_path(config_dir: Path) -> Path:
    return Path(config_dir) / FILE_NAME


def ensure(config_dir: Path, checkpoint: Checkpoint) -> str | None:
    """Install or update the options file (backed up in *checkpoint* first).

    Returns:
        A warning for the operator when the file was edited by hand and a newer version
        exists, else ``None``.

    Raises:
        InstallerError: the file cannot be backed up or written.
    """
    path = options_path(config_dir)
    digest_path = Path(config_dir) / DIGEST_NAME
    current = hashlib.sha256(CONTENT.encode()).hexdigest()
    try:
        existing = path.read_bytes()
    except FileNotFoundError:
        existing = None
    if existing is not None:
        found = hashlib.sha256(existing).hexdigest()
        if found == current:
            if not digest_path.exists():
                checkpoint.write(str(digest_path), current.encode())
            return None
        if found not in OUR_HASHES | CERTBOT_HASHES:
            recorded = digest_path.read_text().strip() if digest_path.exists() else ""
            if recorded == current:
                return None
            checkpoint.write(str(digest_path), current.encode())
            message = (
                f"{path} differs from every version certbot-like or certbot wrote (edited by "
                "hand?) and is kept as it is; compare it with the Mozilla intermediate profile"
            )
            logger.warning("%s", message)
            return message
    Path(config_dir).mkdir(parents=True, exist_ok=True)
    checkpoint.write(str(path), CONTENT.encode())
    checkpoint.write(str(digest_path), current.encode())
    return None
