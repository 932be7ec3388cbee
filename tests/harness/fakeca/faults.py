"""What a test can make the fake CA do wrong, and how long each fault lasts.

Every fault is a plain attribute of :class:`Faults`; ``None`` / ``False`` / ``0`` means "behave".
A fault set by attribute applies to **every** matching request until it is reset. Two optional
refinements, kept per fault name:

``faults.scope[name] = {"newOrder", ...}``
    restrict it to these endpoints (see :data:`ENDPOINTS`); faults that only make sense on
    some endpoints have a default scope in :data:`DEFAULT_SCOPE`.
``faults.times[name] = N``
    apply it to the next *N* matching requests only, then reset it automatically.

:meth:`Faults.set` does all three at once: ``ca.faults.set("stall", 5.0, on={"newOrder"},
times=1)``. Faults read at object-creation time (``token``, ``foreign_identifier``,
``cert_*``) count one "request" per challenge, authorization or certificate they shape.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

#: Names of the endpoints, as used in ``scope`` (ACME directory keys where there is one).
ENDPOINTS = frozenset(
    {
        "directory",
        "newNonce",
        "newAccount",
        "account",
        "orders",
        "newOrder",
        "order",
        "authz",
        "challenge",
        "finalize",
        "certificate",
        "renewalInfo",
        "revokeCert",
        "keyChange",
        "terms",
    }
)

#: Where a fault applies when the test gave no ``scope`` (absent: everywhere it can).
DEFAULT_SCOPE: dict[str, frozenset[str]] = {
    "retry_after": frozenset({"order", "finalize"}),
    "rate_limited": frozenset({"newOrder"}),
}

#: The 2 MiB an ``oversized = True`` answer carries (twice what the client accepts).
OVERSIZED_BYTES = 2 * 1024 * 1024


@dataclass
class Faults:
    """The fault switches of one :class:`~tests.harness.fakeca.server.FakeCA`.

    Challenges and authorizations (applied when an order is created):

    * ``token``: every new challenge gets this token instead of a random one.
    * ``foreign_identifier``: the order's first authorization names this DNS name instead of
      the requested one (the order itself still lists the requested names).

    Issued certificates (applied at finalization):

    * ``cert_wrong_key``: the leaf carries a fresh key, not the CSR's.
    * ``cert_names``: the leaf's SANs are these names, not the CSR's.
    * ``cert_expired``: the leaf expired yesterday.
    * ``chain_private_key``: a ``-----BEGIN PRIVATE KEY-----`` block follows the chain.

    Transport (any endpoint, narrow them with ``scope``):

    * ``stall``: seconds to sleep after reading the request, before answering.
    * ``replay_nonce``: ``""`` sends no ``Replay-Nonce`` header, any other string is sent
      verbatim instead of a fresh nonce (``"bad nonce!"``).
    * ``bad_nonce_rate``: fraction of signed requests whose (valid) nonce is rejected with
      ``badNonce``; deterministic (0.5 rejects every other one), 1.0 rejects all.
    * ``oversized``: pad the answer's JSON to :data:`OVERSIZED_BYTES`;
      ``oversized_unframed`` sends it without ``Content-Length`` (``Connection: close``).
    * ``http_urls``: names whose URLs are sent as ``http://``: directory keys (``newOrder``
      ...) and ``authorizations``, ``finalize``, ``certificate``, ``challenge``.
    * ``foreign_urls``: names whose URLs are sent on ``foreign_origin`` (``https://host:port``)
      instead of the CA's own: the names of ``http_urls``, plus ``account`` and ``order``
      (the ``Location`` of newAccount and newOrder) and ``alternate`` (``Link`` of a
      certificate download). The path stays the CA's.
    * ``redirect``: answer with ``307 Temporary Redirect`` to this ``Location`` (absolute or
      relative) instead of handling the request (narrow it with ``on=`` / ``times=``).

    Orders:

    * ``processing_polls``: after finalize, the order answers ``processing`` to this many
      polls before it is ``valid`` (0: valid at the first poll, like a fast real CA).
    * ``stuck_processing``: the order stays ``processing`` forever.
    * ``retry_after``: the ``Retry-After`` header value on order and finalize answers
      (``"31536000"``, ``"-5"``, ``"garbage"``, an HTTP date).
    * ``rate_limited``: newOrder answers 429 ``rateLimited`` with this ``Retry-After``
      value; ``rate_limited_identifier`` limits that to orders naming this identifier.
    """

    token: str | None = None
    foreign_identifier: str | None = None
    cert_wrong_key: bool = False
    cert_names: tuple[str, ...] | None = None
    cert_expired: bool = False
    chain_private_key: bool = False
    stall: float | None = None
    replay_nonce: str | None = None
    bad_nonce_rate: float = 0.0
    oversized: bool = False
    oversized_unframed: bool = False
    http_urls: frozenset[str] = frozenset()
    foreign_urls: frozenset[str] = frozenset()
    foreign_origin: str | None = None
    redirect: str | None = None
    processing_polls: int = 0
    stuck_processing: bool = False
    retry_after: str | None = None
    rate_limited: str | None = None
    rate_limited_identifier: str | None = None
    scope: dict[str, frozenset[str]] = field(default_factory=dict)
    times: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _nonce_budget: float = field(default=0.0, repr=False)

    def set(
        self, name: str, value: Any, *, on: Iterable[str] | None = None, times: int | None = None
    ) -> Faults:
        """Set fault *name* to *value*, optionally only on endpoints *on*, *times* times."""
        if name not in self._names():
            raise AttributeError(f"no fault named {name!r}")
        unknown = frozenset(on or ()) - ENDPOINTS
        if unknown:
            raise ValueError(f"unknown endpoints {sorted(unknown)}")
        with self._lock:
            setattr(self, name, value)
            if on is not None:
                self.scope[name] = frozenset(on)
            if times is not None:
                self.times[name] = times
        return self

    def reset(self) -> None:
        """Back to a well-behaved CA."""
        with self._lock:
            for f in fields(self):
                if f.name in ("_lock",):
                    continue
                default = f.default_factory() if callable(f.default_factory) else f.default
                setattr(self, f.name, default)

    def active(self, name: str, endpoint: str) -> Any:
        """The value of fault *name* if it applies to a request on *endpoint*, else None.

        Consumes one of its ``times`` and resets the fault when they run out.
        """
        with self._lock:
            value = getattr(self, name)
            if value is None or value is False or value in (0, frozenset()):
                return None
            scope = self.scope.get(name, DEFAULT_SCOPE.get(name))
            if scope is not None and endpoint not in scope:
                return None
            left = self.times.get(name)
            if left is not None:
                if left <= 1:
                    del self.times[name]
                    default = next(f for f in fields(self) if f.name == name).default
                    setattr(self, name, default)
                else:
                    self.times[name] = left - 1
            return value

    def reject_nonce(self, endpoint: str) -> bool:
        """Whether to answer this signed request with ``badNonce`` (``bad_nonce_rate``)."""
        rate = self.active("bad_nonce_rate", endpoint)
        if rate is None:
            return False
        with self._lock:
            self._nonce_budget += min(max(float(rate), 0.0), 1.0)
            if self._nonce_budget >= 1.0 - 1e-9:
                self._nonce_budget -= 1.0
                return True
            return False

    def _names(self) -> frozenset[str]:
        names = {f.name for f in fields(self) if not f.name.startswith("_")}
        return frozenset(names - {"scope", "times"})
