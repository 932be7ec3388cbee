"""What kind of certificate key to make (no cryptography import: settings use it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from certbot_like.errors import UsageError

KeyType = Literal["ecdsa", "rsa"]
CURVE_NAMES = ("secp256r1", "secp384r1", "secp521r1")
RSA_SIZES = (2048, 3072, 4096)


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
        if self.key_type == "ecdsa" and self.elliptic_curve not in CURVE_NAMES:
            raise UsageError(
                f"Unsupported elliptic curve {self.elliptic_curve!r}",
                "Use --elliptic-curve secp256r1 or secp384r1",
            )

    def describe(self) -> str:
        if self.key_type == "rsa":
            return f"RSA {self.rsa_key_size}"
        return f"ECDSA {self.elliptic_curve}"
