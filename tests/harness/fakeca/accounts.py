"""Directory, nonces, accounts, key change, revocation and renewalInfo handlers."""

from __future__ import annotations

import datetime
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.harness.fakeca.jws import b64decode, load_jwk, parse_jws, verify_eab, verify_signature
from tests.harness.fakeca.model import Account, Problem, Reply, rfc3339, utcnow
from tests.harness.fakeca.state import Authenticated, CaState, new_id

#: Revocation reasons accepted (RFC 5280 codes; Boulder's set).
REVOCATION_REASONS = frozenset({0, 1, 3, 4, 5})
_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


class AccountHandlers(CaState):
    """RFC 8555 sections 7.1.1, 7.2, 7.3, 7.6 and RFC 9773."""

    def h_directory(self) -> Reply:
        shape = self.url_shaper("directory")
        doc: dict[str, Any] = {
            "newNonce": self.url("/nonce"),
            "newAccount": self.url("/new-account"),
            "newOrder": self.url("/new-order"),
            "revokeCert": self.url("/revoke-cert"),
            "keyChange": self.url("/key-change"),
        }
        if self.ari:
            doc["renewalInfo"] = self.url("/renewal-info")
        doc = {k: shape(v, k) for k, v in doc.items()}
        meta: dict[str, Any] = {
            "website": "https://fakeca.test/",
            "caaIdentities": ["fakeca.test"],
            "externalAccountRequired": self.eab_required,
        }
        if self.terms_of_service:
            meta["termsOfService"] = self.terms_of_service
        if self.profiles:
            meta["profiles"] = dict(self.profiles)
        doc["meta"] = meta
        return Reply(200, doc)

    def h_new_nonce(self, method: str) -> Reply:
        reply = Reply(200 if method == "HEAD" else 204, None)
        reply.headers.append(("Cache-Control", "no-store"))
        return reply

    def h_terms(self) -> Reply:
        return Reply(200, b"Fake ACME CA terms: anything goes.\n", "text/plain")

    # -- accounts -------------------------------------------------------------------------------

    def h_new_account(self, auth: Authenticated) -> Reply:
        payload = auth.payload or {}
        thumb = auth.jwk.thumbprint()
        with self.lock:
            if thumb in self._retired:
                raise Problem(403, "unauthorized", "This key was rolled over and is retired")
            existing = auth.account
        if existing is not None:
            return Reply(200, existing.document(), headers=[("Location", existing.url)])
        if payload.get("onlyReturnExisting") is True:
            raise Problem(400, "accountDoesNotExist", "No account exists with this key")
        if self.require_tos and payload.get("termsOfServiceAgreed") is not True:
            raise Problem(400, "malformed", "You must agree to the terms of service")
        contact = self.check_contact(payload.get("contact"))
        binding = payload.get("externalAccountBinding")
        eab_kid = None
        if binding is not None and self.eab_keys:
            eab_kid = verify_eab(
                binding, auth.req.protected["jwk"], self.url("/new-account"), self.eab_keys
            )
        elif self.eab_required:
            raise Problem(
                403, "externalAccountRequired", "This CA requires an external account binding"
            )
        ident = new_id()
        account = Account(
            id=ident,
            url=self.url(f"/acct/{ident}"),
            jwk=auth.jwk,
            thumbprint=thumb,
            contact=contact,
            tos_agreed=payload.get("termsOfServiceAgreed") is True,
            eab_kid=eab_kid,
        )
        with self.lock:
            if thumb in self._by_thumbprint:  # a concurrent registration won the race
                other = self._by_thumbprint[thumb]
                return Reply(200, other.document(), headers=[("Location", other.url)])
            self.accounts[ident] = account
            self._by_thumbprint[thumb] = account
        location = self.url_shaper("newAccount")(account.url, "account")
        return Reply(201, account.document(), headers=[("Location", location)])

    def h_account(self, auth: Authenticated, ident: str) -> Reply:
        account = auth.owner()
        self._own(account, ident, "account")
        payload = auth.payload or {}
        with self.lock:
            if "status" in payload:
                if payload["status"] != "deactivated":
                    raise Problem(400, "malformed", "Only status 'deactivated' may be requested")
                account.status = "deactivated"
            if "contact" in payload:
                account.contact = self.check_contact(payload["contact"])
            if payload.get("termsOfServiceAgreed") is True:
                account.tos_agreed = True
            return Reply(200, account.document(), headers=[("Location", account.url)])

    def h_orders(self, auth: Authenticated, ident: str) -> Reply:
        account = auth.owner()
        self._own(account, ident, "account")
        return Reply(200, {"orders": list(account.order_urls)})

    def h_key_change(self, auth: Authenticated) -> Reply:
        """RFC 8555 section 7.3.5: the inner JWS, signed by the new key, names the account
        and the old key; afterwards the old key is refused."""
        account = auth.owner()
        outer_url = self.url("/key-change")
        inner = parse_jws(json.dumps(auth.payload or {}).encode())
        if "nonce" in inner.protected or "kid" in inner.protected:
            raise Problem(400, "malformed", "The inner JWS must have a jwk and no nonce or kid")
        if inner.protected.get("url") != outer_url:
            raise Problem(400, "malformed", "The inner JWS url is not the keyChange URL")
        new_jwk = load_jwk(inner.protected.get("jwk"))
        if not verify_signature(inner, new_jwk):
            raise Problem(400, "malformed", "The inner JWS is not signed by its jwk")
        body = inner.payload or {}
        if body.get("account") != account.url:
            raise Problem(400, "malformed", "The inner payload names another account")
        if load_jwk(body.get("oldKey")).thumbprint() != account.thumbprint:
            raise Problem(400, "malformed", "oldKey is not the account's current key")
        new_thumb = new_jwk.thumbprint()
        with self.lock:
            other = self._by_thumbprint.get(new_thumb)
            if other is not None:
                raise Problem(
                    409,
                    "conflict",
                    "The new key belongs to an existing account",
                    headers={"Location": other.url},
                )
            del self._by_thumbprint[account.thumbprint]
            self._retired[account.thumbprint] = account
            account.old_jwks.append(account.jwk)
            account.jwk, account.thumbprint = new_jwk, new_thumb
            self._by_thumbprint[new_thumb] = account
            return Reply(200, account.document(), headers=[("Location", account.url)])

    # -- revocation (section 7.6) ---------------------------------------------------------------

    def h_revoke(self, auth: Authenticated) -> Reply:
        payload = auth.payload or {}
        der = b64decode(payload.get("certificate"), "certificate")
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            raise Problem(400, "malformed", "The certificate does not parse") from None
        reason = payload.get("reason", 0)
        if not isinstance(reason, int) or isinstance(reason, bool):
            raise Problem(400, "malformed", "reason must be an integer")
        if reason not in REVOCATION_REASONS:
            raise Problem(400, "badRevocationReason", f"Reason {reason} is not accepted")
        with self.lock:
            issued = next((c for c in self.certificates if c.leaf == cert), None)
            if issued is None:
                raise Problem(404, "malformed", "This CA did not issue that certificate")
            if "jwk" in auth.req.protected:  # signed with the certificate's own key
                if self.public_der(auth.jwk) != issued.leaf.public_key().public_bytes(*_SPKI):
                    raise Problem(403, "unauthorized", "The JWK is not the certificate's key")
            elif auth.owner().id != issued.account_id:
                raise Problem(403, "unauthorized", "The account did not order this certificate")
            if issued.serial in self.revoked:
                raise Problem(400, "alreadyRevoked", "The certificate was already revoked")
            self.revoked[issued.serial] = reason
        return Reply(200, None)

    # -- renewal information (RFC 9773) ---------------------------------------------------------

    def h_renewal_info(self, cert_id: str) -> Reply:
        aki_b64, dot, serial_b64 = cert_id.partition(".")
        if not dot or not aki_b64 or not serial_b64:
            raise Problem(400, "malformed", "A certificate id is base64url(AKI).base64url(serial)")
        b64decode(aki_b64, "the AKI part")
        b64decode(serial_b64, "the serial part")
        with self.lock:
            self.renewal_info_fetches.append(cert_id)
            window = self.ari_window.get(cert_id)
            issued = self.cert_by_ari_id(cert_id)
            if window is None and issued is not None:
                window = self._default_window(issued.leaf, issued.serial in self.revoked)
        if window is None:
            raise Problem(404, "malformed", "No certificate with this id")
        start, end = (w if isinstance(w, str) else rfc3339(w) for w in window)
        doc: dict[str, Any] = {"suggestedWindow": {"start": start, "end": end}}
        if self.ari_explanation_url:
            doc["explanationURL"] = self.ari_explanation_url
        return Reply(200, doc, headers=[("Retry-After", str(self.ari_retry_after))])

    @staticmethod
    def _default_window(
        leaf: x509.Certificate, revoked: bool
    ) -> tuple[datetime.datetime, datetime.datetime]:
        """Two thirds into the lifetime to five sixths (in the past once revoked)."""
        if revoked:
            now = utcnow()
            return now - datetime.timedelta(hours=2), now - datetime.timedelta(hours=1)
        start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
        life = end - start
        return start + life * 2 / 3, start + life * 5 / 6
