"""Checks on what a CA sends back, and facts about stored certificates.

:func:`check_issued` is the gate between the CA and the disk: a chain is stored only when it
holds nothing but certificates, the leaf carries our public key and exactly the requested
names, its validity is sane and each certificate is signed by the next.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certbot_like.errors import CertificateCheckFailed
from certbot_like.interfaces import Identifier

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.S)
MAX_CHAIN = 10
# What cryptography raises, eagerly or lazily, for certificate bytes it cannot understand.
PARSE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.UnsupportedGeneralNameType,  # an x400Address or EDIPartyName in a name extension
    x509.DuplicateExtension,  # raised when the extensions are first read, not at load
)
# ... and what reading the facts of a stored certificate may raise besides
FACT_ERRORS: tuple[type[Exception], ...] = PARSE_ERRORS
_CHAIN_ERRORS: tuple[type[Exception], ...] = (*PARSE_ERRORS, InvalidSignature)
_PREFERENCE_ERRORS: tuple[type[Exception], ...] = (*PARSE_ERRORS, CertificateCheckFailed)
CLOCK_SKEW = datetime.timedelta(days=1)


@dataclass(frozen=True)
class CheckedChain:
    """A verified chain split the way certbot stores it."""

    cert_pem: bytes
    chain_pem: bytes
    fullchain_pem: bytes
    leaf: x509.Certificate


def split_pem_certificates(data: bytes, source: str = "the CA's answer") -> list[bytes]:
    """PEM certificate blocks in *data*, in order.

    Raises:
        CertificateCheckFailed: a private key or any non-certificate PEM block is present,
            or there is no certificate at all.
    """
    where = source[:1].upper() + source[1:]
    if b"PRIVATE KEY" in data.upper():
        raise CertificateCheckFailed(
            f"{where} contains a private key block",
            "Nothing was stored; report this to the CA",
        )
    blocks = []
    matches = list(_PEM_BLOCK.finditer(data))
    for match in matches:
        if match.group(1) != b"CERTIFICATE":
            raise CertificateCheckFailed(
                f"{where} contains a {match.group(1).decode(errors='replace')} block",
                "Only certificates are accepted; nothing was stored",
            )
        blocks.append(match.group(0) + b"\n")
    if data.count(b"-----BEGIN ") != len(matches):
        raise CertificateCheckFailed(
            f"{where} holds a truncated or malformed PEM block",
            "Nothing was stored; report this to the CA",
        )
    if not blocks:
        raise CertificateCheckFailed(
            f"{where} holds no PEM certificate", "Nothing was stored; report this to the CA"
        )
    if len(blocks) > MAX_CHAIN:
        raise CertificateCheckFailed(
            f"{where} holds {len(blocks)} certificates", f"At most {MAX_CHAIN} are accepted"
        )
    return blocks


def _names_of(cert: x509.Certificate) -> set[Identifier]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    names = {Identifier("dns", str(n).lower()) for n in san.get_values_for_type(x509.DNSName)}
    names |= {Identifier("ip", ip.compressed) for ip in san.get_values_for_type(x509.IPAddress)}
    return names


def _other_names_of(cert: x509.Certificate) -> list[str]:
    """subjectAltName entries that are neither DNS names nor IP addresses (e-mail, URI ...)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return sorted(
        f"{type(n).__name__} {n.value!r}"
        for n in san
        if not isinstance(n, (x509.DNSName, x509.IPAddress))
    )


def _shown(names: list[str]) -> str:
    """CA-supplied names for a one-line message: non-printable ones escaped, the list bounded."""
    text = ", ".join(n if n.isprintable() else ascii(n) for n in names) or "none"
    return text if len(text) <= 300 else text[:297] + "..."


def cert_identifiers(cert: x509.Certificate) -> list[Identifier]:
    """The certificate's subjectAltName entries (DNS and IP), sorted, CN first if present."""
    names = sorted(_names_of(cert))
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if cns:
        first = Identifier("dns", str(cns[0].value).lower())
        if first in names:
            names.remove(first)
            names.insert(0, first)
    return names


def public_key_der(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _normalise(ident: Identifier) -> Identifier:
    if ident.kind == "ip":
        return Identifier("ip", ipaddress.ip_address(ident.value).compressed)
    return Identifier("dns", ident.value.lower())


def check_issued(
    data: bytes,
    *,
    public_key: bytes,
    identifiers: Sequence[Identifier],
    now: datetime.datetime | None = None,
) -> CheckedChain:
    """Verify the certificate chain a CA issued for our order.

    Raises:
        CertificateCheckFailed: private key or foreign blocks, unparseable certificates,
            wrong public key, wrong names, expired or not-yet-valid, or a broken chain.
    """
    try:
        return _check_issued(data, public_key, identifiers, now)
    except _CHAIN_ERRORS as exc:
        # cryptography parses extensions and keys lazily: a mangled field surfaces here
        raise CertificateCheckFailed(
            f"The CA sent a certificate that cannot be parsed ({type(exc).__name__})",
            "Nothing was stored; report this to the CA",
        ) from None


def _check_issued(
    data: bytes,
    public_key: bytes,
    identifiers: Sequence[Identifier],
    now: datetime.datetime | None,
) -> CheckedChain:
    blocks = split_pem_certificates(data)
    try:
        certs = [x509.load_pem_x509_certificate(b) for b in blocks]
    except PARSE_ERRORS:
        raise CertificateCheckFailed(
            "The CA sent a certificate that does not parse",
            "Nothing was stored; report this to the CA",
        ) from None
    leaf = certs[0]
    if public_key_der(leaf) != public_key:
        raise CertificateCheckFailed(
            "The issued certificate does not carry our public key",
            "Nothing was stored; report this to the CA",
        )
    got = _names_of(leaf)
    wanted = {_normalise(i) for i in identifiers}
    others = _other_names_of(leaf)
    if got != wanted or others:
        extra = _shown([*sorted(i.value for i in got - wanted), *others])
        missing = _shown(sorted(i.value for i in wanted - got))
        raise CertificateCheckFailed(
            f"The issued certificate's names differ from the request (extra: {extra}; "
            f"missing: {missing})",
            "Nothing was stored; report this to the CA",
        )
    now = now or datetime.datetime.now(datetime.UTC)
    not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    if not_after <= now or not_after <= not_before:
        raise CertificateCheckFailed(
            f"The issued certificate expired on {not_after:%Y-%m-%d %H:%M} UTC",
            "Nothing was stored; check the system clock or the CA",
        )
    if not_before > now + CLOCK_SKEW:
        raise CertificateCheckFailed(
            f"The issued certificate is valid only from {not_before:%Y-%m-%d %H:%M} UTC",
            "Check the system clock",
        )
    for child, parent in itertools.pairwise(certs):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            raise CertificateCheckFailed(
                "The CA's chain is broken: a certificate is not signed by the next one",
                "Nothing was stored; report this to the CA",
            ) from None
    return CheckedChain(
        cert_pem=blocks[0],
        chain_pem=b"".join(blocks[1:]),
        fullchain_pem=b"".join(blocks),
        leaf=leaf,
    )


def chain_matches_issuer(data: bytes, issuer_cn: str) -> bool:
    """certbot's ``--preferred-chain`` rule: the topmost certificate was issued by *issuer_cn*."""
    try:
        blocks = split_pem_certificates(data)
        top = x509.load_pem_x509_certificate(blocks[-1])
        cns = top.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    except _PREFERENCE_ERRORS:
        return False
    return bool(cns) and str(cns[0].value) == issuer_cn


def describe_key(cert: x509.Certificate) -> str:
    """``ECDSA secp256r1`` / ``RSA 2048`` for a certificate's public key."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}"
    return type(key).__name__


def issuer_cn(cert: x509.Certificate) -> str:
    cns = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else cert.issuer.rfc4514_string()


def ari_cert_id(cert: x509.Certificate) -> str | None:
    """``base64url(AKI keyIdentifier) "." base64url(serial DER)``, or None without an AKI."""
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return None
    if aki.key_identifier is None:
        return None
    serial = cert.serial_number
    serial_bytes = serial.to_bytes((serial.bit_length() + 8) // 8, "big", signed=True)
    return f"{_b64url(aki.key_identifier)}.{_b64url(serial_bytes)}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
