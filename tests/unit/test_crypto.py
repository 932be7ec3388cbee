"""CSRs we send, CSRs operators give us, and the gate between the CA's answer and the disk."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certbot_like.crypto.certs import (
    MAX_CHAIN,
    cert_identifiers,
    chain_matches_issuer,
    check_issued,
    describe_key,
    issuer_cn,
    split_pem_certificates,
)
from certbot_like.crypto.csr import load_csr, make_csr
from certbot_like.crypto.keys import (
    KeySpec,
    generate_key,
    key_to_pem,
    load_private_key,
    public_der,
    spec_of,
)
from certbot_like.errors import CertificateCheckFailed, ConfigError, UsageError
from certbot_like.interfaces import Identifier

NOW = datetime.datetime(2030, 6, 1, 12, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


def dns(value: str) -> Identifier:
    return Identifier("dns", value)


def ip(value: str) -> Identifier:
    return Identifier("ip", value)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def build_cert(
    cn: str,
    *,
    issuer: x509.Name | None,
    signer: ec.EllipticCurvePrivateKey,
    public_key: ec.EllipticCurvePublicKey,
    sans: Sequence[x509.GeneralName] = (),
    not_before: datetime.datetime = NOW - DAY,
    not_after: datetime.datetime = NOW + 90 * DAY,
    ca: bool = False,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(signer, hashes.SHA256())


@dataclass
class TinyCa:
    """root -> intermediate, issuing leaves for a fixed leaf key."""

    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    inter_key: ec.EllipticCurvePrivateKey
    inter: x509.Certificate
    leaf_key: ec.EllipticCurvePrivateKey

    @property
    def leaf_spki(self) -> bytes:
        return public_der(self.leaf_key)

    def leaf(
        self,
        sans: Sequence[x509.GeneralName] = (x509.DNSName("a.test"), x509.DNSName("b.test")),
        *,
        key: ec.EllipticCurvePrivateKey | None = None,
        signer: ec.EllipticCurvePrivateKey | None = None,
        not_before: datetime.datetime = NOW - DAY,
        not_after: datetime.datetime = NOW + 90 * DAY,
    ) -> x509.Certificate:
        return build_cert(
            "a.test",
            issuer=self.inter.subject,
            signer=signer or self.inter_key,
            public_key=(key or self.leaf_key).public_key(),
            sans=sans,
            not_before=not_before,
            not_after=not_after,
        )

    def chain(self, leaf: x509.Certificate | None = None) -> bytes:
        return pem(leaf or self.leaf()) + pem(self.inter)


@pytest.fixture(scope="module")
def tiny_ca() -> TinyCa:
    root_key = ec_key()
    root = build_cert(
        "Tiny Root", issuer=None, signer=root_key, public_key=root_key.public_key(), ca=True
    )
    inter_key = ec_key()
    inter = build_cert(
        "Tiny Intermediate",
        issuer=root.subject,
        signer=root_key,
        public_key=inter_key.public_key(),
        ca=True,
    )
    return TinyCa(root_key, root, inter_key, inter, ec_key())


WANTED = [dns("a.test"), dns("b.test")]


def check(ca: TinyCa, data: bytes, identifiers: Sequence[Identifier] = WANTED) -> object:
    return check_issued(data, public_key=ca.leaf_spki, identifiers=identifiers, now=NOW)


def assert_rejected(ca: TinyCa, data: bytes, match: str, **kw: object) -> CertificateCheckFailed:
    with pytest.raises(CertificateCheckFailed, match=match) as info:
        check(ca, data, **kw)  # type: ignore[arg-type]
    assert info.value.exit_code == 10
    assert "\n" not in info.value.one_line()
    return info.value


# --- make_csr ---------------------------------------------------------------------------


def csr_of(der: bytes) -> x509.CertificateSigningRequest:
    return x509.load_der_x509_csr(der)


def test_csr_holds_exactly_the_requested_dns_and_ip_names() -> None:
    key = ec_key()
    csr = csr_of(make_csr(key, [dns("a.test"), ip("192.0.2.1"), dns("*.b.test"), ip("::1")]))
    assert csr.is_signature_valid
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["a.test", "*.b.test"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("192.0.2.1"),
        ipaddress.ip_address("::1"),
    ]
    assert len(list(san)) == 4


def test_csr_requests_no_extended_key_usage_and_no_must_staple() -> None:
    csr = csr_of(make_csr(ec_key(), [dns("a.test")]))
    present = {type(ext.value) for ext in csr.extensions}
    assert present == {x509.SubjectAlternativeName}
    with pytest.raises(x509.ExtensionNotFound):
        csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    with pytest.raises(x509.ExtensionNotFound):
        csr.extensions.get_extension_for_class(x509.TLSFeature)
    assert ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string.encode() not in csr.public_bytes(
        serialization.Encoding.PEM
    )


def test_csr_is_signed_by_and_carries_the_given_key() -> None:
    key = generate_key(KeySpec("rsa", rsa_key_size=2048))
    csr = csr_of(make_csr(key, [dns("a.test")]))
    assert csr.is_signature_valid
    assert csr.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == public_der(key)


def test_csr_common_name_is_the_first_dns_name_when_it_fits() -> None:
    name = "a" * 59 + ".test"  # 64 characters
    csr = csr_of(make_csr(ec_key(), [ip("192.0.2.1"), dns(name), dns("b.test")]))
    cns = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [c.value for c in cns] == [name]


def test_csr_has_no_common_name_when_the_first_dns_name_is_too_long() -> None:
    name = "a" * 60 + ".test"  # 65 characters
    csr = csr_of(make_csr(ec_key(), [dns(name), dns("short.test")]))
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME) == []
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [name, "short.test"]


def test_csr_for_ip_addresses_only_has_an_empty_subject() -> None:
    csr = csr_of(make_csr(ec_key(), [ip("192.0.2.1")]))
    assert len(csr.subject) == 0


# --- load_csr ---------------------------------------------------------------------------


def operator_csr(
    key: ec.EllipticCurvePrivateKey,
    sans: Sequence[x509.GeneralName] = (),
    cn: str | None = None,
) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(key, hashes.SHA256())


@pytest.mark.parametrize("encoding", [serialization.Encoding.PEM, serialization.Encoding.DER])
def test_operator_csr_is_read_in_pem_and_der(encoding: serialization.Encoding) -> None:
    key = ec_key()
    csr = operator_csr(
        key,
        [
            x509.DNSName("A.test"),
            x509.DNSName("b.test"),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ],
        cn="a.test",
    )
    loaded = load_csr(csr.public_bytes(encoding), "csr.pem")
    assert loaded.identifiers == (dns("a.test"), dns("b.test"), ip("::1"))
    assert loaded.public_key_der == public_der(key)
    assert loaded.der == csr.public_bytes(serialization.Encoding.DER)


def test_operator_csr_without_san_uses_its_common_name() -> None:
    csr = operator_csr(ec_key(), cn="only.test")
    loaded = load_csr(csr.public_bytes(serialization.Encoding.PEM), "csr.pem")
    assert loaded.identifiers == (dns("only.test"),)


def test_operator_csr_duplicate_names_are_dropped() -> None:
    csr = operator_csr(ec_key(), [x509.DNSName("a.test"), x509.DNSName("A.TEST")])
    assert load_csr(csr.public_bytes(serialization.Encoding.DER), "x").identifiers == (
        dns("a.test"),
    )


def test_operator_csr_with_a_bad_signature_is_a_config_error() -> None:
    der = bytearray(
        operator_csr(ec_key(), [x509.DNSName("a.test")]).public_bytes(serialization.Encoding.DER)
    )
    der[-1] ^= 0x01  # the last byte of the signature's s value
    with pytest.raises(ConfigError, match=r"signature .* does not verify") as info:
        load_csr(bytes(der), "/etc/csr.der")
    assert info.value.exit_code == 3
    assert "/etc/csr.der" in info.value.message


def test_operator_csr_without_any_name_is_a_config_error() -> None:
    csr = operator_csr(ec_key())
    with pytest.raises(ConfigError, match="names no domain"):
        load_csr(csr.public_bytes(serialization.Encoding.PEM), "csr.pem")


@pytest.mark.parametrize(
    "data",
    [b"", b"not a csr", b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE"],
)
def test_garbage_instead_of_a_csr_is_a_config_error_naming_the_file(data: bytes) -> None:
    with pytest.raises(ConfigError, match=r"my\.csr is not a PEM or DER"):
        load_csr(data, "my.csr")


def test_operator_csr_with_an_invalid_name_says_which_and_does_not_mention_d() -> None:
    csr = operator_csr(ec_key(), [x509.DNSName("a_b.test")])
    with pytest.raises(ConfigError, match=r"a_b\.test") as info:
        load_csr(csr.public_bytes(serialization.Encoding.PEM), "csr.pem")
    assert "-d" not in info.value.one_line()


# --- check_issued: accepted -------------------------------------------------------------


def test_good_chain_is_accepted_and_split_like_certbot(tiny_ca: TinyCa) -> None:
    leaf = tiny_ca.leaf()
    data = tiny_ca.chain(leaf) + pem(tiny_ca.root)
    checked = check_issued(data, public_key=tiny_ca.leaf_spki, identifiers=WANTED, now=NOW)
    assert checked.leaf == leaf
    assert checked.cert_pem == pem(leaf)
    assert checked.chain_pem == pem(tiny_ca.inter) + pem(tiny_ca.root)
    assert checked.fullchain_pem == checked.cert_pem + checked.chain_pem


def test_names_compare_regardless_of_case_and_order(tiny_ca: TinyCa) -> None:
    check(tiny_ca, tiny_ca.chain(), [dns("B.TEST"), dns("a.test")])


def test_ip_and_wildcard_names_are_accepted(tiny_ca: TinyCa) -> None:
    leaf = tiny_ca.leaf(
        [x509.DNSName("*.a.test"), x509.IPAddress(ipaddress.ip_address("2001:db8::1"))]
    )
    check(tiny_ca, tiny_ca.chain(leaf), [dns("*.a.test"), ip("2001:db8:0::1")])


def test_crlf_line_endings_are_accepted(tiny_ca: TinyCa) -> None:
    check(tiny_ca, tiny_ca.chain().replace(b"\n", b"\r\n"))


def test_leaf_valid_from_a_few_hours_ahead_is_accepted_as_clock_skew(tiny_ca: TinyCa) -> None:
    leaf = tiny_ca.leaf(not_before=NOW + datetime.timedelta(hours=12))
    check(tiny_ca, tiny_ca.chain(leaf))


def test_leaf_alone_is_accepted_with_an_empty_chain(tiny_ca: TinyCa) -> None:
    leaf = tiny_ca.leaf()
    checked = check_issued(pem(leaf), public_key=tiny_ca.leaf_spki, identifiers=WANTED, now=NOW)
    assert checked.chain_pem == b""


# --- check_issued: rejected -------------------------------------------------------------


@pytest.mark.parametrize(
    "block",
    [
        b"-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n"
        b"-----END PRIVATE KEY-----\n",
        b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIE\n-----END EC PRIVATE KEY-----\n",
        b"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIE\n-----END ENCRYPTED PRIVATE KEY-----\n",
    ],
)
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_any_private_key_block_anywhere_rejects_the_chain(
    tiny_ca: TinyCa, block: bytes, where: str
) -> None:
    leaf, inter = pem(tiny_ca.leaf()), pem(tiny_ca.inter)
    data = {"first": block + leaf + inter, "middle": leaf + block + inter}.get(
        where, leaf + inter + block
    )
    assert_rejected(tiny_ca, data, "private key")


def test_a_real_private_key_appended_to_the_chain_is_rejected(tiny_ca: TinyCa) -> None:
    data = tiny_ca.chain() + key_to_pem(tiny_ca.leaf_key)
    assert_rejected(tiny_ca, data, "private key")


@pytest.mark.parametrize(
    "kind", [b"PUBLIC KEY", b"X509 CRL", b"CERTIFICATE REQUEST", b"TRUSTED CERTIFICATE", b"PKCS7"]
)
def test_a_non_certificate_pem_block_rejects_the_chain(tiny_ca: TinyCa, kind: bytes) -> None:
    block = b"-----BEGIN " + kind + b"-----\nAAAA\n-----END " + kind + b"-----\n"
    err = assert_rejected(tiny_ca, tiny_ca.chain() + block, "contains a")
    assert kind.decode() in err.message


@pytest.mark.parametrize(
    "data", [b"", b"hello", b"<html>503 Service Unavailable</html>", b"\x30\x82\x01\x00"]
)
def test_no_certificate_at_all_is_rejected(tiny_ca: TinyCa, data: bytes) -> None:
    assert_rejected(tiny_ca, data, "no PEM certificate")


def test_certificate_block_that_does_not_parse_is_rejected(tiny_ca: TinyCa) -> None:
    data = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
    assert_rejected(tiny_ca, data, "does not parse")


def test_truncated_certificate_block_is_rejected(tiny_ca: TinyCa) -> None:
    inter = pem(tiny_ca.inter)
    data = pem(tiny_ca.leaf()) + inter[: len(inter) // 2]
    assert_rejected(tiny_ca, data, "PEM")


def test_more_certificates_than_the_limit_are_rejected(tiny_ca: TinyCa) -> None:
    data = pem(tiny_ca.leaf()) + pem(tiny_ca.inter) * MAX_CHAIN
    assert_rejected(tiny_ca, data, f"{MAX_CHAIN + 1} certificates")


def test_leaf_with_another_public_key_is_rejected(tiny_ca: TinyCa) -> None:
    leaf = tiny_ca.leaf(key=ec_key())
    assert_rejected(tiny_ca, tiny_ca.chain(leaf), "does not carry our public key")


def test_leaf_with_an_extra_name_is_rejected_and_the_name_is_shown(tiny_ca: TinyCa) -> None:
    leaf = tiny_ca.leaf([x509.DNSName("a.test"), x509.DNSName("b.test"), x509.DNSName("c.test")])
    err = assert_rejected(tiny_ca, tiny_ca.chain(leaf), "names differ")
    assert "extra: c.test" in err.message
    assert "missing: none" in err.message


def test_leaf_missing_a_name_is_rejected_and_the_name_is_shown(tiny_ca: TinyCa) -> None:
    leaf = tiny_ca.leaf([x509.DNSName("a.test")])
    err = assert_rejected(tiny_ca, tiny_ca.chain(leaf), "names differ")
    assert "missing: b.test" in err.message


def test_leaf_with_an_extra_ip_address_is_rejected(tiny_ca: TinyCa) -> None:
    leaf = tiny_ca.leaf([x509.DNSName("a.test"), x509.IPAddress(ipaddress.ip_address("192.0.2.1"))])
    assert_rejected(tiny_ca, tiny_ca.chain(leaf), "extra: 192.0.2.1", identifiers=[dns("a.test")])


def test_leaf_with_an_extra_non_dns_name_is_rejected(tiny_ca: TinyCa) -> None:
    leaf = tiny_ca.leaf([x509.DNSName("a.test"), x509.UniformResourceIdentifier("https://x.test")])
    assert_rejected(tiny_ca, tiny_ca.chain(leaf), "names differ", identifiers=[dns("a.test")])


def test_extra_name_with_control_characters_is_shown_escaped(tiny_ca: TinyCa) -> None:
    leaf = tiny_ca.leaf([x509.DNSName("a.test"), x509.DNSName("b.test\x1b[2J\nx")])
    err = assert_rejected(tiny_ca, tiny_ca.chain(leaf), "names differ", identifiers=[dns("a.test")])
    assert err.one_line().isprintable()


def test_leaf_without_subject_alt_names_is_rejected(tiny_ca: TinyCa) -> None:
    leaf = tiny_ca.leaf([])
    assert_rejected(tiny_ca, tiny_ca.chain(leaf), "missing: a.test, b.test")


def test_expired_leaf_is_rejected(tiny_ca: TinyCa) -> None:
    leaf = tiny_ca.leaf(not_before=NOW - 90 * DAY, not_after=NOW - datetime.timedelta(seconds=1))
    assert_rejected(tiny_ca, tiny_ca.chain(leaf), "expired")


def test_leaf_valid_only_from_two_days_ahead_is_rejected(tiny_ca: TinyCa) -> None:
    leaf = tiny_ca.leaf(not_before=NOW + 2 * DAY, not_after=NOW + 92 * DAY)
    err = assert_rejected(tiny_ca, tiny_ca.chain(leaf), "valid only from")
    assert err.hint is not None and "clock" in err.hint


def test_leaf_not_signed_by_the_next_certificate_is_a_broken_chain(tiny_ca: TinyCa) -> None:
    leaf = tiny_ca.leaf(signer=ec_key())  # right issuer name, wrong signature
    assert_rejected(tiny_ca, tiny_ca.chain(leaf), "chain is broken")


def test_chain_in_the_wrong_order_is_broken(tiny_ca: TinyCa) -> None:
    data = pem(tiny_ca.leaf()) + pem(tiny_ca.root) + pem(tiny_ca.inter)
    assert_rejected(tiny_ca, data, "chain is broken")


def test_intermediate_from_another_ca_is_a_broken_chain(tiny_ca: TinyCa) -> None:
    other_key = ec_key()
    other = build_cert(
        "Other Intermediate",
        issuer=None,
        signer=other_key,
        public_key=other_key.public_key(),
        ca=True,
    )
    assert_rejected(tiny_ca, pem(tiny_ca.leaf()) + pem(other), "chain is broken")


# --- chain_matches_issuer and certificate facts -----------------------------------------


def test_preferred_chain_matches_the_issuer_of_the_topmost_certificate(tiny_ca: TinyCa) -> None:
    chain = tiny_ca.chain()
    assert chain_matches_issuer(chain, "Tiny Root")
    assert not chain_matches_issuer(chain, "Tiny Intermediate")
    assert chain_matches_issuer(chain + pem(tiny_ca.root), "Tiny Root")
    assert chain_matches_issuer(pem(tiny_ca.leaf()), "Tiny Intermediate")


@pytest.mark.parametrize("data", [b"", b"junk", b"-----BEGIN PRIVATE KEY-----\n"])
def test_preferred_chain_never_matches_garbage(data: bytes) -> None:
    assert chain_matches_issuer(data, "Tiny Root") is False


def test_certificate_facts(tiny_ca: TinyCa) -> None:
    leaf = tiny_ca.leaf([x509.DNSName("z.test"), x509.DNSName("a.test"), x509.DNSName("m.test")])
    assert cert_identifiers(leaf) == [dns("a.test"), dns("m.test"), dns("z.test")]
    assert describe_key(leaf) == "ECDSA secp256r1"
    assert issuer_cn(leaf) == "Tiny Intermediate"


def test_split_keeps_certificates_in_order_and_ignores_text_between(tiny_ca: TinyCa) -> None:
    leaf, inter = pem(tiny_ca.leaf()), pem(tiny_ca.inter)
    data = b"subject=CN = a.test\n" + leaf + b"\nissuer=CN = Tiny\n" + inter
    assert split_pem_certificates(data) == [leaf, inter]


# --- keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec", [KeySpec(), KeySpec("ecdsa", elliptic_curve="secp384r1"), KeySpec("rsa")]
)
def test_generated_key_matches_its_spec_and_survives_pem(spec: KeySpec) -> None:
    key = generate_key(spec)
    assert spec_of(key) == spec
    assert spec_of(load_private_key(key_to_pem(key), "privkey.pem")) == spec


@pytest.mark.parametrize(
    "kw",
    [
        {"key_type": "dsa"},
        {"key_type": "rsa", "rsa_key_size": 1024},
        {"elliptic_curve": "secp192r1"},
    ],
)
def test_unsupported_key_specs_are_usage_errors(kw: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        KeySpec(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("data", [b"", b"garbage", b"-----BEGIN PRIVATE KEY-----\nAA\n"])
def test_unreadable_private_key_is_a_config_error_naming_the_file(data: bytes) -> None:
    with pytest.raises(ConfigError, match=r"privkey\.pem"):
        load_private_key(data, "privkey.pem")
