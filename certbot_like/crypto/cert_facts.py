"""The facts a listing or a renewal scan needs of a certificate, read with a small DER walker.

``cryptography`` costs ~10 MB of RSS and ~30 ms to import, and a full parse builds objects
for every field. A no-op ``renew`` and ``certificates`` need only the serial, the validity,
the subjectAltName DNS names and IP addresses, the subject's and issuer's common names, the
public key's kind and size and the authority key identifier. :func:`read_cert_facts` walks
the DER for exactly those and answers None for anything it does not expect (another
PEM block first, a non-DER length, a name it cannot decode, an unknown key algorithm, an
unusual subjectAltName entry, a duplicate extension ...); the caller then asks cryptography.
Whenever it answers, the answer equals cryptography's: ``tests/unit/test_cert_facts.py``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
from dataclasses import dataclass

_BEGIN = b"-----BEGIN CERTIFICATE-----"
_END = b"-----END CERTIFICATE-----"
_OID_CN = bytes.fromhex("550403")
_OID_SAN = bytes.fromhex("551d11")
_OID_AKI = bytes.fromhex("551d23")
_OID_RSA = bytes.fromhex("2a864886f70d010101")
_OID_EC = bytes.fromhex("2a8648ce3d0201")
_CURVES = {
    bytes.fromhex("2a8648ce3d030107"): "secp256r1",
    bytes.fromhex("2b81040022"): "secp384r1",
    bytes.fromhex("2b81040023"): "secp521r1",
}
_COORDINATE = {"secp256r1": 32, "secp384r1": 48, "secp521r1": 66}
_STRINGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii"}  # UTF8, Printable, IA5
_PRINTABLE = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?"
)


class _Unexpected(Exception):
    """Something the walker does not read; cryptography decides."""


@dataclass(frozen=True)
class CertFacts:
    """What :func:`read_cert_facts` found (times are aware UTC datetimes)."""

    serial: int
    not_before: datetime.datetime
    not_after: datetime.datetime
    identifiers: list[tuple[str, str]]  # (kind, value) as certs.cert_identifiers orders them
    subject_cn: str | None
    issuer_cn: str | None
    key_type: str  # as certs.describe_key: ``ECDSA secp256r1`` / ``RSA 2048``
    spki: bytes  # the SubjectPublicKeyInfo as stored in the certificate
    aki_key_id: bytes | None


def _tlv(data: bytes, at: int, end: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the DER element at *at*."""
    if at + 2 > end:
        raise _Unexpected
    tag, first = data[at], data[at + 1]
    if tag & 0x1F == 0x1F:
        raise _Unexpected  # multi-byte tags
    at += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or at + count > end or data[at] == 0:
            raise _Unexpected  # indefinite or non-minimal
        length = int.from_bytes(data[at : at + count], "big")
        if length < 0x80:
            raise _Unexpected
        at += count
    if at + length > end:
        raise _Unexpected
    return tag, at, at + length


def _expect(data: bytes, at: int, end: int, tag: int) -> tuple[int, int]:
    got, start, stop = _tlv(data, at, end)
    if got != tag:
        raise _Unexpected
    return start, stop


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        item = _tlv(data, start, end)
        out.append(item)
        start = item[2]
    return out


def _time(data: bytes, tag: int, start: int, stop: int) -> datetime.datetime:
    text = data[start:stop]
    if tag == 0x17 and len(text) == 13:  # UTCTime YYMMDDHHMMSSZ
        year = int(text[:2])
        year += 2000 if year < 50 else 1900
        rest = text[2:]
    elif tag == 0x18 and len(text) == 15:  # GeneralizedTime YYYYMMDDHHMMSSZ
        year, rest = int(text[:4]), text[4:]
    else:
        raise _Unexpected
    if rest[-1:] != b"Z" or not rest[:-1].isdigit() or not text[:-1].isdigit():
        raise _Unexpected
    month, day, hour, minute, second = (int(rest[i : i + 2]) for i in range(0, 10, 2))
    try:
        return datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.UTC)
    except ValueError:
        raise _Unexpected from None


def _cn(data: bytes, start: int, stop: int) -> str | None:
    """The first common name of a Name (single-valued RDNs only)."""
    found = None
    for tag, rdn_start, rdn_stop in _children(data, start, stop):
        attributes = _children(data, rdn_start, rdn_stop)
        if tag != 0x31 or len(attributes) != 1 or attributes[0][0] != 0x30:
            raise _Unexpected
        oid_start, oid_stop = _expect(data, attributes[0][1], attributes[0][2], 0x06)
        value_tag, value_start, value_stop = _tlv(data, oid_stop, attributes[0][2])
        if value_stop != attributes[0][2]:
            raise _Unexpected
        if data[oid_start:oid_stop] == _OID_CN and found is None:
            encoding = _STRINGS.get(value_tag)
            raw = data[value_start:value_stop]
            if encoding is None or (value_tag == 0x13 and not _PRINTABLE.issuperset(raw)):
                raise _Unexpected
            try:
                found = raw.decode(encoding)
            except UnicodeDecodeError:
                raise _Unexpected from None
    return found


def _key_type(data: bytes, start: int, stop: int) -> str:
    alg_start, alg_stop = _expect(data, start, stop, 0x30)
    oid_start, oid_stop = _expect(data, alg_start, alg_stop, 0x06)
    oid = data[oid_start:oid_stop]
    bits_start, bits_stop = _expect(data, alg_stop, stop, 0x03)
    if bits_stop != stop or bits_start == bits_stop or data[bits_start] != 0:
        raise _Unexpected
    if oid == _OID_EC:
        curve_start, curve_stop = _expect(data, oid_stop, alg_stop, 0x06)
        curve = _CURVES.get(data[curve_start:curve_stop])
        point = data[bits_start + 1 : bits_stop]
        if curve is None or curve_stop != alg_stop or point[:1] != b"\x04":
            raise _Unexpected  # compressed or hybrid points: cryptography re-encodes them
        if len(point) != 1 + 2 * _COORDINATE[curve]:
            raise _Unexpected
        return f"ECDSA {curve}"
    if oid == _OID_RSA and data[oid_stop:alg_stop] == b"\x05\x00":
        key_start, key_stop = _expect(data, bits_start + 1, bits_stop, 0x30)
        numbers = _children(data, key_start, key_stop)
        if key_stop != bits_stop or len(numbers) != 2:
            raise _Unexpected
        values = [_positive(data, *number) for number in numbers]
        return f"RSA {values[0].bit_length()}"
    raise _Unexpected


def _positive(data: bytes, tag: int, start: int, stop: int) -> int:
    """A positive INTEGER in minimal encoding (what cryptography would write back)."""
    raw = data[start:stop]
    if (
        tag != 0x02
        or not raw
        or raw[0] & 0x80
        or (raw[0] == 0 and (len(raw) == 1 or raw[1] < 0x80))
    ):
        raise _Unexpected
    return int.from_bytes(raw, "big")


def _san(data: bytes, start: int, stop: int) -> set[tuple[str, str]]:
    seq_start, seq_stop = _expect(data, start, stop, 0x30)
    names = set()
    for tag, name_start, name_stop in _children(data, seq_start, seq_stop):
        value = data[name_start:name_stop]
        if tag == 0x82 and value.isascii():
            names.add(("dns", value.decode("ascii").lower()))
        elif tag == 0x87 and len(value) in (4, 16):
            names.add(("ip", ipaddress.ip_address(value).compressed))
        else:
            raise _Unexpected
    return names


def _aki(data: bytes, start: int, stop: int) -> bytes | None:
    seq_start, seq_stop = _expect(data, start, stop, 0x30)
    for tag, item_start, item_stop in _children(data, seq_start, seq_stop):
        if tag == 0x80:
            return data[item_start:item_stop]
    return None


def _extensions(data: bytes, start: int, stop: int) -> tuple[set[tuple[str, str]], bytes | None]:
    seq_start, seq_stop = _expect(data, start, stop, 0x30)
    seen: set[bytes] = set()
    names: set[tuple[str, str]] = set()
    aki = None
    for ext_tag, ext_start, ext_stop in _children(data, seq_start, seq_stop):
        if ext_tag != 0x30:
            raise _Unexpected
        oid_start, oid_stop = _expect(data, ext_start, ext_stop, 0x06)
        oid = data[oid_start:oid_stop]
        if oid in seen:
            raise _Unexpected
        seen.add(oid)
        at = oid_stop
        tag, value_start, value_stop = _tlv(data, at, ext_stop)
        if tag == 0x01:  # critical
            tag, value_start, value_stop = _tlv(data, value_stop, ext_stop)
        if tag != 0x04 or value_stop != ext_stop:
            raise _Unexpected
        if oid == _OID_SAN:
            names = _san(data, value_start, value_stop)
        elif oid == _OID_AKI:
            aki = _aki(data, value_start, value_stop)
    return names, aki


def _walk(der: bytes) -> CertFacts:
    cert_start, cert_stop = _expect(der, 0, len(der), 0x30)
    if cert_stop != len(der):
        raise _Unexpected
    tbs_start, tbs_stop = _expect(der, cert_start, cert_stop, 0x30)
    fields = _children(der, tbs_start, tbs_stop)
    if len(fields) < 7 or fields[0][0] != 0xA0:
        raise _Unexpected  # v1 certificates (no version field): cryptography reads them
    version_start, version_stop = _expect(der, fields[0][1], fields[0][2], 0x02)
    if der[version_start:version_stop] != b"\x02":
        raise _Unexpected
    serial_tag, serial_start, serial_stop = fields[1]
    issuer, validity, subject, spki = fields[3], fields[4], fields[5], fields[6]
    if (serial_tag, fields[2][0], issuer[0], validity[0], subject[0], spki[0]) != (
        0x02, 0x30, 0x30, 0x30, 0x30, 0x30,
    ):  # fmt: skip
        raise _Unexpected
    times = _children(der, validity[1], validity[2])
    if len(times) != 2:
        raise _Unexpected
    names: set[tuple[str, str]] = set()
    aki = None
    for tag, start, stop in fields[7:]:
        if tag == 0xA3:
            names, aki = _extensions(der, start, stop)
        elif tag not in (0x81, 0x82):
            raise _Unexpected
    subject_cn = _cn(der, subject[1], subject[2])
    identifiers = sorted(names)
    if subject_cn is not None and ("dns", subject_cn.lower()) in names:
        identifiers.remove(("dns", subject_cn.lower()))
        identifiers.insert(0, ("dns", subject_cn.lower()))
    return CertFacts(
        serial=int.from_bytes(der[serial_start:serial_stop], "big", signed=True),
        not_before=_time(der, *times[0]),
        not_after=_time(der, *times[1]),
        identifiers=identifiers,
        subject_cn=subject_cn,
        issuer_cn=_cn(der, issuer[1], issuer[2]),
        key_type=_key_type(der, spki[1], spki[2]),
        spki=der[_header_start(spki) : spki[2]],
        aki_key_id=aki,
    )


def _header_start(item: tuple[int, int, int]) -> int:
    """Where the element whose contents start at item[1] begins (its tag byte)."""
    length = item[2] - item[1]
    header = 2 if length < 0x80 else 2 + (length.bit_length() + 7) // 8
    return item[1] - header


def read_cert_facts(pem: bytes) -> CertFacts | None:
    """The facts of the first certificate in *pem*, or None when the walker is not sure."""
    start = pem.find(_BEGIN)
    if start == -1 or pem.find(b"-----BEGIN", 0, start) != -1:
        return None
    stop = pem.find(_END, start)
    if stop == -1:
        return None
    try:
        der = binascii.a2b_base64(pem[start + len(_BEGIN) : stop], strict_mode=False)
        return _walk(der)
    except (_Unexpected, binascii.Error, ValueError):
        return None


def ari_cert_id(facts: CertFacts) -> str:
    """RFC 9773's certificate id (AKI key id "." serial, base64url), "" without an AKI."""
    if facts.aki_key_id is None:
        return ""
    serial = facts.serial
    serial_bytes = serial.to_bytes((serial.bit_length() + 8) // 8, "big", signed=True)
    return f"{_b64url(facts.aki_key_id)}.{_b64url(serial_bytes)}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def certificate_facts(pem: bytes) -> CertFacts | None:
    """The facts of the certificate in *pem*: walked, or parsed by cryptography when the
    walker is unsure; None when cryptography cannot read it either."""
    facts = read_cert_facts(pem)
    if facts is not None and facts.issuer_cn is not None:
        return facts
    return facts_by_cryptography(pem)


def facts_by_cryptography(pem: bytes) -> CertFacts | None:
    """:class:`CertFacts` of the first certificate in *pem* by cryptography's full parse (the
    walker's fallback and reference); None when it cannot be parsed."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    from certbot_like.crypto import certs

    try:
        cert = x509.load_pem_x509_certificate(pem)
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        aki: bytes | None = None
        try:
            ext = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
            aki = ext.value.key_identifier
        except x509.ExtensionNotFound:
            pass
        return CertFacts(
            serial=cert.serial_number,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            identifiers=[(i.kind, i.value) for i in certs.cert_identifiers(cert)],
            subject_cn=str(cns[0].value) if cns else None,
            issuer_cn=certs.issuer_cn(cert),
            key_type=certs.describe_key(cert),
            spki=certs.public_key_der(cert),
            aki_key_id=aki,
        )
    except certs.FACT_ERRORS:
        return None
