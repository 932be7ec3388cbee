"""Fleet mode: ``fleet init``, ``fleet import`` and ``fleet sync`` (which ``renew`` also runs
at its start and end when ``--store`` names PostgreSQL).

Sync brings this node's config directory up to date with the store: the store's accounts
are written to ``accounts/`` (:mod:`certbot_like.storage.pg_local`), versions other nodes
stored are written as the file store writes them (archive, atomic ``live/`` swap), then the
deploy hooks (the lineage's stored ``deploy_hook`` and this node's
``renewal-hooks/deploy/``) run once per lineage that changed here, and each installer the
changed lineages name is reloaded once. A lineage this node renewed itself is already
current locally, so its hooks are not run a second time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from certbot_like.errors import (
    CertbotLikeError,
    ConfigError,
    DeployError,
    InstallerError,
    StorageError,
    StoreUnavailable,
)
from certbot_like.interfaces import HookRunner
from certbot_like.services.accounts import UserDisplay
from certbot_like.settings import PluginChoice, RunSettings

if TYPE_CHECKING:
    from certbot_like.storage.pg_store import PgStore

logger = logging.getLogger(__name__)
WAIT_POLL = 0.5


def fleet_store(run: RunSettings) -> PgStore | None:
    """The run's store when it is a fleet's (``--store``), else None."""
    if not run.store_url:
        return None
    from certbot_like.storage.pg_store import PgStore

    store = run.store
    return store if isinstance(store, PgStore) else None


def require_fleet_store(run: RunSettings) -> PgStore:
    """The fleet store of a ``fleet`` command.

    Raises:
        UsageError: no ``--store`` was given.
    """
    store = fleet_store(run)
    if store is None:
        from certbot_like.errors import UsageError

        raise UsageError(
            "`fleet` commands need --store postgresql://...",
            "Give --store, `store = URL` in cli.ini or CERTBOT_LIKE_STORE",
        )
    return store


@dataclass
class InitResult:
    schema_before: int
    schema_after: int
    key_created: bool
    key_file: str


def init(store: PgStore) -> InitResult:
    """Create or migrate the schema and the key file (idempotent).

    Raises:
        StoreUnavailable, StorageError, ConfigError: see :meth:`PgStore.initialize`.
    """
    before, after, created = store.initialize()
    return InitResult(before, after, created, str(store.key_file))


@dataclass
class ImportResult:
    accounts: list[str] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def import_local(store: PgStore) -> ImportResult:
    """Copy this node's accounts and lineages (every version, renewal settings and stored
    hooks) into the store; idempotent; a lineage the store holds differently is named
    in ``conflicts`` and left alone.

    Raises:
        StoreUnavailable, StorageError: the database failed.
        ConfigError: a local account or renewal conf cannot be read.
    """
    from certbot_like.storage.pg_fleet import import_lineage

    result = ImportResult()
    local = store.local
    for server, account_id in local.all_accounts():
        account = local.load_account(server, account_id)
        if account_id not in store.account_ids(server):
            store.save_account(account)
            result.accounts.append(account_id)
    for name in local.lineage_names():
        lineage = local.read_lineage(name)
        if lineage.version is None:
            raise ConfigError(
                f"{lineage.location}: the live links are broken ({'; '.join(lineage.problems)})",
                "Repair or delete the lineage, then import again",
            )
        versions = {v: local.read_files(name, v) for v in lineage.versions}
        outcome = import_lineage(store, name, versions, lineage.version, lineage.params)
        {"imported": result.imported, "present": result.present}.get(
            outcome, result.conflicts
        ).append(name)
    return result


@dataclass
class SyncResult:
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)  # account ids written locally
    problems: list[str] = field(default_factory=list)  # targets, hooks, reloads that failed
    left_alone: list[str] = field(default_factory=list)  # lineages that could not be copied
    failed_targets: int = 0  # --deploy-to targets not written (exit 12)
    failed_installers: int = 0  # installer reloads that failed (exit 4)

    @property
    def exit_code(self) -> int:
        """3: a lineage was left alone; 12: a deploy target failed; 4: an installer reload
        failed; a failing hook is only reported, as certbot does."""
        if self.left_alone:
            return ConfigError.exit_code
        if self.failed_targets:
            return DeployError.exit_code
        return InstallerError.exit_code if self.failed_installers else 0


def sync(
    store: PgStore,
    hooks: HookRunner,
    display: UserDisplay,
    *,
    directory_hooks: bool = True,
    wait_for: set[str] | None = None,
    wait_seconds: float = 0.0,
) -> SyncResult:
    """Bring the local config directory up to date; deploy hooks and installer reloads for
    what changed here. *wait_for*: lineages another node is renewing right now, waited for
    (at most *wait_seconds*) so that this run ends with their new versions.

    Raises:
        StoreUnavailable: the database cannot be reached (local files are untouched).
        StorageError: a local write failed.
    """
    from certbot_like.storage.pg_fleet import held_leases, record_node

    if wait_for:
        deadline = time.monotonic() + wait_seconds
        while held_leases(store, wait_for) and time.monotonic() < deadline:
            time.sleep(WAIT_POLL)
    result = SyncResult()
    from certbot_like.storage.pg_fleet import SyncMemo
    from certbot_like.storage.pg_local import copy_accounts

    result.accounts = copy_accounts(store, store.local)  # certbot on this node needs them
    memo = SyncMemo(store)
    stored = store.stored_versions()
    for name, (version, generation) in sorted(stored.items()):
        if version is None or memo.seen.get(name) == generation:
            continue
        try:  # settings changed elsewhere are copied too
            if store.materialize(name, check_local=name not in memo.seen):
                result.updated.append(name)
        except StoreUnavailable:
            raise
        except (ConfigError, StorageError) as exc:  # one lineage never stops the others
            result.left_alone.append(exc.one_line())
            continue
        memo.seen[name] = generation
    for name in sorted(set(memo.seen) - set(stored)):  # deleted on another node
        if store.local.has_lineage(name):
            store.local.delete_lineage(name)
            result.deleted.append(name)
        del memo.seen[name]
    memo.save()
    if result.updated:
        store.local.prepare_writes()
        _deploy(store, result, hooks, display, directory_hooks)
    record_node(store, synced=True)
    return result


def _deploy(
    store: PgStore,
    result: SyncResult,
    hooks: HookRunner,
    display: UserDisplay,
    directory_hooks: bool,
) -> None:
    from certbot_like.services.deploy import deploy, settings_of
    from certbot_like.services.hook_rules import HookRules
    from certbot_like.services.install import reload_after_renewal
    from certbot_like.services.reload_queue import ReloadQueue
    from certbot_like.services.renew_request import RenewOverrides, request_from_conf

    rules = HookRules(hooks, store.hook_dir if directory_hooks else None)
    reloads = ReloadQueue()
    installers: dict[str, PluginChoice] = {}
    for name in result.updated:
        lineage = store.local.read_lineage(name)
        facts = store.local.lineage_facts(name)
        live = str(lineage.live_dir)
        try:  # the lineage's --deploy-to targets, as a renewal on this node would write them
            settings = settings_of(lineage.params, lineage.location)
            if settings.targets:
                files = store.local.read_files(name)
                report = deploy(name, settings, files, store.layout.config_dir)
                result.problems += [f"{name}: {error}" for error in report.errors]
                result.failed_targets += len(report.errors)
                if settings.reload and report.changed:
                    reloads.add(settings.reload, name, live, facts.names)
        except CertbotLikeError as exc:
            result.problems.append(f"{name}: {exc.one_line()}")
        rules.deploy(lineage.params.deploy_hook, live, facts.names)  # certbot's order and rules
        result.problems += [f"{name}: {failure}" for failure in rules.failures]
        rules.failures.clear()
        if lineage.params.installer and lineage.params.installer != "None":
            try:
                req = request_from_conf(lineage, facts.names, RenewOverrides())
            except CertbotLikeError as exc:
                result.problems.append(f"{name}: {exc.one_line()}")
                continue
            if req.installer is not None:
                installers.setdefault(req.installer.spec.name, req.installer)
    result.problems += [f"{name}: {error}" for name, error in reloads.run(hooks).items()]
    if installers:
        failed = reload_after_renewal(store.layout, list(installers.values()), display, hooks)
        result.problems += failed
        result.failed_installers += len(failed)
    for problem in result.problems:
        logger.warning("fleet sync: %s", problem)
