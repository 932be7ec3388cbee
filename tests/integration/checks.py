"""What a user would check after `obtain`: chain, names, key, modes, links, renewal conf."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certbot_like.crypto.certs import split_pem_certificates
from certbot_like.storage.renewal_conf import read_renewal_conf


def load_chain(path: Path) -> list[x509.Certificate]:
    return [x509.load_pem_x509_certificate(b) for b in split_pem_certificates(path.read_bytes())]


def assert_chain_verifies(fullchain: Path, root_pem: bytes) -> None:
    """Every certificate is signed by the next, the last by Pebble's root."""
    certs = load_chain(fullchain)
    root = x509.load_pem_x509_certificate(root_pem)
    for child, parent in zip(certs, [*certs[1:], root], strict=True):
        child.verify_directly_issued_by(parent)


def san_names(cert: x509.Certificate) -> set[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(n) for n in san.get_values_for_type(x509.DNSName)} | {
        ip.compressed for ip in san.get_values_for_type(x509.IPAddress)
    }


def assert_lineage(
    live: Path,
    names: set[str],
    root_pem: bytes,
    *,
    key_type: str = "ecdsa",
    key_size: int | None = None,
    version: int = 1,
) -> x509.Certificate:
    """The full set of checks on a stored lineage; returns the leaf certificate."""
    for kind in ("cert", "chain", "fullchain", "privkey"):
        link = live / f"{kind}.pem"
        assert link.is_symlink(), f"{link} is not a symlink"
        target = os.readlink(link)
        assert target == f"../../archive/{live.name}/{kind}{version}.pem", target
        assert link.resolve().is_file()
    assert (live / "README").is_file()
    key_path = (live / "privkey.pem").resolve()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE((live / "cert.pem").resolve().stat().st_mode) == 0o644
    assert_chain_verifies(live / "fullchain.pem", root_pem)
    leaf = load_chain(live / "cert.pem")[0]
    assert load_chain(live / "fullchain.pem")[0] == leaf
    assert san_names(leaf) == names
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if key_type == "ecdsa":
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        if key_size:
            assert key.curve.key_size == key_size
    else:
        assert isinstance(key, rsa.RSAPrivateKey)
        assert key.key_size == (key_size or 2048)
    with_tls_feature = [e for e in leaf.extensions if isinstance(e.value, x509.TLSFeature)]
    assert not with_tls_feature, "must-staple was requested"
    return leaf


def assert_renewal_conf(config_dir: Path, name: str, expect: dict[str, str]) -> None:
    """The renewal conf parses, points at live/NAME and stores *expect* in renewalparams."""
    conf = read_renewal_conf(config_dir / "renewal" / f"{name}.conf")
    assert conf.live["fullchain"] == config_dir / "live" / name / "fullchain.pem"
    assert conf.archive_dir == config_dir / "archive" / name
    for key, value in expect.items():
        stored = conf.params.get(key)
        flat = ",".join(stored) if isinstance(stored, list) else stored
        assert flat == value, (key, stored)


def busiest_window(times: Sequence[float], width: float = 1.0) -> int:
    """The most of *times* (seconds) that fall in any one window ``[t, t + width)``.

    Some busiest window starts at one of the times, so only those starts are tried.
    """
    ordered = sorted(times)
    most, end = 0, 0
    for start, at in enumerate(ordered):
        while end < len(ordered) and ordered[end] < at + width:
            end += 1
        most = max(most, end - start)
    return most
