"""Generate lineages in certbot's layout without a CA (tests and benchmarks).

Each lineage gets a key, a certificate signed by a throw-away local CA for its own name,
the four ``live/`` links and a renewal conf naming the given server, account and
authenticator, exactly as certbot would write it. ``renew --force-renewal`` then replaces
them with real certificates from the CA; a no-op ``renew`` reads them as they are.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certbot_like.storage.layout import Layout
from certbot_like.storage.lineage import CertFiles, LineageStore
from certbot_like.storage.renewal_conf import write_renewal_conf


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class LocalIssuer:
    """A tiny CA whose certificates look like a public CA's (SAN, AKI, serverAuth)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name("fixture issuer"))
            .issuer_name(_name("fixture issuer"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        self.chain_pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(
        self, names: list[str], key: ec.EllipticCurvePrivateKey, days: float = 90, age: float = 0
    ) -> bytes:
        now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=age)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)


def make_lineages(
    layout: Layout,
    names: list[str],
    params: Mapping[str, Any],
    *,
    days: float = 90,
    age: float = 0,
    version: str = "5.8.0",
    issuer: LocalIssuer | None = None,
) -> None:
    """Write one lineage per name, each with *params* as its ``[renewalparams]``.

    *age* days in the past is when the certificates were issued (an age of two thirds of
    *days* makes them due).
    """
    issuer = issuer or LocalIssuer()
    store = LineageStore(layout)
    key = ec.generate_private_key(ec.SECP256R1())  # one key for all: speed, not realism
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    for name in names:
        cert = issuer.issue([name], key, days, age)
        store.save_version(
            name,
            CertFiles(
                privkey=key_pem,
                cert=cert,
                chain=issuer.chain_pem,
                fullchain=cert + issuer.chain_pem,
            ),
        )
        write_renewal_conf(layout, name, params, version)


def account_id(config_dir: Path) -> str:
    """The id of the only account stored under *config_dir*."""
    (found,) = [p.parent.name for p in (config_dir / "accounts").rglob("private_key.json")]
    return found
