"""How healthy each lineage's renewal is: the judgement behind ``check`` and ``metrics``.

Not just days left: a lineage is in trouble when its last renewal attempt failed, when it is
past its renewal moment (ARI's or the lifetime rule's) without a new certificate, when its
key does not match, its chain does not verify, or its conf cannot renew all its names.

Thresholds scale with the lifetime: the *renewal window* is the time from the renewal moment
to expiry (a third of the lifetime, half under ten days, or ARI's). WARNING when less than
half of the window is left, CRITICAL under a fifth: 15 and 6 days for a 90-day certificate,
36 and 14 hours for a 6-day one. Absolute ``warning_days``/``critical_days`` replace them.

The renew scan's cache does the work: only lineages whose change token moved are parsed
(key, chain, names); the verdict is cached in the renewal state next to the token.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from certbot_like.errors import CertbotLikeError
from certbot_like.services.due import decide, lifetime_moment
from certbot_like.services.scan import ScanEntry, scan
from certbot_like.storage.renewal_state import LineageState, RenewalState
from certbot_like.storage.store import Store

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
DAY = 86400.0
WARNING_SHARE = 0.5  # of the renewal window left
CRITICAL_SHARE = 0.2
MAX_GRACE = DAY  # how long past its renewal moment a lineage may go unrenewed (timer cadence)


@dataclass(frozen=True)
class Thresholds:
    """Absolute thresholds in days (None: scaled with each certificate's lifetime)."""

    warning_days: float | None = None
    critical_days: float | None = None


@dataclass(slots=True)
class LineageHealth:
    """One lineage's verdict: its state, what is wrong, and the facts metrics export."""

    name: str
    status: int = OK
    findings: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    not_before: float | None = None
    not_after: float | None = None
    renew_at: float | None = None
    last_attempt: float | None = None
    last_success: float | None = None
    last_failed: bool = False
    failures: int = 0

    def worse(self, status: int, finding: str) -> None:
        """Add *finding*, raising the state to *status* (OK, WARNING or CRITICAL)."""
        self.status = max(self.status, status)
        self.findings.append(finding)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": STATE_NAMES[self.status],
            "findings": self.findings,
            "names": self.names,
            "not_after": _iso(self.not_after),
            "renew_at": _iso(self.renew_at),
            "last_attempt": _iso(self.last_attempt),
            "last_success": _iso(self.last_success),
            "last_attempt_failed": self.last_failed,
            "failures": self.failures,
        }


@dataclass
class HealthReport:
    """Every lineage looked at, plus names asked for that do not exist."""

    lineages: list[LineageHealth]
    missing: list[str] = field(default_factory=list)
    state: RenewalState | None = None

    @property
    def status(self) -> int:
        """The worst state; short of CRITICAL, UNKNOWN when a named lineage is missing or
        there is none at all."""
        worst = max((h.status for h in self.lineages), default=OK)
        if worst != CRITICAL and (self.missing or not self.lineages):
            return UNKNOWN
        return worst


def evaluate(
    store: Store,
    only: Iterable[str] | None = None,
    thresholds: Thresholds | None = None,
    now: float | None = None,
    *,
    save: bool = True,
) -> HealthReport:
    """Judge every lineage (or those in *only*), refreshing the scan cache as renew does.

    With *save* False the caller saves ``report.state`` (after changing it further).

    Raises:
        ConfigError: the store cannot be listed.
    """
    import time

    now = time.time() if now is None else now
    thresholds = thresholds or Thresholds()
    wanted = set(only) if only else None
    state = store.load_state()
    entries = scan(store, state, wanted)
    report = HealthReport([], sorted((wanted or set()) - {e.name for e in entries}), state)
    for entry in entries:
        report.lineages.append(_judge(store, state, entry, thresholds, now))
    if not save:
        return report
    with contextlib.suppress(CertbotLikeError):  # the cache is an optimisation only
        store.save_state(state, None if wanted else {e.name for e in entries})
    return report


def _judge(
    store: Store, state: RenewalState, entry: ScanEntry, limits: Thresholds, now: float
) -> LineageHealth:
    st = entry.state
    health = LineageHealth(
        entry.name,
        names=list(st.names),
        not_before=st.not_before,
        not_after=st.not_after,
        last_attempt=st.last_attempt,
        last_success=st.last_success,
        last_failed=st.last_outcome == "failed",
        failures=st.failures,
    )
    if entry.problem:
        health.worse(CRITICAL, f"cannot be read: {entry.problem}")
        return health
    verdict, moment = decide(entry, state, now, False)
    if verdict == "broken":
        health.worse(CRITICAL, f"cannot be read: {entry.problem}")
        return health
    health.renew_at = moment if verdict in ("due", "not-due", "check") else _moment(st)
    _deep_check(store, state, entry)
    for line in (st.health or "").splitlines():
        health.worse(int(line[0]), line[1:])
    _judge_time(health, st, limits, now)
    if health.last_failed:
        health.worse(WARNING, f"the last renewal attempt failed: {st.last_error or 'no reason'}")
    return health


def _moment(st: LineageState) -> float | None:
    try:
        return lifetime_moment(st)
    except CertbotLikeError:
        return None


def _judge_time(health: LineageHealth, st: LineageState, limits: Thresholds, now: float) -> None:
    if st.not_after is None or st.not_before is None:
        return
    left = st.not_after - now
    if left <= 0:
        health.worse(CRITICAL, f"expired {_ago(-left)} ago")
        return
    renew_at = health.renew_at if health.renew_at is not None else st.not_after
    window = max(st.not_after - renew_at, 0.0) or (st.not_after - st.not_before) / 3
    status = expiry_status(left, window, limits)
    if status:
        health.worse(status, f"expires in {_ago(left)}")
    grace = min(MAX_GRACE, window / 6)
    if health.renew_at is not None and now > health.renew_at + grace:
        health.worse(
            WARNING,
            f"past its renewal moment ({_ago(now - health.renew_at)} ago) without a new "
            "certificate",
        )


def expiry_status(left: float, window: float, limits: Thresholds) -> int:
    """OK, WARNING or CRITICAL for *left* seconds of validity and a renewal *window*."""
    warn = limits.warning_days * DAY if limits.warning_days is not None else window * WARNING_SHARE
    crit = (
        limits.critical_days * DAY if limits.critical_days is not None else window * CRITICAL_SHARE
    )
    if left < crit:
        return CRITICAL
    return WARNING if left < warn else OK


def _deep_check(store: Store, state: RenewalState, entry: ScanEntry) -> None:
    """Refresh the cached key/chain/names verdict when the lineage changed since."""
    st = entry.state
    if st.token is not None and st.health_token == st.token:
        return
    st.health = "\n".join(f"{level}{text}" for level, text in lineage_problems(store, entry.name))
    st.health = st.health or None
    st.health_token = st.token
    state.dirty = True


def lineage_problems(store: Store, name: str) -> list[tuple[int, str]]:
    """(severity, finding) for what is wrong in the stored files: key, links, chain, names."""
    from certbot_like.services.lineages import inspect

    info = inspect(store, name)
    found = [
        (CRITICAL, problem)
        for problem in info.problems
        if problem != "EXPIRED"  # judged against the clock every time, not cached
    ]
    if info.lineage is None or info.not_after is None:
        return found
    chain = _chain_problem(store, name)
    if chain:
        found.append((CRITICAL, chain))
    params = info.lineage.params
    webroot_map = params.extra.get("webroot_map")
    if isinstance(webroot_map, dict) and not params.extra.get("webroot_path"):
        uncovered = [n for n in info.names if n not in webroot_map]
        if uncovered:
            found.append(
                (
                    WARNING,
                    f"names differ from the renewal conf: no webroot for {', '.join(uncovered)}",
                )
            )
    return found


def _chain_problem(store: Store, name: str) -> str | None:
    """Why fullchain.pem does not verify (each certificate signed by the next), or None."""
    import itertools

    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    from certbot_like.crypto.certs import PARSE_ERRORS, split_pem_certificates

    try:
        files = store.read_files(name)
        blocks = split_pem_certificates(files.fullchain, f"{name}'s fullchain.pem")
        certs = [x509.load_pem_x509_certificate(b) for b in blocks]
    except CertbotLikeError as exc:
        return f"the chain cannot be read: {exc.one_line()}"
    except PARSE_ERRORS:
        return "the chain cannot be read: fullchain.pem holds a malformed certificate"
    if blocks[0].strip() != files.cert.strip():
        return "fullchain.pem does not start with cert.pem"
    if len(certs) < 2:
        return "the chain is missing: fullchain.pem holds only the certificate"
    for child, parent in itertools.pairwise(certs):
        try:
            child.verify_directly_issued_by(parent)
        except (InvalidSignature, ValueError, TypeError):
            return "the chain does not verify: a certificate is not signed by the next one"
    return None


def _ago(seconds: float) -> str:
    if seconds >= 2 * DAY:
        return f"{seconds / DAY:.1f} days"
    if seconds >= 7200:
        return f"{seconds / 3600:.1f} hours"
    return f"{max(seconds, 0) / 60:.0f} minutes"


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    import datetime

    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat()
