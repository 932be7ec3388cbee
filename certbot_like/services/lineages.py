"""Reading lineages for people and decisions: names, expiry, key, and what is wrong with them."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from certbot_like.crypto.cert_facts import certificate_facts
from certbot_like.errors import CertbotLikeError
from certbot_like.interfaces import Identifier
from certbot_like.storage.renewal_params import RenewalParams
from certbot_like.storage.store import Lineage, Store, revoked_in


@dataclass
class LineageInfo:
    """A lineage as found in the store; ``problems`` lists what is wrong (empty when healthy).

    ``lineage`` is None when its settings cannot be read at all.
    """

    name: str
    lineage: Lineage | None
    location: str
    identifiers: list[Identifier] = field(default_factory=list)
    not_before: datetime.datetime | None = None
    not_after: datetime.datetime | None = None
    key_type: str | None = None
    serial: str | None = None
    issuer: str | None = None
    version: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def params(self) -> RenewalParams | None:
        return self.lineage.params if self.lineage else None

    @property
    def live(self) -> dict[str, Path]:
        return dict(self.lineage.live) if self.lineage else {}

    @property
    def names(self) -> list[str]:
        return [i.value for i in self.identifiers]

    def days_left(self, now: datetime.datetime | None = None) -> float | None:
        if self.not_after is None:
            return None
        now = now or datetime.datetime.now(datetime.UTC)
        return (self.not_after - now).total_seconds() / 86400


def inspect(store: Store, name: str, *, check_key: bool = True) -> LineageInfo:
    """Read a lineage's settings and current certificate, collecting problems instead of
    failing (an unknown *name* is a problem too)."""
    info = LineageInfo(name=name, lineage=None, location=store.description)
    try:
        lineage = store.read_lineage(name)
    except CertbotLikeError as exc:
        info.problems.append(exc.one_line())
        return info
    info.lineage, info.location, info.version = lineage, lineage.location, lineage.version
    info.problems.extend(lineage.problems)
    try:
        files = store.read_files(name, kinds=("cert", "privkey") if check_key else ("cert",))
    except CertbotLikeError:
        return info  # the store named what is missing in lineage.problems
    cert = certificate_facts(files.cert)  # cryptography only when the DER walker is unsure
    if cert is None:
        info.problems.append("cert.pem is not a readable certificate")
        return info
    info.identifiers = [Identifier(kind, value) for kind, value in cert.identifiers]
    info.key_type = cert.key_type
    info.not_before, info.not_after = cert.not_before, cert.not_after
    info.serial = format(cert.serial, "x")
    info.issuer = cert.issuer_cn
    if info.not_after <= datetime.datetime.now(datetime.UTC):
        info.problems.append("EXPIRED")
    if revoked_in(lineage.params, info.serial):
        info.problems.append("REVOKED")
    if check_key:
        problem = _key_problem(name, files.privkey, files.cert, cert.spki)
        if problem:
            info.problems.append(problem)
    return info


def _key_problem(name: str, privkey: bytes, cert_pem: bytes, spki: bytes) -> str | None:
    """What is wrong with the lineage's private key, if anything."""
    from certbot_like.crypto.keys import load_private_key, public_der

    try:
        key = load_private_key(privkey, f"{name}'s privkey.pem")
    except CertbotLikeError as exc:
        return f"privkey.pem unreadable: {exc}"
    ours = public_der(key)
    if ours == spki:
        return None
    # the certificate may store its key in a form cryptography re-encodes: ask it
    from certbot_like.crypto.cert_facts import facts_by_cryptography

    parsed = facts_by_cryptography(cert_pem)
    if parsed is not None and parsed.spki == ours:
        return None
    return "private key does not match the certificate"


def all_lineages(store: Store, *, check_key: bool = True) -> Iterator[LineageInfo]:
    """Every lineage, healthy or not, in name order.

    Raises:
        ConfigError: the store cannot be listed.
    """
    for name in store.lineage_names():
        yield inspect(store, name, check_key=check_key)


def find_by_names(
    store: Store, identifiers: tuple[Identifier, ...]
) -> tuple[LineageInfo | None, LineageInfo | None]:
    """(a lineage with exactly these names, a lineage whose names are a strict subset).

    Uses renew's change-token scan cache, so with thousands of lineages only the changed
    ones are parsed and only the matches are inspected in full.
    """
    from certbot_like.services.scan import scan

    wanted = {i.value for i in identifiers}
    exact: LineageInfo | None = None
    subset: LineageInfo | None = None
    state = store.load_state()
    for entry in scan(store, state):
        have = set(entry.state.names)
        if entry.problem or not have:
            continue
        if have == wanted and exact is None:
            exact = inspect(store, entry.name, check_key=False)
        elif have < wanted and subset is None:
            subset = inspect(store, entry.name, check_key=False)
    try:
        store.save_state(state)
    except CertbotLikeError:
        pass  # the cache is an optimisation only
    return exact, subset


def load_named(store: Store, name: str) -> LineageInfo | None:
    """The lineage called *name*, or None when there is none."""
    return inspect(store, name) if store.has_lineage(name) else None
