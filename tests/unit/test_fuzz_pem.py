"""Fuzzing the PEM bundles a CA sends (docs/security.md, invariant 11).

The property: a checked chain, or a :class:`~certbot_like.errors.CertificateCheckFailed`
(one line, a documented exit code); never another exception type. The section ends with
deterministic reproducers of bugs the fuzzing found (all fixed).
"""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from certbot_like.crypto.certs import (
    MAX_CHAIN,
    CheckedChain,
    check_issued,
    split_pem_certificates,
)
from certbot_like.errors import CertificateCheckFailed
from certbot_like.interfaces import Identifier
from tests.harness.lineages import LocalIssuer
from tests.unit.fuzzing import FUZZ

# -- PEM bundles --------------------------------------------------------------------------------

_ISSUER = LocalIssuer()
_KEY = ec.generate_private_key(ec.SECP256R1())
_PUBLIC = _KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)
_NAMES = [Identifier("dns", "a.test"), Identifier("dns", "b.test")]
_LEAF_PEM = _ISSUER.issue(["a.test", "b.test"], _KEY)
_GOOD = _LEAF_PEM + _ISSUER.chain_pem
_FRAGMENTS = st.sampled_from(
    [
        b"-----BEGIN CERTIFICATE-----\n",
        b"-----END CERTIFICATE-----\n",
        b"-----BEGIN PRIVATE KEY-----\n",
        b"-----END PRIVATE KEY-----\n",
        b"-----BEGIN EC PRIVATE KEY-----\n",
        b"-----BEGIN X509 CRL-----\n",
        b"-----END X509 CRL-----\n",
        b"-----BEGIN  -----\n",
        b"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n",
        b"\r\n",
        b"=\n",
        _LEAF_PEM,
        _ISSUER.chain_pem,
    ]
) | st.binary(max_size=40)


@FUZZ
@given(st.binary(max_size=300) | st.lists(_FRAGMENTS, max_size=12).map(b"".join))
def test_any_bytes_split_into_certificate_blocks_or_a_check_failure(data: bytes) -> None:
    try:
        blocks = split_pem_certificates(data)
    except CertificateCheckFailed as exc:
        assert exc.one_line().isprintable()
        return
    assert b"PRIVATE KEY" not in data.upper()
    assert 1 <= len(blocks) <= MAX_CHAIN
    for block in blocks:
        assert block.startswith(b"-----BEGIN CERTIFICATE-----")
        assert block.rstrip().endswith(b"-----END CERTIFICATE-----")


@FUZZ
@given(st.binary(max_size=300) | st.lists(_FRAGMENTS, max_size=12).map(b"".join))
def test_any_bytes_as_an_issued_chain_pass_the_checks_or_fail_them(data: bytes) -> None:
    try:
        chain = check_issued(data, public_key=_PUBLIC, identifiers=_NAMES)
    except CertificateCheckFailed:
        return
    assert chain.cert_pem == _LEAF_PEM


def assert_our_leaf(chain: CheckedChain) -> None:
    """What a chain that passed the checks must hold: our key, our names, one leaf first."""
    spki = chain.leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert spki == _PUBLIC
    san = chain.leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == ["a.test", "b.test"]
    assert x509.load_pem_x509_certificate(chain.cert_pem) == chain.leaf
    assert chain.fullchain_pem == chain.cert_pem + chain.chain_pem


def _blocks(data: bytes) -> list[bytes]:
    return split_pem_certificates(data)


def _der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def _pem(der: bytes) -> bytes:
    text = base64.b64encode(der)
    lines = b"\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    return b"-----BEGIN CERTIFICATE-----\n" + lines + b"\n-----END CERTIFICATE-----\n"


_STRUCTURE = st.lists(
    st.sampled_from(["swap", "drop", "dup", "truncate", "junk", "crlf", "strip", "extra"]),
    min_size=1,
    max_size=4,
)


@FUZZ
@given(_STRUCTURE, st.data())
def test_a_valid_chain_rearranged_passes_or_fails_the_checks(
    edits: list[str], data: st.DataObject
) -> None:
    """Blocks dropped, duplicated, swapped, truncated, junk in between, other line ends."""
    blocks = _blocks(_GOOD)
    for edit in edits:
        if not blocks:
            break
        index = data.draw(st.integers(0, len(blocks) - 1))
        if edit == "swap":
            blocks.reverse()
        elif edit == "drop":
            del blocks[index]
        elif edit == "dup":
            blocks.insert(index, blocks[index])
        elif edit == "truncate":
            blocks[index] = blocks[index][: data.draw(st.integers(0, len(blocks[index])))]
        elif edit == "junk":
            blocks.insert(index, data.draw(st.binary(max_size=30)))
        elif edit == "crlf":
            blocks[index] = blocks[index].replace(b"\n", b"\r\n")
        elif edit == "strip":
            blocks[index] = blocks[index].strip()
        else:
            blocks.append(_ISSUER.chain_pem)
    try:
        chain = check_issued(b"".join(blocks), public_key=_PUBLIC, identifiers=_NAMES)
    except CertificateCheckFailed:
        event("refused")
        return
    event("passed")
    assert_our_leaf(chain)


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.booleans(), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3))
def test_a_valid_chain_with_altered_bytes_passes_or_fails_the_checks(
    in_leaf: bool, changes: list[tuple[int, int]]
) -> None:
    leaf, issuer = _der(_LEAF_PEM), _der(_ISSUER.chain_pem)
    target = bytearray(leaf if in_leaf else issuer)
    for position, value in changes:
        target[position % len(target)] = value
    altered = _pem(bytes(target))
    data = altered + _ISSUER.chain_pem if in_leaf else _LEAF_PEM + altered
    untouched = bytes(target) == (leaf if in_leaf else issuer)
    try:
        chain = check_issued(data, public_key=_PUBLIC, identifiers=_NAMES)
    except CertificateCheckFailed:
        assert not untouched, "the unaltered chain must pass"
        return
    assert_our_leaf(chain)
    if in_leaf:  # the signed part of a leaf that passed is exactly what the CA signed
        original = x509.load_pem_x509_certificate(_LEAF_PEM)
        assert chain.leaf.tbs_certificate_bytes == original.tbs_certificate_bytes


_EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")  # OID 1.2.840.10045.2.1
_P256 = bytes.fromhex("06082a8648ce3d030107")  # OID 1.2.840.10045.3.1.7
_EXTENSION = bytes.fromhex("0603551d")  # OID 2.5.29.*, without its last arc


def _altered_chain(case: str) -> bytes:
    leaf, issuer = _der(_LEAF_PEM), _der(_ISSUER.chain_pem)
    point = _KEY.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    san = x509.SubjectAlternativeName([x509.DNSName("a.test"), x509.DNSName("b.test")])
    san_der = san.public_bytes()

    def patch(der: bytes, old: bytes, new: bytes) -> bytes:
        assert der.count(old) == 1
        return der.replace(old, new)

    if case == "issuer-key-type-unknown":
        return _LEAF_PEM + _pem(patch(issuer, _EC_PUBLIC_KEY, _EC_PUBLIC_KEY[:-1] + b"\x63"))
    new_leaf = {
        "leaf-key-type-unknown": lambda: patch(leaf, _EC_PUBLIC_KEY, _EC_PUBLIC_KEY[:-1] + b"c"),
        "leaf-curve-unknown": lambda: patch(leaf, _P256, _P256[:-1] + b"\x61"),
        "leaf-point-off-curve": lambda: patch(leaf, point, point[:-1] + bytes([point[-1] ^ 1])),
        "leaf-san-malformed": lambda: patch(leaf, san_der, san_der[:3] + b"\x7f" + san_der[4:]),
        # extendedKeyUsage's OID made authorityKeyIdentifier's: that extension twice
        "leaf-extension-twice": lambda: patch(leaf, _EXTENSION + b"\x25", _EXTENSION + b"\x23"),
    }[case]()
    return _pem(new_leaf) + _ISSUER.chain_pem


@pytest.mark.parametrize(
    "case",
    [
        "leaf-key-type-unknown",
        "leaf-curve-unknown",
        "leaf-point-off-curve",
        "leaf-san-malformed",
        "leaf-extension-twice",  # found by the fuzz test above: DuplicateExtension escaped
        "issuer-key-type-unknown",
    ],
)
def test_an_altered_chain_is_a_certificate_check_failure(case: str) -> None:
    data = _altered_chain(case)
    with pytest.raises(CertificateCheckFailed):
        check_issued(data, public_key=_PUBLIC, identifiers=_NAMES)


def test_the_altered_chain_reproducers_start_from_a_chain_that_passes() -> None:
    assert check_issued(_GOOD, public_key=_PUBLIC, identifiers=_NAMES).cert_pem == _LEAF_PEM
