"""The fast scan behind ``renew``: which lineages exist and when each is due.

For each lineage it asks the store for a cheap change token (for the file store: a ``stat``
of the conf, a ``readlink`` of ``cert.pem`` and a ``stat`` of the certificate). Only when the
token differs from the one remembered in the renewal state are the conf and the certificate
parsed again, so a no-op run over thousands of lineages imports neither configobj nor
cryptography.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from certbot_like.errors import CertbotLikeError
from certbot_like.storage.renewal_state import LineageState, RenewalState
from certbot_like.storage.store import LineageFacts, Store

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ScanEntry:
    """One lineage as the scan sees it: its state, or why it is broken."""

    name: str
    state: LineageState
    problem: str | None = None
    refreshed: bool = False


def _refresh(store: Store, entry: ScanEntry) -> None:
    _apply(entry.state, store.lineage_facts(entry.name))


def remember(store: Store, entry: ScanEntry, facts: LineageFacts) -> None:
    """Bring *entry*'s cached facts up to date from *facts* of the version this run stored,
    as :func:`scan_one` would after parsing the stored files again; the store's hint for
    the change token stays the one the scan found (a version does not move the lineage).

    Raises:
        CertbotLikeError: the change token cannot be read (the next scan then parses).
    """
    hint = entry.state.hint
    _apply(entry.state, facts)
    entry.state.hint = facts.hint if facts.hint is not None else hint
    entry.state.token = None  # should the token fail, the next scan parses the files
    entry.state.token = store.change_token(entry.name, entry.state.hint)


def _apply(state: LineageState, facts: LineageFacts) -> None:
    state.hint = facts.hint
    state.names = facts.names
    state.not_before = facts.not_before.timestamp()
    state.not_after = facts.not_after.timestamp()
    state.serial = facts.serial
    state.cert_id = facts.cert_id or None
    state.server = sys.intern(facts.server) if facts.server else None  # one copy for all
    before = facts.renew_before_expiry
    state.renew_before_expiry = sys.intern(before) if before else None
    state.autorenew = facts.autorenew
    state.revoked = facts.revoked


def scan_one(store: Store, name: str, state: LineageState) -> ScanEntry:
    """Bring one lineage's cached facts up to date (parsing only what changed)."""
    entry = ScanEntry(name, state)
    try:
        token = store.change_token(name, state.hint)
        if token is None or token != state.token:
            entry.refreshed = True
            _refresh(store, entry)
            token = store.change_token(name, state.hint)
        state.token = token
    except CertbotLikeError as exc:
        entry.problem = exc.one_line()
        state.token = None
    return entry


def scan(store: Store, state: RenewalState, only: set[str] | None = None) -> list[ScanEntry]:
    """Every lineage (or those named in *only*), in name order, with fresh facts.

    Raises:
        ConfigError: the store cannot be listed.
    """
    entries = []
    for name in store.lineage_names():
        if only is not None and name not in only:
            continue
        lineage_state = state.lineages.setdefault(name, LineageState())
        entry = scan_one(store, name, lineage_state)
        if entry.refreshed or entry.problem:
            state.dirty = True
        entries.append(entry)
    return entries
