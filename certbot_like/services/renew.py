"""``renew``: every lineage that is due, renewed with its stored settings, in parallel.

The run: a fast scan (no parsing of unchanged files, no network for what is not due) ->
ARI checks where the stored next-check time has passed -> a random delay when unattended
-> the run lock -> pre hooks once -> lineages renewed by ``jobs`` workers, each under its own
lineage lock and re-checked after taking it -> deploy hooks per lineage -> post hooks once
-> the state saved. One broken lineage never stops the others.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from certbot_like.errors import EXIT_CODES, CertbotLikeError, PartialFailure
from certbot_like.interfaces import HookRunner
from certbot_like.protocol.http import RateLimiter
from certbot_like.services.accounts import UserDisplay
from certbot_like.services.renew_request import RenewOverrides
from certbot_like.services.renewal_state import LineageState, RenewalState
from certbot_like.services.scan import ScanEntry, scan
from certbot_like.settings import RunSettings

logger = logging.getLogger(__name__)
MAX_RANDOM_SLEEP = 480.0
ARI_SERVER_RECHECK = 86400.0


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


class Progress(Protocol):
    """Live display of a long run (a status line on a terminal)."""

    def start(self, total: int) -> None: ...

    def done(self, outcome: Outcome) -> None: ...

    def finish(self) -> None: ...


class _NoProgress:
    def start(self, total: int) -> None:
        pass

    def done(self, outcome: Outcome) -> None:
        pass

    def finish(self) -> None:
        pass


def decide(
    entry: ScanEntry, state: RenewalState, now: float, force: bool
) -> tuple[str, float | None]:
    """(``due`` | ``not-due`` | ``check`` | ``deferred`` | ``broken``, moment) for a lineage.

    ``check`` means ARI must be asked first (the stored next-check time has passed, or we do
    not know yet whether the CA offers ARI).
    """
    from certbot_like.services.scan import lifetime_moment

    if entry.problem:
        return "broken", None
    st = entry.state
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


def _outcome_for(
    entry: ScanEntry, status: str, moment: float | None, reason: str | None = None, code: int = 0
) -> Outcome:
    st = entry.state
    via_ari = bool(st.ari_renew_at is not None and moment == _clamp_ari(st.ari_renew_at, st))
    # the state's names list is shared, not copied: 10,000 lineages, 10,000 lists fewer
    return Outcome(entry.name, status, st.names, reason, code, st.not_after, moment, via_ari)


def renew_all(
    run: RunSettings,
    opts: RenewOptions,
    display: UserDisplay,
    hooks: HookRunner,
    lock: Callable[[], contextlib.AbstractContextManager[Any]],
    progress: Progress | None = None,
) -> RenewReport:
    """Renew every due lineage (or those in ``opts.cert_names``).

    Raises:
        LockError: another run holds the config directory (only when work is needed).
        StorageError: the config directory is not writable (before any CA request).
    """
    from certbot_like.services.renew_worker import Worker

    layout = run.layout
    force = opts.overrides.force or run.dry_run  # a dry run rehearses every lineage
    state = RenewalState.load(layout.work_dir)
    entries = scan(layout, state, set(opts.cert_names) if opts.cert_names else None)
    outcomes: dict[str, Outcome] = {}
    for name in sorted((opts.cert_names or set()) - {e.name for e in entries}):
        outcomes[name] = Outcome(name, "failed", reason=f"No lineage named {name}", exit_code=2)
    todo = _classify(entries, state, time.time(), force, outcomes)
    if not todo:
        _save_state(state, layout.work_dir, entries, opts)
        return RenewReport(_ordered(outcomes), run.dry_run)
    if opts.random_sleep:
        delay = random.SystemRandom().uniform(1, MAX_RANDOM_SLEEP)
        logger.info("Unattended run: sleeping %.0f s before contacting the CA", delay)
        time.sleep(delay)
    with lock():
        worker = Worker(run, opts, display, hooks, state, RateLimiter(opts.max_requests_per_second))
        try:
            if not run.dry_run:
                worker.check_storage()
            _run_checks(worker, todo, state, force, outcomes, opts.jobs)
            due = [e for e in todo if outcomes.get(e.name) is None]
            _run_renewals(worker, due, outcomes, opts.jobs, progress or _NoProgress())
        finally:
            worker.close()
            _save_state(state, layout.work_dir, entries, opts)
    return RenewReport(_ordered(outcomes), run.dry_run)


def _classify(
    entries: list[ScanEntry],
    state: RenewalState,
    now: float,
    force: bool,
    outcomes: dict[str, Outcome],
) -> list[ScanEntry]:
    todo = []
    for entry in entries:
        verdict, moment = decide(entry, state, now, force)
        if verdict == "broken":
            outcomes[entry.name] = _outcome_for(entry, "failed", None, entry.problem, 3)
        elif verdict == "deferred":
            outcomes[entry.name] = _outcome_for(
                entry, "deferred", moment, entry.state.last_error or "rate limited by the CA"
            )
        elif verdict == "not-due":
            outcomes[entry.name] = _outcome_for(entry, "not-due", moment)
        else:
            todo.append(entry)
    return todo


def _run_checks(
    worker: Any,
    todo: list[ScanEntry],
    state: RenewalState,
    force: bool,
    outcomes: dict[str, Outcome],
    jobs: int,
) -> None:
    """Ask CAs what we do not know yet: first each server's directory, then ARI per lineage."""
    now = time.time()
    checks = [e for e in todo if decide(e, state, now, force)[0] == "check"]
    per_server: dict[str, ScanEntry] = {}
    for entry in checks:
        server = state.servers.get(entry.state.server or "")
        if server is None or now - server.checked > ARI_SERVER_RECHECK:
            per_server.setdefault(entry.state.server or "", entry)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(worker.check_server, per_server.values()))
        lineage_checks = [
            e
            for e in checks
            if decide(e, state, time.time(), force)[0] == "check" and _server_has_ari(state, e)
        ]
        list(pool.map(worker.check_ari, lineage_checks))
    for entry in todo:
        verdict, moment = decide(entry, state, time.time(), force)
        if verdict == "check":  # no answer from the CA: the lifetime rule decides
            from certbot_like.services.scan import lifetime_moment

            moment = lifetime_moment(entry.state)
            verdict = "due" if moment is not None and time.time() >= moment else "not-due"
        if verdict == "not-due":
            outcomes[entry.name] = _outcome_for(entry, "not-due", moment)
        elif verdict == "broken":
            outcomes[entry.name] = _outcome_for(entry, "failed", None, entry.problem, 3)


def _server_has_ari(state: RenewalState, entry: ScanEntry) -> bool:
    server = state.servers.get(entry.state.server or "")
    return server is not None and server.ari


def _run_renewals(
    worker: Any, due: list[ScanEntry], outcomes: dict[str, Outcome], jobs: int, progress: Progress
) -> None:
    if not due:
        return
    progress.start(len(due))
    try:
        worker.run_pre_hooks(due)
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for outcome in pool.map(worker.renew, due):
                outcomes[outcome.name] = outcome
                progress.done(outcome)
        worker.reload_installers(outcomes)
    finally:
        progress.finish()
        worker.run_post_hooks(due, [outcomes[e.name] for e in due if e.name in outcomes])


def _ordered(outcomes: dict[str, Outcome]) -> list[Outcome]:
    return [outcomes[k] for k in sorted(outcomes)]


def _save_state(
    state: RenewalState, work_dir: Path, entries: list[ScanEntry], opts: RenewOptions
) -> None:
    keep = None if opts.cert_names else {e.name for e in entries}
    with contextlib.suppress(CertbotLikeError):
        state.save(work_dir, keep)


@contextlib.contextmanager
def no_lock() -> Iterator[None]:
    """For tests and callers that already hold the run lock."""
    yield
