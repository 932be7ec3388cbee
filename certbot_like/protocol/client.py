"""Signed requests to one ACME server: directory, nonces, JWS, accounts (RFC 8555 sec. 7.1-7.3).

Built on ``josepy`` keys and ``acme.jws`` signatures, with our own nonce handling: the nonce of
every response (errors included) is kept, and a ``badNonce`` is retried up to
:data:`MAX_NONCE_ATTEMPTS` times with the fresh nonce it carried.

Every URL the CA hands out, and every URL a request goes to, must be on the directory's
origin or one the operator allowed (:class:`~certbot_like.protocol.origin.OriginPolicy`).
Redirects are never followed for signed requests; a plain GET follows at most
:data:`MAX_REDIRECTS` of them, each within the allowed origins.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from certbot_like.errors import AcmeError, ProtocolViolation, TemporaryAcmeError, UsageError
from certbot_like.protocol.http import HttpResponse, Transport
from certbot_like.protocol.origin import OriginPolicy
from certbot_like.protocol.problems import clean_text, problem_error

logger = logging.getLogger(__name__)

MAX_NONCE_ATTEMPTS = 16
_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,512}$")
JOSE = "application/jose+json"
MAX_REDIRECTS = 3
REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Directory:
    """The CA's directory object (RFC 8555 section 7.1.1), URLs checked to be HTTPS and on
    the allowed origins."""

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
    def parse(
        cls, url: str, data: dict[str, Any], origins: OriginPolicy | None = None
    ) -> Directory:
        """Validate a directory object fetched from *url*.

        Raises:
            ProtocolViolation: a required URL is missing or not HTTPS.
            ForeignOriginError: a URL is not on *origins* (default: *url*'s origin).
        """
        policy = origins or OriginPolicy(url)

        def need(key: str) -> str:
            return policy.check(data.get(key), key)

        def opt(key: str) -> str | None:
            return need(key) if key in data else None

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
            new_nonce=need("newNonce"),
            new_account=need("newAccount"),
            new_order=need("newOrder"),
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
    """One ACME server, one account key; every POST signed and nonce-managed.

    *allow_origins* are the operator's ``--ca-allow-origin`` values, besides the directory
    URL's own origin.

    Raises:
        ConfigError: an *allow_origins* value is not an ``https://host[:port]`` origin.
    """

    def __init__(
        self, transport: Transport, directory_url: str, allow_origins: Iterable[str] = ()
    ) -> None:
        self.transport = transport
        self.directory_url = directory_url
        self.origins = OriginPolicy(directory_url, allow_origins)
        self.allow_origins = tuple(str(o) for o in self.origins.extra)
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
            resp = self.get(self.directory_url, what="the directory")
            if resp.status != 200:
                raise _http_problem(resp, "Fetching the CA's directory failed")
            self._directory = Directory.parse(self.directory_url, resp.json_object(), self.origins)
        return self._directory

    def ca_url(self, url: object, what: str) -> str:
        """*url*, taken from a CA answer, once checked to be HTTPS on an allowed origin.

        Raises:
            ProtocolViolation: the URL is missing, malformed or not HTTPS.
            ForeignOriginError: the URL is on another origin.
        """
        return self.origins.check(url, what)

    def get(self, url: str, *, what: str) -> HttpResponse:
        """An unsigned GET (directory, renewalInfo), following at most
        :data:`MAX_REDIRECTS` redirects, each to an allowed origin.

        Raises:
            ForeignOriginError: *url* or a redirect target is on another origin.
            ProtocolViolation: too many redirects, or a redirect without a valid target.
            TemporaryAcmeError, CaTrustError: the request failed.
        """
        current = self.ca_url(url, what)
        for _ in range(MAX_REDIRECTS + 1):
            resp = self.transport.request("GET", current)
            self._remember_nonce(resp)
            location = resp.header("Location")
            if resp.status not in REDIRECTS or location is None:
                return resp
            current = self.ca_url(urljoin(current, location.strip()), f"a redirect of {what}")
            logger.debug("GET %s redirected to %s", what, current)
        raise ProtocolViolation(
            f"The CA redirected the request for {what} more than {MAX_REDIRECTS} times",
            "Check --server; it should be the final directory URL",
        )

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
        url = self.ca_url(self.directory.new_nonce, "newNonce")
        resp = self.transport.request("HEAD", url)
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
            ForeignOriginError: *url* is not on an allowed origin (nothing is sent).
            ProtocolViolation: the CA answered with a redirect (never followed).
            TemporaryAcmeError: nonces kept being rejected.
        """
        self.ca_url(url, what)
        headers = {"Content-Type": JOSE}
        if accept:
            headers["Accept"] = accept
        for attempt in range(1, MAX_NONCE_ATTEMPTS + 1):
            data = self.sign(url, payload, self._nonce(), embed_jwk=embed_jwk, key=key)
            resp = self.transport.request("POST", url, body=data, headers=headers)
            self._remember_nonce(resp)
            if resp.status in ok:
                return resp
            if resp.status in REDIRECTS:
                raise ProtocolViolation(
                    f"The CA answered {what} with a redirect (HTTP {resp.status})",
                    "Signed requests are never redirected; report this to the CA",
                )
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
        location = self.ca_url(resp.header("Location"), "the account URL")
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
