"""The DER walker against cryptography: the same facts, or no answer.

:func:`read_cert_facts` may refuse a certificate (cryptography then parses it), but whenever
it answers, every fact must equal what a full parse by cryptography gives
(:func:`facts_by_cryptography`, the code path used before the walker existed). Certificates
come from cryptography's builder in the shapes CAs issue (and some they do not), and from
random byte changes to their DER.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import random
import warnings
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from certbot_like.crypto.cert_facts import (
    ari_cert_id,
    certificate_facts,
    facts_by_cryptography,
    read_cert_facts,
)
from certbot_like.crypto.certs import ari_cert_id as ari_cert_id_by_cryptography
from tests.unit.fuzzing import FUZZ

_KEYS: dict[str, Any] = {}


def key(kind: str) -> Any:
    if kind not in _KEYS:
        _KEYS[kind] = (
            rsa.generate_private_key(65537, int(kind[3:]))
            if kind.startswith("rsa")
            else ec.generate_private_key({"p256": ec.SECP256R1(), "p384": ec.SECP384R1(),
                                          "p521": ec.SECP521R1()}[kind])
        )  # fmt: skip
    return _KEYS[kind]


def make_cert(
    *,
    key_kind: str = "p256",
    cn: str | None = "a.test",
    sans: list[x509.GeneralName] | None = None,
    issuer_cn: str | None = "Fixture CA",
    aki: str = "keyid",  # keyid | none | issuer-only
    not_before: datetime.datetime | None = None,
    days: float = 90,
    serial: int | None = None,
) -> bytes:
    subject_key = key(key_kind)
    ca_key = key("p256")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])
    issuer_attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fixture Org")]
    if issuer_cn:
        issuer_attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn))
    start = not_before or datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(x509.Name(issuer_attrs))
        .public_key(subject_key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
    )
    if sans is None:
        sans = [x509.DNSName(cn)] if cn else []
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=not cn)
    if aki == "keyid":
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    elif aki == "issuer-only":
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier(None, [x509.DirectoryName(x509.Name(issuer_attrs))], 7),
            critical=False,
        )
    builder = builder.add_extension(
        x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
    ).add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def assert_same_or_refused(pem: bytes) -> bool:
    """True when the walker answered (and its answer equals cryptography's)."""
    with warnings.catch_warnings():  # cryptography warns about odd serials and names
        warnings.simplefilter("ignore")
        return _same_or_refused(pem)


def _same_or_refused(pem: bytes) -> bool:
    walked = read_cert_facts(pem)
    parsed = facts_by_cryptography(pem)
    if walked is None:
        return False
    if parsed is None:
        return False  # cryptography refuses what the walker read: see the module docstring
    if walked.issuer_cn is None:  # no issuer CN: certificate_facts asks cryptography
        assert certificate_facts(pem) == parsed
        walked = parsed
    assert walked == parsed
    cert = x509.load_pem_x509_certificate(pem)
    assert ari_cert_id(walked) == (ari_cert_id_by_cryptography(cert) or "")
    return True


SHAPES: dict[str, dict[str, Any]] = {
    "ecdsa p256": {},
    "ecdsa p384": {"key_kind": "p384"},
    "ecdsa p521": {"key_kind": "p521"},
    "rsa 2048": {"key_kind": "rsa2048"},
    "rsa 3072": {"key_kind": "rsa3072"},
    "many names, CN not first in order": {
        "cn": "m.test",
        "sans": [x509.DNSName(n) for n in ("z.test", "a.test", "m.test", "B.Test")],
    },
    "CN not among the names": {"cn": "other.test", "sans": [x509.DNSName("a.test")]},
    "no CN (short-lived profile)": {"cn": None, "sans": [x509.DNSName("a.test")]},
    "IP addresses": {
        "sans": [
            x509.IPAddress(ipaddress.ip_address("192.0.2.7")),
            x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
            x509.DNSName("a.test"),
        ]
    },
    "wildcard": {"cn": "*.a.test", "sans": [x509.DNSName("*.a.test"), x509.DNSName("a.test")]},
    "no AKI": {"aki": "none"},
    "AKI without key id": {"aki": "issuer-only"},
    "after 2049 (GeneralizedTime)": {
        "not_before": datetime.datetime(2049, 12, 1, tzinfo=datetime.UTC),
        "days": 400,
    },
    "in the 1990s (UTCTime, 19xx)": {
        "not_before": datetime.datetime(1995, 6, 1, tzinfo=datetime.UTC),
    },
    "small serial": {"serial": 1},
    "serial with high bit": {"serial": 0x80 << 64},
    "UTF-8 issuer": {"issuer_cn": "Zertifizierungsstelle Ä"},
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_walker_reads_every_usual_shape_as_cryptography_does(shape: str) -> None:
    assert assert_same_or_refused(make_cert(**SHAPES[shape]))


def test_issuer_without_cn_is_named_by_cryptography() -> None:
    pem = make_cert(issuer_cn=None)
    facts = certificate_facts(pem)
    assert facts is not None and facts.issuer_cn == "O=Fixture Org"
    assert_same_or_refused(pem)


@pytest.mark.parametrize(
    "sans",
    [
        [x509.DNSName("a.test"), x509.RFC822Name("ops@a.test")],
        [x509.DNSName("a.test"), x509.UniformResourceIdentifier("https://a.test/")],
    ],
)
def test_unusual_names_fall_back_to_cryptography(sans: list[x509.GeneralName]) -> None:
    pem = make_cert(sans=sans)
    assert read_cert_facts(pem) is None
    assert certificate_facts(pem) == facts_by_cryptography(pem)


def test_other_pem_blocks_first_and_garbage_are_refused() -> None:
    pem = make_cert()
    assert (
        read_cert_facts(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" + pem)
        is None
    )
    assert read_cert_facts(b"no pem here") is None
    assert certificate_facts(b"no pem here") is None


_BASE = make_cert(
    cn="m.test",
    sans=[x509.DNSName("m.test"), x509.IPAddress(ipaddress.ip_address("192.0.2.1"))],
)


def _der(pem: bytes) -> bytes:
    body = b"".join(pem.strip().splitlines()[1:-1])
    return base64.b64decode(body)


def _pem(der: bytes) -> bytes:
    text = base64.encodebytes(der).replace(b"\n", b"")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) + b"\n-----END CERTIFICATE-----\n"


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), min_size=1, max_size=3))
def test_changed_bytes_are_read_identically_or_refused(changes: list[tuple[int, int]]) -> None:
    der = bytearray(_der(_BASE))
    for at, value in changes:
        der[at % len(der)] = value
    assert_same_or_refused(_pem(bytes(der)))


@FUZZ
@given(st.integers(1, 400))
def test_truncated_der_is_refused(cut: int) -> None:
    der = _der(_BASE)
    assert read_cert_facts(_pem(der[: len(der) - cut])) is None


def test_thousands_of_changed_certificates_read_identically_or_refused() -> None:
    """A seeded sweep wider than hypothesis's 200 examples (it found the hybrid EC points)."""
    rng = random.Random(14)
    der = _der(_BASE)
    answered = 0
    for _ in range(3000):
        changed = bytearray(der)
        for _ in range(rng.randint(1, 2)):
            changed[rng.randrange(len(changed))] = rng.randrange(256)
        answered += assert_same_or_refused(_pem(bytes(changed)))
    assert answered > 500  # both read most single-byte changes (in the signature, say)


def test_an_unsupported_general_name_is_refused_not_raised() -> None:
    # three changed bytes turn a name into an x400Address, which cryptography will not read
    # (UnsupportedGeneralNameType, found by the fuzz test); a listing must survive it
    der = bytearray(_der(_BASE))
    for at, value in [(1047, 177), (1228, 190), (249, 163)]:
        der[at % len(der)] = value
    assert_same_or_refused(_pem(bytes(der)))
