"""When a certificate is due for renewal, without ARI (RFC 9773 is consulted first elsewhere).

Due when less than a third of its lifetime remains (half for lifetimes under ten days, as for
short-lived certificates), or when ``renew_before_expiry`` from the renewal conf says so.
Never a hard-coded "30 days".
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certbot_like.errors import EXIT_CODES, CertbotLikeError, ConfigError, PartialFailure
from certbot_like.services.renew_request import RenewOverrides
from certbot_like.storage.renewal_state import LineageState, RenewalState

if TYPE_CHECKING:
    from certbot_like.services.scan import ScanEntry

ARI_SERVER_RECHECK = 86400.0

SHORT_LIVED = datetime.timedelta(days=10)
_INTERVAL = re.compile(r"^\s*(\d+)\s*(seconds?|minutes?|hours?|days?|weeks?|s|m|h|d|w)?\s*$", re.I)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_interval(text: str) -> datetime.timedelta:
    """``30 days`` / ``12 hours`` / ``45`` (days, as certbot) -> timedelta.

    Raises:
        ConfigError: not a number followed by an optional unit.
    """
    match = _INTERVAL.match(text)
    if not match:
        raise ConfigError(
            f"renew_before_expiry {text!r} is not an interval",
            "Write it like '30 days' or '12 hours'",
        )
    unit = (match.group(2) or "days")[0].lower()
    return datetime.timedelta(seconds=int(match.group(1)) * _UNITS[unit])


def renewal_moment(
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    renew_before_expiry: str | None = None,
) -> datetime.datetime:
    """The moment from which the certificate is due.

    Raises:
        ConfigError: *renew_before_expiry* is malformed.
    """
    if renew_before_expiry:
        return not_after - parse_interval(renew_before_expiry)
    lifetime = not_after - not_before
    fraction = 2 if lifetime < SHORT_LIVED else 3
    return not_after - lifetime / fraction


def is_due(
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    now: datetime.datetime | None = None,
    renew_before_expiry: str | None = None,
) -> bool:
    """True when the certificate should be renewed now.

    Raises:
        ConfigError: *renew_before_expiry* is malformed.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    return now >= renewal_moment(not_before, not_after, renew_before_expiry)


@dataclass(frozen=True)
class RenewOptions:
    """How this ``renew`` run behaves (the operator's flags)."""

    cert_names: frozenset[str] | None = None
    overrides: RenewOverrides = field(default_factory=RenewOverrides)
    server_override: str | None = None
    bundle_override: Path | None = None
    run_deploy_hooks: bool = False
    directory_hooks: bool = True
    jobs: int = 4
    random_sleep: bool = False
    max_requests_per_second: float = 100.0


@dataclass(slots=True)
class Outcome:
    """What happened to one lineage."""

    name: str
    status: str  # renewed | not-due | failed | deferred | skipped | dry-run
    names: list[str] = field(default_factory=list)
    reason: str | None = None
    exit_code: int = 0
    not_after: float | None = None
    renew_at: float | None = None
    via_ari: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "names": self.names,
            "reason": self.reason,
            "exit_code": self.exit_code,
            "not_after": _iso(self.not_after),
            "renew_at": _iso(self.renew_at),
            "via_ari": self.via_ari,
        }


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    import datetime

    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat()


@dataclass
class RenewReport:
    """The whole run, for text, JSON and the exit code."""

    outcomes: list[Outcome]
    dry_run: bool = False

    def by_status(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def problems(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.exit_code]

    def exit_code(self) -> int:
        """0 when nothing failed; the one failure's code; 11 when failures differ."""
        codes = {o.exit_code for o in self.problems}
        if not codes:
            return 0
        if len(codes) == 1:
            return codes.pop()
        return PartialFailure.exit_code

    def to_json(self) -> dict[str, Any]:
        code = self.exit_code()
        return {
            "dry_run": self.dry_run,
            "exit_code": code,
            "exit_meaning": EXIT_CODES.get(code, ""),
            "renewed": [o.to_json() for o in self.by_status("renewed") + self.by_status("dry-run")],
            "failed": [o.to_json() for o in self.outcomes if o.status == "failed"],
            "not_due": [o.to_json() for o in self.by_status("not-due")],
            "deferred": [
                o.to_json() for o in self.by_status("deferred") + self.by_status("skipped")
            ],
        }


def decide(
    entry: ScanEntry, state: RenewalState, now: float, force: bool
) -> tuple[str, float | None]:
    """(``due`` | ``not-due`` | ``check`` | ``deferred`` | ``off`` | ``broken``, moment) for
    a lineage; ``off``: its conf says ``autorenew = False`` (only *force* renews it).

    ``check`` means ARI must be asked first (the stored next-check time has passed, or we do
    not know yet whether the CA offers ARI).
    """
    if entry.problem:
        return "broken", None
    st = entry.state
    if not st.autorenew and not force:
        return "off", None
    if st.revoked:  # as certbot renews a certificate it finds revoked
        return "due", now
    if st.retry_not_before and now < st.retry_not_before and not force:
        return "deferred", st.retry_not_before
    try:
        moment = lifetime_moment(st)
    except CertbotLikeError as exc:
        entry.problem = exc.one_line()
        return "broken", None
    if force:
        return "due", now
    if moment is None:
        return "due", now
    server = state.servers.get(st.server or "")
    if server is None or now - server.checked > ARI_SERVER_RECHECK:
        return (
            ("check", moment) if st.cert_id else (("due" if now >= moment else "not-due"), moment)
        )
    if server.ari and st.cert_id:
        if st.ari_cert_id == st.cert_id and st.ari_next_check and now < st.ari_next_check:
            # no answer last time (ari_renew_at None): the lifetime rule until the next check
            at = _clamp_ari(st.ari_renew_at, st) if st.ari_renew_at is not None else moment
            return ("due" if now >= at else "not-due"), at
        return "check", moment
    return ("due" if now >= moment else "not-due"), moment


def _clamp_ari(moment: float, st: LineageState) -> float:
    """ARI decides, but never later than when 90 % of the lifetime has passed."""
    if st.not_before is None or st.not_after is None:
        return moment
    return min(moment, st.not_after - 0.1 * (st.not_after - st.not_before))


def outcome_for(
    entry: ScanEntry, status: str, moment: float | None, reason: str | None = None, code: int = 0
) -> Outcome:
    st = entry.state
    via_ari = bool(st.ari_renew_at is not None and moment == _clamp_ari(st.ari_renew_at, st))
    # the state's names list is shared, not copied: 10,000 lineages, 10,000 lists fewer
    return Outcome(entry.name, status, st.names, reason, code, st.not_after, moment, via_ari)


def lifetime_moment(state: LineageState) -> float | None:
    """When the lineage is due without ARI (POSIX seconds), or None if unknown.

    Raises:
        ConfigError: ``renew_before_expiry`` in the conf is malformed.
    """
    if state.not_before is None or state.not_after is None:
        return None
    utc = datetime.UTC
    moment = renewal_moment(
        datetime.datetime.fromtimestamp(state.not_before, utc),
        datetime.datetime.fromtimestamp(state.not_after, utc),
        state.renew_before_expiry,
    )
    return moment.timestamp()
