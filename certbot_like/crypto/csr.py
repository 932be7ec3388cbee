"""Certificate signing requests: ours (no clientAuth, no must-staple) and the operator's."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from certbot_like.crypto.keys import PrivateKey
from certbot_like.errors import ConfigError, UsageError
from certbot_like.interfaces import Identifier
from certbot_like.names import parse_identifier

MAX_CN_LENGTH = 64


def make_csr(key: PrivateKey, identifiers: Sequence[Identifier]) -> bytes:
    """A DER CSR for *identifiers* signed by *key*.

    The subject CN is the first DNS name when it fits (64 characters); every name is in the
    subjectAltName. No extended key usage and no TLS feature (must-staple) are requested.
    """
    sans: list[x509.GeneralName] = []
    for ident in identifiers:
        if ident.kind == "ip":
            sans.append(x509.IPAddress(ipaddress.ip_address(ident.value)))
        else:
            sans.append(x509.DNSName(ident.value))
    builder = x509.CertificateSigningRequestBuilder()
    first_dns = next((i.value for i in identifiers if i.kind == "dns"), None)
    if first_dns and len(first_dns) <= MAX_CN_LENGTH:
        builder = builder.subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, first_dns)])
        )
    else:
        builder = builder.subject_name(x509.Name([]))
    builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    csr = builder.sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class LoadedCsr:
    """An operator-supplied CSR: its DER bytes, names and public key (DER SPKI)."""

    der: bytes
    identifiers: tuple[Identifier, ...]
    public_key_der: bytes


def load_csr(data: bytes, source: str) -> LoadedCsr:
    """Parse a PEM or DER CSR and collect its names (SAN DNS/IP, else the CN).

    Raises:
        ConfigError: unparseable, bad signature, no names, or a name that is not valid.
    """
    try:
        csr = (
            x509.load_pem_x509_csr(data) if b"-----BEGIN" in data else x509.load_der_x509_csr(data)
        )
    except ValueError:
        raise ConfigError(
            f"{source} is not a PEM or DER certificate signing request",
            "Create one with `openssl req -new`",
        ) from None
    if not csr.is_signature_valid:
        raise ConfigError(
            f"The signature of the CSR in {source} does not verify",
            "Re-create the CSR with its private key",
        )
    raw_names: list[str] = []
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        raw_names += [str(n) for n in san.get_values_for_type(x509.DNSName)]
        raw_names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    if not raw_names:
        raw_names = [str(a.value) for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if not raw_names:
        raise ConfigError(f"The CSR in {source} names no domain", "Add a subjectAltName")
    idents: dict[Identifier, None] = {}
    for raw in raw_names:
        try:
            idents.setdefault(parse_identifier(raw), None)
        except UsageError as exc:  # its message only: the hint is about -d, not a CSR
            raise ConfigError(
                f"The CSR in {source} holds an invalid name: {exc.message}",
                "Fix the CSR's subjectAltName",
            ) from None
    der = csr.public_bytes(serialization.Encoding.DER)
    spki = csr.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return LoadedCsr(der=der, identifiers=tuple(idents), public_key_der=spki)
