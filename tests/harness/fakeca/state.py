"""Configuration, state and request authentication shared by the fake CA's endpoint handlers."""

from __future__ import annotations

import datetime
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization

from tests.harness.fakeca.faults import Faults
from tests.harness.fakeca.issuer import Hierarchy
from tests.harness.fakeca.jws import (
    NonceStore,
    SignedRequest,
    check_header,
    load_jwk,
    parse_jws,
    raw_key,
    verify_signature,
)
from tests.harness.fakeca.model import Account, Authz, Challenge, IssuedCert, Order, Problem
from tests.harness.leaks import register_secret

JOSE = "application/jose+json"
DEFAULT_PROFILES: Mapping[str, str] = {
    "classic": "The same profile you're accustomed to: 90-day certificates",
    "shortlived": "Short-lived certificates, valid for about six days",
}
DEFAULT_PROFILE_VALIDITY: Mapping[str, datetime.timedelta] = {
    "shortlived": datetime.timedelta(hours=160),
}
_MAILTO = re.compile(r"^mailto:[^@\s,]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
#: Endpoints that may be signed with an embedded ``jwk`` instead of a ``kid``.
JWK_ENDPOINTS = frozenset({"newAccount", "revokeCert"})


@dataclass(frozen=True)
class Authenticated:
    """A verified signed request: the JWS, the signing key, the account (if any)."""

    req: SignedRequest
    jwk: Any
    account: Account | None

    @property
    def payload(self) -> dict[str, Any] | None:
        return self.req.payload

    def owner(self) -> Account:
        """The account (``kid`` requests always have one)."""
        assert self.account is not None
        return self.account


def new_id() -> str:
    return secrets.token_urlsafe(9).replace("-", "a").replace("_", "b")


class CaState:
    """Everything the handlers share. See :class:`tests.harness.fakeca.server.FakeCA`."""

    def __init__(
        self,
        *,
        auto_valid: bool = True,
        validity: datetime.timedelta = datetime.timedelta(days=90),
        profiles: Mapping[str, str] | None = None,
        profile_validity: Mapping[str, datetime.timedelta] | None = None,
        terms_of_service: str | None = "https://fakeca.test/terms/v1",
        require_tos: bool = True,
        eab_keys: Mapping[str, str] | None = None,
        eab_required: bool | None = None,
        alternate_chain: bool = False,
        authz_reuse: bool = False,
        ari: bool = True,
        blocked_names: tuple[str, ...] = ("blocked.test",),
    ) -> None:
        self.auto_valid = auto_valid
        self.validity = validity
        self.profiles = dict(DEFAULT_PROFILES if profiles is None else profiles)
        self.profile_validity = dict(
            DEFAULT_PROFILE_VALIDITY if profile_validity is None else profile_validity
        )
        self.terms_of_service = terms_of_service
        self.require_tos = require_tos and terms_of_service is not None
        self.eab_keys = dict(eab_keys or {})
        for key in self.eab_keys.values():
            register_secret(key)  # every CLI run's output and log is scanned for it
        self.eab_required = bool(self.eab_keys) if eab_required is None else eab_required
        self.alternate_chain = alternate_chain
        self.authz_reuse = authz_reuse
        self.ari = ari
        self.blocked_names = set(blocked_names)

        self.faults = Faults()
        self.hierarchy = Hierarchy()
        self.nonces = NonceStore()
        self.lock = threading.RLock()
        self.base_url = ""  # set by start()
        self.http_port = 0
        self.tls_port = 0
        #: ``_acme-challenge.<name>`` -> TXT values, for dns-01 with ``auto_valid=False``.
        self.txt_records: dict[str, list[str]] = {}
        #: ARI cert id -> (start, end) of the suggested window (datetimes, or raw strings).
        self.ari_window: dict[str, tuple[datetime.datetime | str, datetime.datetime | str]] = {}
        #: ``Retry-After`` of renewalInfo answers.
        self.ari_retry_after: int | str = 21600
        self.ari_explanation_url: str | None = None

        # recordings, for the tests to inspect
        self.accounts: dict[str, Account] = {}
        self.orders: list[Order] = []
        #: Payload of every newOrder request, refused ones included.
        self.new_order_payloads: list[dict[str, Any]] = []
        self.certificates: list[IssuedCert] = []
        #: serial -> revocation reason code.
        self.revoked: dict[int, int] = {}
        #: ARI cert ids an order replaced (or the test marked as replaced).
        self.replaced: set[str] = set()
        self.renewal_info_fetches: list[str] = []
        self.nonces_rejected = 0
        self.validations: list[tuple[str, str, str]] = []  # (type, identifier, token)

        self._by_thumbprint: dict[bytes, Account] = {}
        self._retired: dict[bytes, Account] = {}
        self._orders: dict[str, Order] = {}
        self._authzs: dict[str, Authz] = {}
        self._challenges: dict[str, Challenge] = {}
        self._certs: dict[str, IssuedCert] = {}

    # -- URLs ---------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url + path

    def http_url(self, url: str, name: str, wanted: frozenset[str] | None) -> str:
        """*url* as ``http://`` when the ``http_urls`` fault names *name*."""
        if wanted and name in wanted and url.startswith("https://"):
            return "http://" + url[len("https://") :]
        return url

    def url_shaper(self, endpoint: str) -> Callable[[str, str], str]:
        """How the URLs of one answer on *endpoint* are written: ``shape(url, name)`` applies
        the ``http_urls`` and ``foreign_urls`` faults naming *name* (each read once)."""
        http = self.faults.active("http_urls", endpoint)
        foreign = self.faults.active("foreign_urls", endpoint)
        origin = self.faults.foreign_origin

        def shape(url: str, name: str) -> str:
            if foreign and origin and name in foreign and url.startswith(self.base_url):
                url = origin.rstrip("/") + url[len(self.base_url) :]
            return self.http_url(url, name, http)

        return shape

    # -- lookups --------------------------------------------------------------------------------

    def _get(self, table: Mapping[str, Any], key: str, what: str) -> Any:
        found = table.get(key)
        if found is None:
            raise Problem(404, "malformed", f"No such {what}")
        return found

    @staticmethod
    def _own(account: Account, owner_id: str, what: str) -> None:
        if account.id != owner_id:
            raise Problem(403, "unauthorized", f"This {what} belongs to another account")

    def cert_by_ari_id(self, cert_id: str) -> IssuedCert | None:
        return next((c for c in self.certificates if c.ari_id == cert_id), None)

    # -- authentication (RFC 8555 section 6.2) --------------------------------------------

    def authenticate(
        self, endpoint: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Authenticated:
        """Verify a signed POST: shape, URL, nonce, key or account, signature.

        *headers* has lower-case names.

        Raises:
            Problem: malformed, badNonce, accountDoesNotExist, unauthorized ...
        """
        ctype = (headers.get("content-type") or "").split(";")[0].strip().lower()
        if ctype != JOSE:
            raise Problem(415, "malformed", f"Content-Type must be {JOSE}")
        req = parse_jws(body)
        check_header(req, url)
        nonce = req.protected["nonce"]
        if not self.nonces.redeem(nonce) or self.faults.reject_nonce(endpoint):
            with self.lock:
                self.nonces_rejected += 1
            raise Problem(400, "badNonce", f"JWS has an invalid anti-replay nonce {nonce!r}")
        if "jwk" in req.protected:
            if endpoint not in JWK_ENDPOINTS:
                raise Problem(400, "malformed", "This request must be signed with a kid")
            jwk = load_jwk(req.protected["jwk"])
            if not verify_signature(req, jwk):
                raise Problem(400, "malformed", "JWS verification error")
            with self.lock:
                account = self._by_thumbprint.get(jwk.thumbprint())
            return Authenticated(req, jwk, account)
        if endpoint == "newAccount":
            raise Problem(400, "malformed", "newAccount must be signed with a jwk")
        kid = req.protected["kid"]
        with self.lock:
            account = next((a for a in self.accounts.values() if a.url == kid), None)
        if account is None:
            raise Problem(400, "accountDoesNotExist", f"No account at {kid!r}")
        if not verify_signature(req, account.jwk):
            if any(verify_signature(req, old) for old in self._old_keys(account)):
                raise Problem(403, "unauthorized", "This key was rolled over; use the new key")
            raise Problem(400, "malformed", "JWS verification error")
        if account.status != "valid":
            raise Problem(403, "unauthorized", f"The account is {account.status}")
        return Authenticated(req, account.jwk, account)

    def _old_keys(self, account: Account) -> list[Any]:
        with self.lock:
            return list(account.old_jwks)

    # -- account helpers ------------------------------------------------------------------------

    @staticmethod
    def check_contact(raw: object) -> list[str]:
        """RFC 8555 section 7.3: a list of ``mailto:`` URLs.

        Raises:
            Problem: unsupportedContact or invalidContact.
        """
        if raw is None:
            return []
        if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
            raise Problem(400, "malformed", "contact must be a list of strings")
        for contact in raw:
            if not contact.startswith("mailto:"):
                raise Problem(400, "unsupportedContact", f"Only mailto: contacts: {contact!r}")
            if not _MAILTO.match(contact):
                raise Problem(400, "invalidContact", f"Invalid contact {contact!r}")
        return list(raw)

    @staticmethod
    def public_der(jwk: Any) -> bytes:
        der: bytes = raw_key(jwk).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return der
