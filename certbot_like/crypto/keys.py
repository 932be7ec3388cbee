"""Private keys for certificates and accounts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certbot_like.errors import ConfigError, UsageError

KeyType = Literal["ecdsa", "rsa"]
CURVES: dict[str, type[ec.EllipticCurve]] = {
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
}
RSA_SIZES = (2048, 3072, 4096)
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class KeySpec:
    """What kind of certificate key to make: ``ecdsa`` with a curve, or ``rsa`` with a size."""

    key_type: KeyType = "ecdsa"
    rsa_key_size: int = 2048
    elliptic_curve: str = "secp256r1"

    def __post_init__(self) -> None:
        if self.key_type not in ("ecdsa", "rsa"):
            raise UsageError(f"Unknown key type {self.key_type!r}", "Use --key-type ecdsa or rsa")
        if self.key_type == "rsa" and self.rsa_key_size not in RSA_SIZES:
            raise UsageError(
                f"Unsupported RSA key size {self.rsa_key_size}",
                "Use --rsa-key-size 2048, 3072 or 4096",
            )
        if self.key_type == "ecdsa" and self.elliptic_curve not in CURVES:
            raise UsageError(
                f"Unsupported elliptic curve {self.elliptic_curve!r}",
                "Use --elliptic-curve secp256r1 or secp384r1",
            )

    def describe(self) -> str:
        if self.key_type == "rsa":
            return f"RSA {self.rsa_key_size}"
        return f"ECDSA {self.elliptic_curve}"


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
