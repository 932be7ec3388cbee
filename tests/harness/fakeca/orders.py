"""Orders, authorizations, challenges, finalization and download (RFC 8555 section 7.4-7.5)."""

from __future__ import annotations

import datetime
import ipaddress
import re
import secrets
import threading
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.harness.fakeca.accounts import AccountHandlers
from tests.harness.fakeca.issuer import ari_cert_id, parse_csr
from tests.harness.fakeca.jws import b64decode, b64encode
from tests.harness.fakeca.model import (
    Account,
    Authz,
    Challenge,
    IssuedCert,
    Order,
    Problem,
    Reply,
    rfc3339,
    utcnow,
)
from tests.harness.fakeca.state import Authenticated, new_id
from tests.harness.fakeca.validation import validate_dns01, validate_http01, validate_tls_alpn01

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
LIFETIME = datetime.timedelta(days=7)
MAX_IDENTIFIERS = 100
FAILED = ("invalid", "deactivated", "expired", "revoked")


def check_identifier(raw: object, blocked: set[str]) -> dict[str, str]:
    """One order identifier, normalised (lower case DNS, compressed IP).

    Raises:
        Problem: malformed, unsupportedIdentifier or rejectedIdentifier.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("value"), str):
        raise Problem(400, "malformed", "An identifier must be {type, value}")
    kind, value = raw.get("type"), str(raw["value"])
    if kind == "ip":
        try:
            return {"type": "ip", "value": ipaddress.ip_address(value).compressed}
        except ValueError:
            raise Problem(400, "malformed", f"{value!r} is not an IP address") from None
    if kind != "dns":
        raise Problem(400, "unsupportedIdentifier", f"Identifier type {kind!r} is unsupported")
    name = value.lower()
    base = name[2:] if name.startswith("*.") else name
    labels = base.split(".")
    if len(base) > 253 or len(labels) < 2 or not all(_LABEL.match(lb) for lb in labels):
        raise Problem(400, "rejectedIdentifier", f"Invalid DNS name {value!r}")
    if any(base == b or base.endswith("." + b) for b in blocked):
        raise Problem(400, "rejectedIdentifier", f"Policy forbids issuing for {value!r}")
    return {"type": "dns", "value": name}


class OrderHandlers(AccountHandlers):
    """The issuance half of the CA."""

    # -- newOrder -------------------------------------------------------------------------------

    def h_new_order(self, auth: Authenticated) -> Reply:
        account = auth.owner()
        payload = auth.payload or {}
        with self.lock:
            self.new_order_payloads.append(payload)
        raw = payload.get("identifiers")
        if not isinstance(raw, list) or not raw or len(raw) > MAX_IDENTIFIERS:
            raise Problem(400, "malformed", "identifiers must be a non-empty list")
        identifiers: list[dict[str, str]] = []
        for item in raw:
            ident = check_identifier(item, self.blocked_names)
            if ident not in identifiers:
                identifiers.append(ident)
        names = [i["value"] for i in identifiers]
        only = self.faults.rate_limited_identifier
        if only is None or only in names:
            retry = self.faults.active("rate_limited", "newOrder")
            if retry is not None:
                raise Problem(
                    429,
                    "rateLimited",
                    f"Too many new orders for {', '.join(names)}",
                    headers={"Retry-After": str(retry)},
                )
        if "notBefore" in payload or "notAfter" in payload:
            raise Problem(400, "malformed", "notBefore and notAfter are not supported")
        profile = payload.get("profile")
        if profile is not None and (not isinstance(profile, str) or profile not in self.profiles):
            raise Problem(400, "invalidProfile", f"Profile {profile!r} is not offered")
        replaces = payload.get("replaces")
        if replaces is not None:
            self._check_replaces(account, replaces, names)
        with self.lock:
            authz_ids = [self._authz_for(account, ident).id for ident in identifiers]
            order_id = new_id()
            order = Order(
                id=order_id,
                url=self.url(f"/order/{order_id}"),
                account_id=account.id,
                identifiers=identifiers,
                profile=profile,
                replaces=replaces,
                authz_ids=authz_ids,
                expires=utcnow() + LIFETIME,
                payload=payload,
            )
            self.orders.append(order)
            self._orders[order_id] = order
            account.order_urls.append(order.url)
            self._refresh(order)
            doc = self._order_doc(order, "newOrder")
        location = self.url_shaper("newOrder")(order.url, "order")
        return Reply(201, doc, headers=[("Location", location)])

    def _check_replaces(self, account: Account, replaces: object, names: list[str]) -> None:
        if not isinstance(replaces, str) or "." not in replaces:
            raise Problem(400, "malformed", "replaces must be an ARI certificate id")
        with self.lock:
            if replaces in self.replaced:
                raise Problem(409, "alreadyReplaced", f"Certificate {replaces} was replaced")
            old = self.cert_by_ari_id(replaces)
        if old is None:
            return  # unknown ids are accepted (the test may script them via ari_window)
        if old.account_id != account.id:
            raise Problem(403, "unauthorized", "The replaced certificate is another account's")
        order = self._orders[old.order_id]
        if not set(order.names) & set(names):
            raise Problem(400, "malformed", "The replaced certificate shares no identifier")

    def _authz_for(self, account: Account, ident: dict[str, str]) -> Authz:
        wildcard = ident["value"].startswith("*.")
        value = ident["value"][2:] if wildcard else ident["value"]
        now = utcnow()
        if self.authz_reuse:
            for authz in self._authzs.values():
                if (authz.account_id, authz.kind, authz.value, authz.wildcard) == (
                    account.id,
                    ident["type"],
                    value,
                    wildcard,
                ) and (authz.status == "valid" and authz.expires > now):
                    return authz
        foreign = self.faults.active("foreign_identifier", "authz")
        authz_id = new_id()
        authz = Authz(
            id=authz_id,
            url=self.url(f"/authz/{authz_id}"),
            account_id=account.id,
            kind=ident["type"],
            value=str(foreign) if foreign is not None else value,
            wildcard=wildcard,
            expires=now + LIFETIME,
        )
        if wildcard:
            kinds = ["dns-01"]
        elif ident["type"] == "ip":
            kinds = ["http-01", "tls-alpn-01"]
        else:
            kinds = ["http-01", "dns-01", "tls-alpn-01"]
        for kind in kinds:
            token = self.faults.active("token", "challenge")
            chall_id = new_id()
            chall = Challenge(
                id=chall_id,
                url=self.url(f"/chall/{chall_id}"),
                type=kind,
                token=str(token) if token is not None else secrets.token_urlsafe(32),
                authz_id=authz_id,
            )
            authz.challenges.append(chall)
            self._challenges[chall_id] = chall
        self._authzs[authz_id] = authz
        return authz

    # -- documents ------------------------------------------------------------------------------

    def _refresh(self, order: Order) -> None:
        if order.status != "pending":
            return
        authzs = [self._authzs[a] for a in order.authz_ids]
        failed = [a for a in authzs if a.status in FAILED]
        if failed:
            order.status = "invalid"
            errors = [c.error for a in failed for c in a.challenges if c.error is not None]
            order.error = (
                errors[0]
                if errors
                else {
                    "type": "urn:ietf:params:acme:error:unauthorized",
                    "detail": f"Authorization for {failed[0].identifier} is {failed[0].status}",
                    "status": 403,
                }
            )
        elif all(a.status == "valid" for a in authzs):
            order.status = "ready"

    def _order_doc(self, order: Order, endpoint: str) -> dict[str, Any]:
        shape = self.url_shaper(endpoint)
        doc: dict[str, Any] = {
            "status": order.status,
            "expires": rfc3339(order.expires),
            "identifiers": order.identifiers,
            "authorizations": [
                shape(self._authzs[a].url, "authorizations") for a in order.authz_ids
            ],
            "finalize": shape(self.url(f"/finalize/{order.id}"), "finalize"),
        }
        if order.profile is not None:
            doc["profile"] = order.profile
        if order.replaces is not None:
            doc["replaces"] = order.replaces
        if order.status == "valid" and order.cert_id is not None:
            cert_url = self._certs[order.cert_id].url
            doc["certificate"] = shape(cert_url, "certificate")
        if order.error is not None:
            doc["error"] = order.error
        return doc

    def _authz_doc(self, authz: Authz, endpoint: str) -> dict[str, Any]:
        shape = self.url_shaper(endpoint)
        challenges = authz.challenges
        if authz.status == "valid":
            challenges = [c for c in challenges if c.status == "valid"]
        docs = []
        for chall in challenges:
            doc = chall.document()
            doc["url"] = shape(doc["url"], "challenge")
            docs.append(doc)
        result: dict[str, Any] = {
            "identifier": {"type": authz.kind, "value": authz.value},
            "status": authz.status,
            "expires": rfc3339(authz.expires),
            "challenges": docs,
        }
        if authz.wildcard:
            result["wildcard"] = True
        return result

    def _retry_after(self, reply: Reply, endpoint: str) -> Reply:
        value = self.faults.active("retry_after", endpoint)
        if value is not None:
            reply.headers.append(("Retry-After", str(value)))
        return reply

    # -- order, authorization, challenge ----------------------------------------------------------

    def h_order(self, auth: Authenticated, ident: str) -> Reply:
        with self.lock:
            order: Order = self._get(self._orders, ident, "order")
            self._own(auth.owner(), order.account_id, "order")
            self._refresh(order)
            if order.status == "processing":
                if self.faults.active("stuck_processing", "order"):
                    pass
                elif order.polls_left > 0:
                    order.polls_left -= 1
                else:
                    order.status = "valid"
            doc = self._order_doc(order, "order")
        return self._retry_after(Reply(200, doc), "order")

    def h_authz(self, auth: Authenticated, ident: str) -> Reply:
        with self.lock:
            authz: Authz = self._get(self._authzs, ident, "authorization")
            self._own(auth.owner(), authz.account_id, "authorization")
            payload = auth.payload
            if payload is not None and "status" in payload:
                if payload["status"] != "deactivated" or authz.status not in ("pending", "valid"):
                    raise Problem(400, "malformed", f"Cannot deactivate a {authz.status} authz")
                authz.status = "deactivated"
            return Reply(200, self._authz_doc(authz, "authz"))

    def h_challenge(self, auth: Authenticated, ident: str) -> Reply:
        account = auth.owner()
        with self.lock:
            chall: Challenge = self._get(self._challenges, ident, "challenge")
            authz = self._authzs[chall.authz_id]
            self._own(account, authz.account_id, "challenge")
            start = auth.payload is not None and chall.status == authz.status == "pending"
            if start:
                chall.status = "processing"
                self.validations.append((chall.type, authz.identifier, chall.token))
                key_auth = f"{chall.token}.{b64encode(account.thumbprint)}"
                if self.auto_valid:
                    self._settle(chall, authz, None)
                else:
                    threading.Thread(
                        target=self._validate, args=(chall, authz, key_auth), daemon=True
                    ).start()
            doc = chall.document()
        return Reply(200, doc, headers=[("Link", f'<{authz.url}>;rel="up"')])

    def _validate(self, chall: Challenge, authz: Authz, key_auth: str) -> None:
        try:
            if chall.type == "http-01":
                problem = validate_http01(self.http_port, authz.value, chall.token, key_auth)
            elif chall.type == "tls-alpn-01":
                problem = validate_tls_alpn01(self.tls_port, authz.value, key_auth)
            else:
                problem = validate_dns01(self.txt_records, authz.value, key_auth)
        except Exception as exc:  # a validator bug must fail the challenge, not hang it
            problem = {
                "type": "urn:ietf:params:acme:error:serverInternal",
                "detail": f"validation crashed: {exc!r}",
                "status": 500,
            }
        with self.lock:
            self._settle(chall, authz, problem)

    @staticmethod
    def _settle(chall: Challenge, authz: Authz, problem: dict[str, Any] | None) -> None:
        if problem is None:
            chall.status, chall.validated = "valid", utcnow()
            authz.status = "valid"
        else:
            chall.status, chall.error = "invalid", problem
            authz.status = "invalid"

    # -- finalize and download ------------------------------------------------------------------

    def h_finalize(self, auth: Authenticated, ident: str) -> Reply:
        account = auth.owner()
        with self.lock:
            order: Order = self._get(self._orders, ident, "order")
            self._own(account, order.account_id, "order")
            self._refresh(order)
            if order.status != "ready":
                raise Problem(403, "orderNotReady", f"The order is {order.status}, not ready")
        der = b64decode((auth.payload or {}).get("csr"), "csr")
        csr = parse_csr(der, self.public_der(account.jwk))
        want_dns = tuple(sorted(i["value"] for i in order.identifiers if i["type"] == "dns"))
        want_ips = tuple(sorted(i["value"] for i in order.identifiers if i["type"] == "ip"))
        if (csr.dns, csr.ips) != (want_dns, want_ips):
            raise Problem(400, "badCSR", "The CSR's names differ from the order's identifiers")
        validity = self.profile_validity.get(order.profile or "", self.validity)
        public_key = csr.public_key
        if self.faults.active("cert_wrong_key", "finalize"):
            public_key = ec.generate_private_key(ec.SECP256R1()).public_key()
        dns, ips = csr.dns, csr.ips
        names = self.faults.active("cert_names", "finalize")
        if names is not None:
            dns, ips = tuple(names), ()
        expired = bool(self.faults.active("cert_expired", "finalize"))
        leaf = self.hierarchy.issue(public_key, dns, ips, validity, expired=expired)
        chains = self.hierarchy.chains(leaf)[: 2 if self.alternate_chain else 1]
        if self.faults.active("chain_private_key", "finalize"):
            stray = ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            chains = [c + stray for c in chains]
        with self.lock:
            if order.status != "ready":  # a concurrent finalize won
                raise Problem(403, "orderNotReady", f"The order is {order.status}, not ready")
            cert_id = new_id()
            issued = IssuedCert(
                id=cert_id,
                url=self.url(f"/cert/{cert_id}"),
                account_id=account.id,
                order_id=order.id,
                leaf=leaf,
                chains=chains,
                ari_id=ari_cert_id(leaf),
            )
            self.certificates.append(issued)
            self._certs[cert_id] = issued
            order.cert_id, order.status = cert_id, "processing"
            order.polls_left = max(0, int(self.faults.processing_polls))
            if order.replaces is not None:
                self.replaced.add(order.replaces)
                old = self.cert_by_ari_id(order.replaces)
                if old is not None:
                    old.replaced_by = order.id
            doc = self._order_doc(order, "finalize")
        return self._retry_after(Reply(200, doc, headers=[("Location", order.url)]), "finalize")

    def h_certificate(self, auth: Authenticated, ident: str, alt: str | None) -> Reply:
        with self.lock:
            issued: IssuedCert = self._get(self._certs, ident, "certificate")
            self._own(auth.owner(), issued.account_id, "certificate")
        index = int(alt or 0)
        if index >= len(issued.chains):
            raise Problem(404, "malformed", "No such alternate chain")
        shape = self.url_shaper("certificate")
        links = [
            (
                "Link",
                f'<{shape(issued.url + ("/" + str(i) if i else ""), "alternate")}>;rel="alternate"',
            )
            for i in range(len(issued.chains))
            if i != index
        ]
        return Reply(200, issued.chains[index], "application/pem-certificate-chain", links)
