"""The fake CA's objects (RFC 8555 section 7.1) and its one error type."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

ACME_ERROR = "urn:ietf:params:acme:error:"


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def rfc3339(when: datetime.datetime) -> str:
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Problem(Exception):
    """An RFC 7807 problem document the server answers with (``application/problem+json``)."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(f"{status} {kind}: {detail}")
        self.status = status
        self.kind = kind
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def document(self) -> dict[str, Any]:
        doc = {"type": ACME_ERROR + self.kind, "detail": self.detail, "status": self.status}
        return {**doc, **self.extra}


@dataclass
class Reply:
    """One HTTP answer before transport faults are applied."""

    status: int
    body: Any = None  # JSON-able, bytes, or None for no body
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def problem(cls, exc: Problem) -> Reply:
        return cls(
            exc.status,
            exc.document(),
            "application/problem+json",
            list(exc.headers.items()),
        )

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, indent=2).encode()


@dataclass
class Account:
    id: str
    url: str
    jwk: Any  # josepy JWK (public)
    thumbprint: bytes
    contact: list[str]
    tos_agreed: bool
    status: str = "valid"
    eab_kid: str | None = None
    created: datetime.datetime = field(default_factory=utcnow)
    old_jwks: list[Any] = field(default_factory=list)  # keys rolled over by keyChange
    order_urls: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "status": self.status,
            "contact": list(self.contact),
            "orders": self.url + "/orders",
            "key": self.jwk.to_partial_json(),
            "createdAt": rfc3339(self.created),
        }
        if self.tos_agreed:
            doc["termsOfServiceAgreed"] = True
        if self.eab_kid is not None:
            doc["externalAccountBinding"] = {"kid": self.eab_kid}
        return doc


@dataclass
class Challenge:
    id: str
    url: str
    type: str
    token: str
    authz_id: str
    status: str = "pending"
    validated: datetime.datetime | None = None
    error: dict[str, Any] | None = None

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": self.type,
            "url": self.url,
            "token": self.token,
            "status": self.status,
        }
        if self.validated is not None:
            doc["validated"] = rfc3339(self.validated)
        if self.error is not None:
            doc["error"] = self.error
        return doc


@dataclass
class Authz:
    id: str
    url: str
    account_id: str
    kind: str  # "dns" | "ip"
    value: str  # without "*." for wildcards
    wildcard: bool
    expires: datetime.datetime
    challenges: list[Challenge] = field(default_factory=list)
    status: str = "pending"

    @property
    def identifier(self) -> str:
        return ("*." if self.wildcard else "") + self.value


@dataclass
class Order:
    """One order, as the test sees it: ``identifiers`` as requested, ``profile``,
    ``replaces`` (None when the client sent none), ``status``, the issued ``cert``."""

    id: str
    url: str
    account_id: str
    identifiers: list[dict[str, str]]
    profile: str | None
    replaces: str | None
    authz_ids: list[str]
    expires: datetime.datetime
    status: str = "pending"
    polls_left: int = 0
    cert_id: str | None = None
    error: dict[str, Any] | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [i["value"] for i in self.identifiers]


@dataclass
class IssuedCert:
    """A certificate the fake CA issued: ``ari_id`` is its RFC 9773 certificate id."""

    id: str
    url: str
    account_id: str
    order_id: str
    leaf: x509.Certificate
    chains: list[bytes]  # PEM: default first, then alternates (each leaf + intermediates)
    ari_id: str
    replaced_by: str | None = None

    @property
    def serial(self) -> int:
        return self.leaf.serial_number
