"""Private keys for certificates and accounts."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certbot_like.errors import ConfigError
from certbot_like.keyspec import KeySpec

CURVES: dict[str, type[ec.EllipticCurve]] = {  # keys: CURVE_NAMES
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
}
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def generate_key(spec: KeySpec) -> PrivateKey:
    """A fresh private key as *spec* says."""
    if spec.key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=spec.rsa_key_size)
    return ec.generate_private_key(CURVES[spec.elliptic_curve]())


def key_to_pem(key: PrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted (as certbot writes ``privkey.pem``)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(pem: bytes, source: str) -> PrivateKey:
    """Parse a PEM private key (RSA or EC).

    Raises:
        ConfigError: not a PEM RSA/EC private key, or encrypted.
    """
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{source} is not a readable unencrypted PEM private key",
            f"{type(exc).__name__}; check the file",
        ) from None
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise ConfigError(f"{source} holds an unsupported key type", "Use an RSA or ECDSA key")
    return key


def spec_of(key: PrivateKey) -> KeySpec:
    """The :class:`KeySpec` that describes an existing key."""
    if isinstance(key, rsa.RSAPrivateKey):
        return KeySpec("rsa", rsa_key_size=key.key_size)
    return KeySpec("ecdsa", elliptic_curve=key.curve.name)


def public_der(key: PrivateKey) -> bytes:
    """DER SubjectPublicKeyInfo of the key's public half."""
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def account_id_for(public_key: Any) -> str:
    """certbot's account id: hex MD5 of the public key's PEM SubjectPublicKeyInfo.

    *public_key* is a ``cryptography`` public key object.
    """
    import hashlib

    from cryptography.hazmat.primitives import serialization

    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.md5(pem, usedforsecurity=False).hexdigest()
