"""``renew``: every lineage that is due, renewed with its stored settings, in parallel.

The run: a fast scan (no parsing of unchanged files, no network for what is not due) ->
ARI checks where the stored next-check time has passed -> a random delay when unattended
-> the run lock -> lineages renewed by ``jobs`` workers, each under its own
lineage lock and re-checked after taking it, its pre-hooks run just before it (each command
once per run) -> deploy hooks per lineage -> the collected post hooks once -> the state
saved. Hooks follow certbot 5.8's rules (:mod:`.hook_rules`). One broken lineage never
stops the others.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

from certbot_like.errors import CertbotLikeError
from certbot_like.interfaces import HookRunner
from certbot_like.services.accounts import UserDisplay
from certbot_like.services.due import (
    ARI_SERVER_RECHECK,
    Outcome,
    RenewOptions,
    RenewReport,
    decide,
    lifetime_moment,
    outcome_for,
)
from certbot_like.services.run_record import record_outcomes
from certbot_like.services.scan import ScanEntry, scan
from certbot_like.settings import RunSettings
from certbot_like.storage.renewal_state import RenewalState
from certbot_like.storage.store import Store

if TYPE_CHECKING:  # loaded only when something is due: a no-op run never needs it
    from certbot_like.services.renew_worker import Worker

logger = logging.getLogger(__name__)
MAX_RANDOM_SLEEP = 480.0


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


def renew_all(
    run: RunSettings,
    opts: RenewOptions,
    display: UserDisplay,
    hooks: HookRunner,
    lock: Callable[[], contextlib.AbstractContextManager[object]] | None = None,
    progress: Progress | None = None,
) -> RenewReport:
    """Renew every due lineage (or those in ``opts.cert_names``).

    *lock* is the run lock (the store's when None), taken only when work is needed.

    Raises:
        LockError: another run holds the config directory (only when work is needed).
        StorageError: the config directory is not writable (before any CA request).
    """
    fleet = None
    if run.store_url:  # fleet mode (--store): its modules are not loaded otherwise
        from certbot_like.services.fleet_renew import FleetRun

        fleet = FleetRun.start(run, opts, display, hooks)
    report = _renew_all(run, opts, display, hooks, lock, progress)
    return fleet.finish(report) if fleet else report


def _renew_all(
    run: RunSettings,
    opts: RenewOptions,
    display: UserDisplay,
    hooks: HookRunner,
    lock: Callable[[], contextlib.AbstractContextManager[object]] | None,
    progress: Progress | None,
) -> RenewReport:
    store = run.store
    force = opts.overrides.force or run.dry_run  # a dry run rehearses every lineage
    state = store.load_state()
    entries = scan(store, state, set(opts.cert_names) if opts.cert_names else None)
    outcomes: dict[str, Outcome] = {}
    for name in sorted((opts.cert_names or set()) - {e.name for e in entries}):
        outcomes[name] = Outcome(name, "failed", reason=f"No lineage named {name}", exit_code=2)
    todo = _classify(entries, state, time.time(), force, outcomes)
    if not todo:
        _save_state(store, state, entries, opts, outcomes, run.dry_run)
        return RenewReport(_ordered(outcomes), run.dry_run)
    if opts.random_sleep:
        delay = random.SystemRandom().uniform(1, MAX_RANDOM_SLEEP)
        logger.info("Unattended run: sleeping %.0f s before contacting the CA", delay)
        time.sleep(delay)
    from certbot_like.services.renew_worker import Worker

    with (lock or store.run_lock)():
        worker = Worker(
            run, opts, display, hooks, state, run.connector(opts.max_requests_per_second)
        )
        try:
            if not run.dry_run:
                worker.check_storage()
            _run_checks(worker, todo, state, force, outcomes, opts.jobs)
            due = [e for e in todo if outcomes.get(e.name) is None]
            _run_renewals(worker, due, outcomes, opts.jobs, progress or _NoProgress())
        finally:
            worker.close()
            _save_state(store, state, entries, opts, outcomes, run.dry_run)
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
            outcomes[entry.name] = outcome_for(entry, "failed", None, entry.problem, 3)
        elif verdict == "deferred":
            outcomes[entry.name] = outcome_for(
                entry, "deferred", moment, entry.state.last_error or "rate limited by the CA"
            )
        elif verdict == "not-due":
            outcomes[entry.name] = outcome_for(entry, "not-due", moment)
        elif verdict == "off":
            outcomes[entry.name] = outcome_for(
                entry, "skipped", None, "autorenew = False in its renewal conf (--force-renewal)"
            )
        else:
            todo.append(entry)
    return todo


def _run_checks(
    worker: Worker,
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
        refused = worker.refusal(entry)
        if refused is not None:
            outcomes[entry.name] = outcome_for(
                entry, "failed", None, refused.one_line(), refused.exit_code
            )
            continue
        verdict, moment = decide(entry, state, time.time(), force)
        if verdict == "check":  # no answer from the CA: the lifetime rule decides
            moment = lifetime_moment(entry.state)
            verdict = "due" if moment is not None and time.time() >= moment else "not-due"
        if verdict == "not-due":
            outcomes[entry.name] = outcome_for(entry, "not-due", moment)
        elif verdict == "broken":
            outcomes[entry.name] = outcome_for(entry, "failed", None, entry.problem, 3)


def _server_has_ari(state: RenewalState, entry: ScanEntry) -> bool:
    server = state.servers.get(entry.state.server or "")
    return server is not None and server.ari


def _run_renewals(
    worker: Worker,
    due: list[ScanEntry],
    outcomes: dict[str, Outcome],
    jobs: int,
    progress: Progress,
) -> None:
    if not due:
        return
    progress.start(len(due))
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for outcome in pool.map(worker.renew, due):
                outcomes[outcome.name] = outcome
                progress.done(outcome)
        worker.reload_installers(outcomes)
    finally:
        progress.finish()
        worker.run_post_hooks([outcomes[e.name] for e in due if e.name in outcomes])


def _ordered(outcomes: dict[str, Outcome]) -> list[Outcome]:
    return [outcomes[k] for k in sorted(outcomes)]


def _save_state(
    store: Store,
    state: RenewalState,
    entries: list[ScanEntry],
    opts: RenewOptions,
    outcomes: dict[str, Outcome],
    dry_run: bool,
) -> None:
    if not dry_run:
        record_outcomes(state, outcomes.values(), time.time())
    keep = None if opts.cert_names else {e.name for e in entries}
    with contextlib.suppress(CertbotLikeError):
        store.save_state(state, keep)


@contextlib.contextmanager
def no_lock() -> Iterator[None]:
    """For tests and callers that already hold the run lock."""
    yield
