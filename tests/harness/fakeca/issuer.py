"""The fake CA's PKI: root -> intermediate -> leaf, plus an alternate root cross-signing the
same intermediate key (for ``Link: rel="alternate"`` chains), and the CSR checks of
RFC 8555 section 7.4 (names must match the order, key acceptable, not the account key).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.harness.fakeca.model import Problem

ROOT_CN = "Fake ACME Root X1"
ALT_ROOT_CN = "Fake ACME Alternate Root X2"
INTERMEDIATE_CN = "Fake ACME Intermediate E1"
PEM = serialization.Encoding.PEM
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
_KEY_USAGE_CA = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def serial_bytes(serial: int) -> bytes:
    """The DER INTEGER content octets of a serial number (what RFC 9773 encodes)."""
    return serial.to_bytes((serial.bit_length() + 8) // 8, "big", signed=True)


def ari_cert_id(cert: x509.Certificate) -> str:
    """``base64url(AKI keyIdentifier) "." base64url(serial DER bytes)`` (RFC 9773 section 4.1)."""
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier is not None
    return f"{_b64(aki.key_identifier)}.{_b64(serial_bytes(cert.serial_number))}"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca_cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    path_length: int | None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_KEY_USAGE_CA, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
    )
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass(frozen=True)
class Csr:
    """What finalize needs from a CSR: the names (sorted, lower case) and the public key."""

    dns: tuple[str, ...]
    ips: tuple[str, ...]
    public_key: PublicKey
    public_der: bytes


def parse_csr(der: bytes, account_key_der: bytes | None) -> Csr:
    """Check a finalize CSR.

    Raises:
        Problem: badCSR (unparseable, bad signature, the account key) or badPublicKey.
    """
    try:
        csr = x509.load_der_x509_csr(der)
    except ValueError:
        raise Problem(400, "badCSR", "The CSR does not parse") from None
    if not csr.is_signature_valid:
        raise Problem(400, "badCSR", "The CSR's signature does not verify")
    key = csr.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if not 2048 <= key.key_size <= 8192:
            raise Problem(400, "badPublicKey", f"RSA keys of {key.key_size} bits are refused")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ("secp256r1", "secp384r1"):
            raise Problem(400, "badPublicKey", f"Curve {key.curve.name} is refused")
    else:
        raise Problem(400, "badPublicKey", "Only RSA and ECDSA keys are accepted")
    public_der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if account_key_der is not None and public_der == account_key_der:
        raise Problem(400, "badCSR", "The CSR's key is the account key")
    dns: set[str] = set()
    ips: set[str] = set()
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = {n.lower() for n in san.get_values_for_type(x509.DNSName)}
        ips = {ip.compressed for ip in san.get_values_for_type(x509.IPAddress)}
    except x509.ExtensionNotFound:
        pass
    for cn in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = str(cn.value).lower()
        try:
            ips.add(ipaddress.ip_address(value).compressed)
        except ValueError:
            dns.add(value)
    return Csr(tuple(sorted(dns)), tuple(sorted(ips)), key, public_der)


class Hierarchy:
    """Keys and certificates of the fake CA; :meth:`issue` makes leaves."""

    def __init__(self) -> None:
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = _ca_cert(ROOT_CN, self.root_key, None, self.root_key, None)
        self.alt_root_key = ec.generate_private_key(ec.SECP256R1())
        self.alt_root = _ca_cert(ALT_ROOT_CN, self.alt_root_key, None, self.alt_root_key, None)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = _ca_cert(INTERMEDIATE_CN, self.key, self.root, self.root_key, 0)
        self.alt_intermediate = _ca_cert(
            INTERMEDIATE_CN, self.key, self.alt_root, self.alt_root_key, 0
        )

    def root_pem(self) -> bytes:
        return self.root.public_bytes(PEM)

    def alt_root_pem(self) -> bytes:
        return self.alt_root.public_bytes(PEM)

    def issue(
        self,
        public_key: PublicKey,
        dns: Sequence[str],
        ips: Sequence[str],
        validity: datetime.timedelta,
        *,
        expired: bool = False,
    ) -> x509.Certificate:
        """A leaf for *dns*/*ips* (the first DNS name as CN when it fits) on *public_key*."""
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        not_before, not_after = now - datetime.timedelta(seconds=1), now + validity
        if expired:
            not_before, not_after = (
                now - validity - datetime.timedelta(days=1),
                now - (datetime.timedelta(days=1)),
            )
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        subject = _name(dns[0]) if dns and len(dns[0]) <= 64 else x509.Name([])
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.intermediate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(names), critical=not dns)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
            .sign(self.key, hashes.SHA256())
        )

    def chains(self, leaf: x509.Certificate) -> list[bytes]:
        """PEM chains for *leaf*: via the main root first, then via the alternate root."""
        body = leaf.public_bytes(PEM)
        return [
            body + self.intermediate.public_bytes(PEM),
            body + self.alt_intermediate.public_bytes(PEM),
        ]
