"""What ``renew`` does in a fleet besides renewing: sync at its start (so it decides on the
versions other nodes stored) and at its end (so it ends with every new version, waiting for
the lineages another node was renewing while this one ran)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from certbot_like.errors import HookError
from certbot_like.interfaces import HookRunner
from certbot_like.services.accounts import UserDisplay
from certbot_like.services.due import RenewOptions, RenewReport
from certbot_like.services.fleet import SyncResult, fleet_store, sync
from certbot_like.settings import RunSettings

if TYPE_CHECKING:
    from certbot_like.storage.pg_store import PgStore

logger = logging.getLogger(__name__)


@dataclass
class FleetRun:
    """The fleet part of one ``renew``."""

    store: PgStore
    hooks: HookRunner
    display: UserDisplay
    opts: RenewOptions

    @classmethod
    def start(
        cls, run: RunSettings, opts: RenewOptions, display: UserDisplay, hooks: HookRunner
    ) -> FleetRun | None:
        """Sync before the scan; None without ``--store`` or in a dry run.

        Raises:
            StoreUnavailable: the database cannot be reached (nothing local was changed).
            LockError: another run holds this node's config directory.
        """
        store = fleet_store(run)
        if store is None or run.dry_run:
            return None
        fleet = cls(store, hooks, display, opts)
        fleet._sync(set())
        return fleet

    def finish(self, report: RenewReport) -> RenewReport:
        """Sync again (waiting up to one lease time for the lineages another node held) and
        record this node's run; hook failures of synced lineages mark their outcomes.

        Raises:
            StoreUnavailable: the database went away (the next run converges).
        """
        from certbot_like.storage.pg_fleet import record_node

        busy = {o.name for o in report.outcomes if o.status == "skipped"}
        result = self._sync(busy)
        by_name = {o.name: o for o in report.outcomes}
        for problem in [*result.left_alone, *result.problems]:
            name = problem.split(":", 1)[0]
            if name in by_name:
                by_name[name].reason = problem
                by_name[name].exit_code = HookError.exit_code
        for name in result.updated:
            if name in by_name and by_name[name].status == "skipped":
                by_name[name].reason = "renewed by another node; deployed here"
        record_node(self.store, ran=True)
        return report

    def _sync(self, busy: set[str]) -> SyncResult:
        with self.store.run_lock():
            result = sync(
                self.store,
                self.hooks,
                self.display,
                directory_hooks=self.opts.directory_hooks,
                wait_for=busy,
                wait_seconds=self.store.leases.lease_seconds,
            )
        if result.updated:
            logger.info("Copied from the fleet store: %s", ", ".join(result.updated))
        return result
