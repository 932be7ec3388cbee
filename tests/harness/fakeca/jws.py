"""Request authentication, as RFC 8555 section 6.2-6.5 requires it, with josepy.

:func:`parse_jws` checks the flattened JWS shape and the protected header (``alg``,
``nonce``, ``url``, exactly one of ``jwk``/``kid``); :func:`verify_signature` checks the
signature with an algorithm matching the key. :class:`NonceStore` issues nonces and accepts each
once. :func:`verify_eab` checks an External Account Binding (section 7.3.4).
"""

from __future__ import annotations

import binascii
import hmac
import json
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy import b64
from josepy.errors import DeserializationError
from josepy.jwa import JWASignature
from josepy.jwk import JWK

from tests.harness.fakeca.model import Problem

#: Account key algorithms accepted (the ones Boulder accepts).
SIGNATURE_ALGS = ("RS256", "ES256", "ES384", "ES512")
_EC_ALG_CURVE = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
_MAC_ALGS = ("HS256", "HS384", "HS512")
MAX_NONCES = 20000


def b64decode(value: object, what: str) -> bytes:
    """Strict unpadded base64url.

    Raises:
        Problem: malformed.
    """
    if not isinstance(value, str) or "=" in value:
        raise Problem(400, "malformed", f"{what} is not unpadded base64url")
    try:
        return b64.b64decode(value)
    except (ValueError, binascii.Error):
        raise Problem(400, "malformed", f"{what} is not base64url") from None


def b64encode(data: bytes) -> str:
    return b64.b64encode(data).decode("ascii")


class NonceStore:
    """Nonces we issued and that were not used yet (oldest forgotten after MAX_NONCES)."""

    def __init__(self) -> None:
        self._live: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def issue(self) -> str:
        nonce = secrets.token_urlsafe(16)
        with self._lock:
            self._live[nonce] = None
            while len(self._live) > MAX_NONCES:
                self._live.popitem(last=False)
        return nonce

    def redeem(self, nonce: str) -> bool:
        with self._lock:
            return self._live.pop(nonce, 0) is None


@dataclass(frozen=True)
class SignedRequest:
    """A parsed, not yet verified, flattened JWS."""

    protected: dict[str, Any]
    signing_input: bytes
    signature: bytes
    payload_bytes: bytes

    @property
    def alg(self) -> str:
        return str(self.protected["alg"])

    @property
    def payload(self) -> dict[str, Any] | None:
        """None for POST-as-GET (empty payload), else the JSON object.

        Raises:
            Problem: the payload is not a JSON object.
        """
        if self.payload_bytes == b"":
            return None
        try:
            data = json.loads(self.payload_bytes)
        except ValueError:
            raise Problem(400, "malformed", "JWS payload is not JSON") from None
        if not isinstance(data, dict):
            raise Problem(400, "malformed", "JWS payload is not a JSON object")
        return data


def parse_jws(body: bytes, *, mac: bool = False) -> SignedRequest:
    """Parse a flattened JWS (no unprotected header, one signature).

    Raises:
        Problem: malformed, or badSignatureAlgorithm.
    """
    try:
        outer = json.loads(body)
    except ValueError:
        raise Problem(400, "malformed", "Request body is not JSON") from None
    if not isinstance(outer, dict):
        raise Problem(400, "malformed", "Request body is not a JSON object")
    if "signatures" in outer:
        raise Problem(400, "malformed", "JWS must use the flattened JSON serialization")
    if "header" in outer:
        raise Problem(400, "malformed", "JWS must not have an unprotected header")
    for key in ("protected", "payload", "signature"):
        if not isinstance(outer.get(key), str):
            raise Problem(400, "malformed", f"JWS has no {key} member")
    try:
        protected = json.loads(b64decode(outer["protected"], "protected header"))
    except ValueError:
        raise Problem(400, "malformed", "JWS protected header is not JSON") from None
    if not isinstance(protected, dict):
        raise Problem(400, "malformed", "JWS protected header is not an object")
    alg = protected.get("alg")
    allowed = _MAC_ALGS if mac else SIGNATURE_ALGS
    if alg not in allowed:
        raise Problem(
            400,
            "badSignatureAlgorithm",
            f"JWS algorithm {alg!r} is not supported",
            algorithms=list(allowed),
        )
    return SignedRequest(
        protected=protected,
        signing_input=f"{outer['protected']}.{outer['payload']}".encode(),
        signature=b64decode(outer["signature"], "signature"),
        payload_bytes=b64decode(outer["payload"], "payload"),
    )


def load_jwk(raw: object) -> Any:
    """An account public key from its JWK (RSA >= 2048 bits or EC P-256/384/521).

    Raises:
        Problem: malformed or badPublicKey.
    """
    if not isinstance(raw, dict) or raw.get("kty") not in ("RSA", "EC"):
        raise Problem(400, "badPublicKey", "The JWK must be an RSA or EC public key")
    if "d" in raw:
        raise Problem(400, "badPublicKey", "The JWK holds a private key")
    try:
        key = JWK.from_json(raw)
    except (DeserializationError, ValueError, KeyError, TypeError):
        raise Problem(400, "malformed", "The JWK does not parse") from None
    public = raw_key(key)
    if isinstance(public, rsa.RSAPublicKey) and public.key_size < 2048:
        raise Problem(400, "badPublicKey", "RSA account keys must have at least 2048 bits")
    return key


def raw_key(jwk: Any) -> Any:
    """The ``cryptography`` key inside a josepy JWK (josepy wraps it in a ComparableKey)."""
    return getattr(jwk.key, "_wrapped", jwk.key)


def verify_signature(req: SignedRequest, jwk: Any) -> bool:
    """Whether *req* is signed by *jwk* with an algorithm fitting the key."""
    public = raw_key(jwk)
    alg = req.alg
    if alg.startswith("ES"):
        if not isinstance(public, ec.EllipticCurvePublicKey):
            return False
        if public.curve.name != _EC_ALG_CURVE[alg]:
            return False
    elif not isinstance(public, rsa.RSAPublicKey):
        return False
    try:
        jwa = JWASignature.from_json(alg)
        return bool(jwa.verify(public, req.signing_input, req.signature))
    except Exception:  # josepy raises assorted errors for garbage signatures
        return False


def check_header(req: SignedRequest, url: str, *, nonce: bool = True) -> None:
    """``url`` must be the request URL; ``nonce`` present (its freshness is checked apart).

    Raises:
        Problem: unauthorized (wrong URL) or malformed/badNonce.
    """
    if req.protected.get("url") != url:
        raise Problem(403, "unauthorized", f"JWS url {req.protected.get('url')!r} is not {url!r}")
    if nonce and not isinstance(req.protected.get("nonce"), str):
        raise Problem(400, "badNonce", "JWS has no nonce")
    if "jwk" in req.protected and "kid" in req.protected:
        raise Problem(400, "malformed", "JWS must not have both jwk and kid")
    if "jwk" not in req.protected and "kid" not in req.protected:
        raise Problem(400, "malformed", "JWS has neither jwk nor kid")


def verify_eab(binding: object, outer_jwk: dict[str, Any], url: str, keys: dict[str, str]) -> str:
    """Check an ``externalAccountBinding``; returns its key id.

    Raises:
        Problem: malformed or unauthorized.
    """
    if not isinstance(binding, dict):
        raise Problem(400, "malformed", "externalAccountBinding is not a JWS object")
    req = parse_jws(json.dumps(binding).encode(), mac=True)
    if "nonce" in req.protected:
        raise Problem(400, "malformed", "externalAccountBinding must not have a nonce")
    if req.protected.get("url") != url:
        raise Problem(400, "malformed", "externalAccountBinding url is not the newAccount URL")
    kid = req.protected.get("kid")
    if not isinstance(kid, str) or kid not in keys:
        raise Problem(403, "unauthorized", f"externalAccountBinding key id {kid!r} is unknown")
    try:
        inner_jwk = json.loads(req.payload_bytes)
    except ValueError:
        raise Problem(400, "malformed", "externalAccountBinding payload is not JSON") from None
    if inner_jwk != outer_jwk:
        raise Problem(400, "malformed", "externalAccountBinding does not bind the account key")
    secret = b64decode(keys[kid], "the EAB HMAC key")
    expected = JWASignature.from_json(req.alg).sign(secret, req.signing_input)
    if not hmac.compare_digest(expected, req.signature):
        raise Problem(403, "unauthorized", "externalAccountBinding MAC does not verify")
    return kid
