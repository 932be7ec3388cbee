"""The work of ``renew`` on one lineage at a time, safe to call from several threads."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from certbot_like.errors import AcmeError, CertbotLikeError, ForeignOriginError
from certbot_like.interfaces import HookRunner
from certbot_like.protocol.ca import CaConnector
from certbot_like.services.accounts import UserDisplay
from certbot_like.services.due import ARI_SERVER_RECHECK, Outcome, RenewOptions, decide
from certbot_like.services.hook_rules import HookRules
from certbot_like.services.issuance_run import Issuance, IssuanceHooks, perform
from certbot_like.services.issue import ObtainResult, Target
from certbot_like.services.pools import AuthenticatorPool, Pools, SessionPool
from certbot_like.services.reload_queue import ReloadQueue
from certbot_like.services.renew_request import ca_for, request_from_conf
from certbot_like.services.scan import ScanEntry, remember, scan_one
from certbot_like.settings import CaSettings, CertRequest, PluginChoice, RunSettings
from certbot_like.storage.renewal_state import RenewalState, ServerState
from certbot_like.storage.store import Lineage

if TYPE_CHECKING:
    from certbot_like.storage.pg_store import PgStore

logger = logging.getLogger(__name__)


def _fleet_store(run: RunSettings) -> PgStore | None:
    """The fleet's store with ``--store``; the fleet modules are not loaded otherwise."""
    if not run.store_url:
        return None
    from certbot_like.services.fleet import fleet_store

    return fleet_store(run)


class Worker:
    """Holds the pools, hooks and state shared by the renewals of one run."""

    def __init__(
        self,
        run: RunSettings,
        opts: RenewOptions,
        display: UserDisplay,
        hooks: HookRunner,
        state: RenewalState,
        connector: CaConnector,
    ) -> None:
        self.run, self.opts, self.hooks, self.state = run, opts, hooks, state
        self.store = run.store
        self._lineages: dict[str, Lineage] = {}
        self.display = display
        self.connector = connector
        self.pools = Pools(
            AuthenticatorPool(
                run.layout,
                display,
                hooks,
                run.dry_run,
                _fleet_store(run),  # the fleet's HTTP-01 answers (fleet-http), with --store
            ),
            SessionPool(self.store, run.account, display, connector),
        )
        self._state_lock = threading.Lock()
        self.rules = HookRules(
            hooks,
            self.store.hook_dir if opts.directory_hooks else None,
            collect_posts=True,
            dry_run=run.dry_run,
            run_deploy_hooks=opts.run_deploy_hooks,
        )
        self.installed: list[tuple[PluginChoice, str]] = []  # (installer, lineage) renewed
        self.reloads = ReloadQueue()  # --deploy-reload commands, once at the end of the run
        # a CA answer pointing at a foreign origin fails its lineages (never just a warning)
        self.refused: dict[str, ForeignOriginError] = {}  # server or lineage -> the refusal

    def close(self) -> None:
        self.pools.close()

    def check_storage(self) -> None:
        """Fail before any CA request when the config directory cannot be written.

        Raises:
            StorageError: read-only, full or not permitted.
        """
        self.store.prepare_writes()

    def lineage(self, entry: ScanEntry, *, fresh: bool = False) -> Lineage:
        """The lineage of *entry*, read once per run (again with *fresh*).

        Raises:
            UsageError, ConfigError: it vanished or its settings cannot be parsed.
        """
        with self._state_lock:
            found = None if fresh else self._lineages.get(entry.name)
        if found is None:
            found = self.store.read_lineage(entry.name)
            with self._state_lock:
                self._lineages[entry.name] = found
        return found

    # -- ARI ----------------------------------------------------------------------------------

    def _ca_of(self, entry: ScanEntry) -> CaSettings:
        return ca_for(
            self.lineage(entry).params,
            self.run.ca,
            server_override=self.opts.server_override,
            bundle_override=self.opts.bundle_override,
            dry_run=False,
        )

    def check_server(self, entry: ScanEntry) -> None:
        """Learn whether the CA of *entry* offers ARI (its directory, once per run).

        An unreachable CA is remembered for an hour so that later runs do not retry it for
        every lineage; its lineages fall back to the lifetime rule meanwhile.
        """
        server = entry.state.server or ""
        try:
            ca = self._ca_of(entry)
            server = ca.server
            conn = self.connector.connect(ca)
            try:
                ari = conn.meta().ari
            finally:
                conn.close()
            found = ServerState(ari=ari, checked=time.time())
        except ForeignOriginError as exc:
            with self._state_lock:
                self.refused[server] = exc
            return
        except CertbotLikeError as exc:
            logger.warning("%s: cannot read the CA's directory: %s", server, exc.one_line())
            found = ServerState(ari=False, checked=time.time() - ARI_SERVER_RECHECK + 3600)
        with self._state_lock:
            self.state.dirty = True
            self.state.servers[server] = found

    def check_ari(self, entry: ScanEntry) -> None:
        """Ask the lineage's CA for renewal information and store the decision.

        Failures are logged and leave the lineage to the lifetime rule until the next check.
        """
        from certbot_like.protocol.ari import choose_moment

        st = entry.state
        if not st.cert_id:
            return
        try:
            conn = self.connector.connect(self._ca_of(entry))
            try:
                info = conn.renewal_info(st.cert_id)
            finally:
                conn.close()
            if info is None:
                return
            moment = choose_moment(info)
            with self._state_lock:
                self.state.dirty = True
                st.ari_cert_id = st.cert_id
                st.ari_renew_at = moment.timestamp()
                st.ari_next_check = info.next_check.timestamp()
                st.ari_window = (info.start.timestamp(), info.end.timestamp())
            logger.info(
                "%s: ARI window %s .. %s, renewing at %s", entry.name, info.start, info.end, moment
            )
        except ForeignOriginError as exc:
            with self._state_lock:
                self.refused[entry.name] = exc
        except CertbotLikeError as exc:
            logger.warning("%s: renewal information unavailable: %s", entry.name, exc.one_line())
            with self._state_lock:  # do not ask again for every run of the next hour
                self.state.dirty = True
                st.ari_cert_id = st.cert_id
                st.ari_renew_at = None
                st.ari_next_check = time.time() + 3600

    # -- hooks ----------------------------------------------------------------------------------

    def refusal(self, entry: ScanEntry) -> ForeignOriginError | None:
        """Why the CA of *entry* (or its renewal information) was refused, if it was."""
        return self.refused.get(entry.name) or self.refused.get(entry.state.server or "")

    def run_post_hooks(self, outcomes: Sequence[Outcome]) -> None:
        """The post-hooks the renewals collected, each once, after all of them (certbot's
        ``RENEWED_DOMAINS`` and ``FAILED_DOMAINS``)."""
        renewed = [n for o in outcomes if o.status in ("renewed", "dry-run") for n in o.names]
        failed = [n for o in outcomes if o.status == "failed" for n in o.names]
        self.rules.run_collected_posts(renewed, failed)

    # -- renewal --------------------------------------------------------------------------------

    def renew(self, entry: ScanEntry) -> Outcome:
        """Renew one lineage; every failure becomes an :class:`Outcome`, never an exception."""
        lock = self.store.lineage_lock(entry.name)
        try:
            if not lock.try_acquire():
                return Outcome(
                    entry.name,
                    "skipped",
                    list(entry.state.names),
                    "another run is renewing it right now",
                )
        except CertbotLikeError as exc:
            return Outcome(
                entry.name, "failed", list(entry.state.names), exc.one_line(), exc.exit_code
            )
        try:
            return self._renew_locked(entry)
        except CertbotLikeError as exc:
            self._record_failure(entry, exc)
            return Outcome(
                entry.name,
                "failed",
                list(entry.state.names),
                exc.one_line(),
                exc.exit_code,
                entry.state.not_after,
            )
        except Exception as exc:
            logger.exception("Unexpected error renewing %s", entry.name)
            return Outcome(
                entry.name,
                "failed",
                list(entry.state.names),
                f"unexpected internal error: {type(exc).__name__}",
                1,
            )
        finally:
            lock.release()

    def _renew_locked(self, entry: ScanEntry) -> Outcome:
        before = entry.state.token
        fresh = scan_one(self.store, entry.name, entry.state)
        if fresh.problem:
            return Outcome(entry.name, "failed", [], fresh.problem, 3)
        lineage = self.lineage(entry, fresh=fresh.state.token != before)
        if fresh.state.token != before:  # renewed by someone else meanwhile
            verdict, moment = decide(fresh, self.state, time.time(), False)
            if verdict != "due" and not self.opts.overrides.force:
                return Outcome(
                    entry.name,
                    "not-due",
                    list(fresh.state.names),
                    None,
                    0,
                    fresh.state.not_after,
                    moment,
                )
        req = request_from_conf(lineage, list(fresh.state.names), self.opts.overrides)
        ca = ca_for(
            lineage.params,
            self.run.ca,
            server_override=self.opts.server_override,
            bundle_override=self.opts.bundle_override,
            dry_run=self.run.dry_run,
        )
        server = self.state.servers.get(ca.server)
        replaces = fresh.state.cert_id if server and server.ari and not self.run.dry_run else None
        job = Issuance(
            ca,
            req,
            Target("renew", entry.name, lineage),
            account_id=lineage.params.account,
            register=self.run.dry_run,
            dry_run=self.run.dry_run,
            replaces=replaces,
        )
        hooks = IssuanceHooks(
            self.rules,
            pre_hook=req.hooks.pre_hook,
            post_hook=req.hooks.post_hook,
            deploy_hook=req.hooks.deploy_hook,
            strict_deploy=False,
            reloads=self.reloads,
        )
        done = perform(
            self.pools, self.run, job, hooks, then=lambda r: self._renewed(entry, req, r)
        )
        result = done.result
        status = "dry-run" if self.run.dry_run else "renewed"
        if done.deploy_error:
            return Outcome(
                entry.name,
                status,
                list(result.names),
                f"renewed, but {done.deploy_error}",
                done.deploy_exit_code,
                result.not_after.timestamp(),
            )
        return Outcome(
            entry.name, status, list(result.names), None, 0, result.not_after.timestamp()
        )

    def _renewed(self, entry: ScanEntry, req: CertRequest, result: ObtainResult) -> ObtainResult:
        """Record a renewal (before its deploy hooks): the state, the installer to reload."""
        with self._state_lock:
            self.state.dirty = True
            st = entry.state
            st.retry_not_before = st.last_error = None
            st.ari_cert_id = st.ari_renew_at = st.ari_next_check = None
            st.ari_window = None
            if result.facts is not None:  # the scan at the end of the run need not parse
                with contextlib.suppress(CertbotLikeError):
                    remember(self.store, entry, result.facts)
        if req.installer is not None and not self.run.dry_run:
            with self._state_lock:
                self.installed.append((req.installer, entry.name))
        return result

    def reload_installers(self, outcomes: dict[str, Outcome]) -> None:
        """Reload each installer used by a renewed lineage once (after all renewals), then
        run each ``--deploy-reload`` command once (a failing one is only reported, as a
        deploy hook); a failing installer marks its lineages' outcomes (exit 4) but keeps
        their new certificates."""
        self.reloads.run(self.hooks)  # a failure is reported, as a failing deploy hook's
        if not self.installed:
            return
        from certbot_like.errors import InstallerError
        from certbot_like.services.install import reload_after_renewal

        for choice in {c.spec.name: c for c, _ in self.installed}.values():
            problems = reload_after_renewal(self.run.layout, [choice], self.display, self.hooks)
            for problem in problems:
                for used, name in self.installed:
                    if used.spec.name == choice.spec.name and name in outcomes:
                        outcome = outcomes[name]
                        outcome.reason = f"renewed, but {problem}"
                        outcome.exit_code = InstallerError.exit_code

    def _record_failure(self, entry: ScanEntry, exc: CertbotLikeError) -> None:
        if isinstance(exc, AcmeError) and exc.retry_after:
            with self._state_lock:
                self.state.dirty = True
                entry.state.retry_not_before = time.time() + exc.retry_after
                entry.state.last_error = exc.one_line()
