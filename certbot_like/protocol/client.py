"""Signed requests to one ACME server: directory, nonces, JWS, accounts (RFC 8555 sec. 7.1-7.3).

Built on ``josepy`` keys and ``acme.jws`` signatures, with our own nonce handling: the nonce of
every response (errors included) is kept, and a ``badNonce`` is retried up to
:data:`MAX_NONCE_ATTEMPTS` times with the fresh nonce it carried.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from certbot_like.errors import AcmeError, ProtocolViolation, TemporaryAcmeError, UsageError
from certbot_like.protocol.http import HttpResponse, Transport, require_https
from certbot_like.protocol.problems import clean_text, problem_error

logger = logging.getLogger(__name__)

MAX_NONCE_ATTEMPTS = 16
_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,512}$")
JOSE = "application/jose+json"


@dataclass(frozen=True)
class Directory:
    """The CA's directory object (RFC 8555 section 7.1.1), URLs checked to be HTTPS."""

    url: str
    new_nonce: str
    new_account: str
    new_order: str
    revoke_cert: str | None
    key_change: str | None
    renewal_info: str | None
    terms_of_service: str | None
    eab_required: bool
    profiles: Mapping[str, str]
    raw: Mapping[str, Any]

    @classmethod
    def parse(cls, url: str, data: dict[str, Any]) -> Directory:
        """Validate a directory object.

        Raises:
            ProtocolViolation: a required URL is missing or not HTTPS.
        """

        def opt(key: str) -> str | None:
            return require_https(data[key], key) if key in data else None

        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        assert isinstance(meta, dict)
        profiles_raw = meta.get("profiles")
        profiles = (
            {str(k): clean_text(v) for k, v in profiles_raw.items()}
            if isinstance(profiles_raw, dict)
            else {}
        )
        tos = meta.get("termsOfService")
        return cls(
            url=url,
            new_nonce=require_https(data.get("newNonce"), "newNonce"),
            new_account=require_https(data.get("newAccount"), "newAccount"),
            new_order=require_https(data.get("newOrder"), "newOrder"),
            revoke_cert=opt("revokeCert"),
            key_change=opt("keyChange"),
            renewal_info=opt("renewalInfo"),
            terms_of_service=tos if isinstance(tos, str) else None,
            eab_required=meta.get("externalAccountRequired") is True,
            profiles=profiles,
            raw=data,
        )


def jws_alg_for(jwk: Any) -> Any:
    """The JWS algorithm matching an account key (ES256/384/512 or RS256)."""
    from josepy.jwa import ES256, ES384, ES512, RS256
    from josepy.jwk import JWKEC

    if isinstance(jwk, JWKEC):
        size = jwk.key.curve.key_size
        return {256: ES256, 384: ES384, 521: ES512}[size]
    return RS256


class AcmeClient:
    """One ACME server, one account key; every POST signed and nonce-managed."""

    def __init__(self, transport: Transport, directory_url: str) -> None:
        self.transport = transport
        self.directory_url = directory_url
        self._directory: Directory | None = None
        self._nonces: list[str] = []
        self.key: Any = None  # josepy.JWK
        self.kid: str | None = None

    def use_directory(self, directory: Directory) -> None:
        """Reuse a directory another client already fetched from the same server."""
        self._directory = directory

    def set_account(self, key: Any, kid: str | None) -> None:
        """Use *key* (a josepy JWK) and the account URL *kid* for signing."""
        self.key, self.kid = key, kid

    @property
    def directory(self) -> Directory:
        """The directory, fetched once per process.

        Raises:
            AcmeError: the directory cannot be fetched or is malformed.
        """
        if self._directory is None:
            resp = self.transport.request("GET", self.directory_url)
            self._remember_nonce(resp)
            if resp.status != 200:
                raise _http_problem(resp, "Fetching the CA's directory failed")
            self._directory = Directory.parse(self.directory_url, resp.json_object())
        return self._directory

    # -- nonces ---------------------------------------------------------------------------

    def _remember_nonce(self, resp: HttpResponse) -> None:
        nonce = resp.header("Replay-Nonce")
        if nonce is None:
            return
        if _NONCE.match(nonce):
            self._nonces.append(nonce)
        else:
            logger.debug("Ignoring malformed Replay-Nonce from %s", resp.url)

    def _nonce(self) -> str:
        if self._nonces:
            return self._nonces.pop()
        resp = self.transport.request("HEAD", self.directory.new_nonce)
        if resp.status not in (200, 204):
            raise _http_problem(resp, "Getting a nonce from the CA failed")
        nonce = resp.header("Replay-Nonce")
        if nonce is None or not _NONCE.match(nonce):
            raise ProtocolViolation(
                "The CA's newNonce answer has no valid Replay-Nonce header",
                "Check --server; the CA is not following RFC 8555",
            )
        return nonce

    # -- signing --------------------------------------------------------------------------

    def sign(
        self,
        url: str,
        payload: Mapping[str, Any] | None,
        nonce: str,
        *,
        embed_jwk: bool = False,
        key: Any = None,
    ) -> bytes:
        """A flattened JWS of *payload* (None = POST-as-GET) for *url*."""
        from acme import jws
        from josepy.json_util import decode_b64jose

        signer = key if key is not None else self.key
        if signer is None:
            raise UsageError("No account key is loaded", "Register an account first")
        body = b"" if payload is None else json.dumps(payload).encode()
        kid = None if embed_jwk else self.kid
        if kid is None and not embed_jwk:
            raise UsageError("No account is registered with this CA", "Run `certbot-like register`")
        signed = jws.JWS.sign(
            body,
            key=signer,
            alg=jws_alg_for(signer),
            nonce=decode_b64jose(nonce),
            url=url,
            kid=kid,
        )
        return str(signed.json_dumps()).encode()

    def post(
        self,
        url: str,
        payload: Mapping[str, Any] | None,
        *,
        what: str,
        embed_jwk: bool = False,
        accept: str | None = None,
        ok: tuple[int, ...] = (200, 201),
        key: Any = None,
    ) -> HttpResponse:
        """POST a signed request; retry ``badNonce`` with fresh nonces.

        *key* signs instead of the account key (with *embed_jwk*: a certificate's key, RFC 8555
        section 7.6).

        Raises:
            AcmeError: the CA answered with a problem (typed by :func:`problem_error`).
            TemporaryAcmeError: nonces kept being rejected.
        """
        require_https(url, what)
        headers = {"Content-Type": JOSE}
        if accept:
            headers["Accept"] = accept
        for attempt in range(1, MAX_NONCE_ATTEMPTS + 1):
            data = self.sign(url, payload, self._nonce(), embed_jwk=embed_jwk, key=key)
            resp = self.transport.request("POST", url, body=data, headers=headers)
            self._remember_nonce(resp)
            if resp.status in ok:
                return resp
            problem = _problem_json(resp)
            if isinstance(problem, dict) and str(problem.get("type", "")).endswith(":badNonce"):
                logger.debug("badNonce on attempt %d for %s", attempt, what)
                continue
            raise problem_error(
                problem,
                status=resp.status,
                retry_after=resp.header("Retry-After"),
                context=f"The CA refused {what}",
            )
        raise TemporaryAcmeError(
            f"The CA rejected {MAX_NONCE_ATTEMPTS} nonces in a row during {what}",
            "The CA is misbehaving or overloaded; try again later",
        )

    def post_as_get(self, url: str, *, what: str, accept: str | None = None) -> HttpResponse:
        """POST-as-GET (RFC 8555 section 6.3).

        Raises:
            AcmeError: the CA answered with a problem.
        """
        return self.post(url, None, what=what, accept=accept, ok=(200,))

    # -- accounts (RFC 8555 section 7.3) ----------------------------------------------------

    def new_account(
        self,
        contact: list[str],
        tos_agreed: bool,
        eab: tuple[str, str, str] | None = None,
        only_existing: bool = False,
    ) -> tuple[str, dict[str, Any]]:
        """Create (or with *only_existing*, look up) the account of the loaded key.

        *eab* is ``(kid, base64url HMAC key, HS256|HS384|HS512)``.

        Returns:
            The account URL and the account object.

        Raises:
            AcmeError: the CA refused (EAB required, ToS, malformed contact ...).
            ProtocolViolation: no account URL in the answer.
        """
        payload: dict[str, Any] = {}
        if only_existing:
            payload["onlyReturnExisting"] = True
        else:
            payload["contact"] = contact
            payload["termsOfServiceAgreed"] = tos_agreed
            if eab is not None:
                payload["externalAccountBinding"] = self._eab(*eab)
        url = self.directory.new_account
        resp = self.post(url, payload, what="the account registration", embed_jwk=True)
        location = require_https(resp.header("Location"), "the account URL")
        body = resp.json_object()
        self.kid = location
        return location, body

    def _eab(self, kid: str, hmac_b64: str, alg_name: str) -> dict[str, Any]:
        from acme import jws
        from josepy.b64 import b64decode
        from josepy.jwa import HS256, HS384, HS512
        from josepy.jwk import JWKOct

        algs = {"HS256": HS256, "HS384": HS384, "HS512": HS512}
        if alg_name not in algs:
            raise UsageError(f"Unknown --eab-hmac-alg {alg_name!r}", "Use HS256, HS384 or HS512")
        try:
            secret = b64decode(hmac_b64.strip())
        except (ValueError, TypeError):
            raise UsageError(
                "--eab-hmac-key is not base64url", "Copy the HMAC key exactly as the CA gave it"
            ) from None
        if not secret:
            raise UsageError("--eab-hmac-key is empty", "Copy the HMAC key the CA gave you")
        public = json.dumps(self.key.public_key().to_partial_json()).encode()
        signed = jws.JWS.sign(
            public,
            key=JWKOct(key=secret),
            alg=algs[alg_name],
            nonce=None,
            url=self.directory.new_account,
            kid=kid,
        )
        result: dict[str, Any] = json.loads(signed.json_dumps())
        return result

    def update_account(self, payload: Mapping[str, Any], what: str) -> dict[str, Any]:
        """POST an account update (contact change, deactivation).

        Raises:
            AcmeError: the CA refused.
        """
        if self.kid is None:
            raise UsageError("No account is registered with this CA", "Run `certbot-like register`")
        return self.post(self.kid, payload, what=what).json_object()

    # -- revocation and key change (RFC 8555 sections 7.6 and 7.3.5) ---------------------

    def revoke(self, cert_der: bytes, reason: int, *, cert_key: Any | None = None) -> None:
        """Revoke a certificate (RFC 8555 section 7.6).

        Signed with the account key (``kid``), or, with *cert_key* (a josepy JWK of the
        certificate's own private key), by that key with the public key embedded as ``jwk``.

        Raises:
            AcmeError: the CA refused (``alreadyRevoked``, ``unauthorized``,
                ``badRevocationReason`` ...) or offers no ``revokeCert``.
            UsageError: no account is loaded and no *cert_key* was given.
        """
        from josepy.json_util import encode_b64jose

        url = self.directory.revoke_cert
        if url is None:
            raise AcmeError(
                "The CA offers no certificate revocation (no revokeCert in its directory)",
                "Ask the CA how to revoke the certificate",
            )
        payload = {"certificate": encode_b64jose(cert_der), "reason": reason}
        if cert_key is not None:
            self.post(url, payload, what="the revocation", embed_jwk=True, key=cert_key, ok=(200,))
        else:
            self.post(url, payload, what="the revocation", ok=(200,))

    def key_change(self, new_key: Any) -> None:
        """Replace the account key with *new_key* (RFC 8555 section 7.3.5).

        The inner JWS is signed by *new_key* (``jwk`` = its public key, ``url`` = keyChange,
        no nonce) over ``{"account": kid, "oldKey": old public JWK}``; the outer JWS is an
        ordinary request signed by the current key with ``kid``. On success the client signs
        with *new_key* from then on.

        Raises:
            AcmeError: the CA refused (new key in use by another account, malformed ...) or
                offers no ``keyChange``.
            TemporaryAcmeError: no answer; the CA may or may not have switched keys.
            UsageError: no account is loaded.
        """
        from acme import jws

        if self.key is None or self.kid is None:
            raise UsageError("No account is registered with this CA", "Run `certbot-like register`")
        url = self.directory.key_change
        if url is None:
            raise AcmeError(
                "The CA does not support account key changes (no keyChange in its directory)",
                "Keep the current key, or register a new account",
            )
        inner_payload = {"account": self.kid, "oldKey": self.key.public_key().to_partial_json()}
        inner = jws.JWS.sign(
            json.dumps(inner_payload).encode(),
            key=new_key,
            alg=jws_alg_for(new_key),
            nonce=None,
            url=url,
            kid=None,
        )
        payload: dict[str, Any] = json.loads(inner.json_dumps())
        self.post(url, payload, what="the account key change", ok=(200,))
        self.key = new_key


def _problem_json(resp: HttpResponse) -> Any:
    try:
        return json.loads(resp.body) if resp.body else None
    except ValueError:
        return None


def _http_problem(resp: HttpResponse, context: str) -> AcmeError:
    return problem_error(
        _problem_json(resp),
        status=resp.status,
        retry_after=resp.header("Retry-After"),
        context=context,
    )
