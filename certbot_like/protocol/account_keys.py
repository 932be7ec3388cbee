"""Account and certificate keys as JWKs (RFC 7517), the only place services get them from.

Services handle keys as opaque :class:`AccountKey` values and JSON objects; josepy stays
inside :mod:`certbot_like.protocol` (ADR 0002).
"""

from __future__ import annotations

import json
from typing import Any

from certbot_like.errors import ConfigError

AccountKey = Any  # a josepy JWK; opaque to the services


def new_account_key() -> AccountKey:
    """A new ECDSA P-256 (ES256) account key."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from josepy.jwk import JWKEC

    return JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


def key_from_json(data: dict[str, Any], what: str = "The stored account key") -> AccountKey:
    """A private JWK from its JSON object.

    Raises:
        ConfigError: *data* is not a usable private JWK (*what* names it in the message).
    """
    from josepy.errors import DeserializationError
    from josepy.jwk import JWK

    try:
        return JWK.from_json(data)
    except (DeserializationError, ValueError, TypeError, KeyError):
        raise ConfigError(
            f"{what} cannot be read", "Restore it from a backup or register again"
        ) from None


def key_to_json(key: AccountKey) -> dict[str, Any]:
    """The private JWK as a JSON object (for the store only: it holds the secret)."""
    data: dict[str, Any] = json.loads(key.json_dumps())
    return data


def key_id(key: AccountKey) -> str:
    """certbot's account id of a key: hex MD5 of its public key's PEM SubjectPublicKeyInfo."""
    from certbot_like.crypto.keys import account_id_for

    return account_id_for(key.public_key().key)


def jwk_for_private_key(private_key: Any) -> AccountKey:
    """A ``cryptography`` RSA or EC private key as a JWK (to sign a revocation with it)."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from josepy.jwk import JWKEC, JWKRSA

    if isinstance(private_key, rsa.RSAPrivateKey):
        return JWKRSA(key=private_key)
    return JWKEC(key=private_key)
