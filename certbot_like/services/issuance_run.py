"""One issuance run, shared by ``obtain``, ``renew`` and ``reconfigure``.

The steps, in this order for all three: the authenticator is prepared (its ports bound, so
that what can fail without the CA fails first) -> the account session -> the pre-hook ->
order, validate, check and store (:func:`~certbot_like.services.issue.issue_and_store`) ->
the caller's step on the stored result (install, record the renewal) -> the deploy targets
(``--deploy-to``) -> the deploy hooks -> the targets' reload command (at once, or queued for
the end of the run) -> the post-hook, always.

The pre-hook comes first, before the authenticator binds its ports, because a pre-hook
typically stops the web server that holds port 80 (certbot's order). What differs between
the commands is data, not code: where the authenticator and session come from
(:class:`OneShot` for one certificate, the renewal pools for many), and how the hooks of the
run behave (:class:`~certbot_like.services.hook_rules.HookRules`: ``renew`` collects its
post-hooks for the end of the run, and reports a failing deploy target instead of raising).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, Protocol

from certbot_like.errors import DeployError
from certbot_like.interfaces import Authenticator, HookRunner
from certbot_like.services.accounts import Session, UserDisplay, load_session
from certbot_like.services.hook_rules import HookRules
from certbot_like.services.issue import (
    ObtainResult,
    Target,
    first_choice_types,
    issue_and_store,
    make_plugin,
)
from certbot_like.settings import CaSettings, CertRequest, PluginChoice, RunSettings

if TYPE_CHECKING:
    from certbot_like.protocol.ca import CaConnector
    from certbot_like.services.deploy import DeployReport
    from certbot_like.services.reload_queue import ReloadQueue

logger = logging.getLogger(__name__)


class Resources(Protocol):
    """Where an issuance gets its authenticator and its account session."""

    def authenticator(self, choice: PluginChoice) -> Authenticator:
        """The authenticator for *choice* (built once, cleaned up by the owner).

        Raises:
            PluginError: it cannot be built.
        """
        ...

    def session(self, ca: CaSettings, account_id: str | None, *, register: bool) -> Session:
        """An account session with *ca* (*account_id*, or the CA's stored account).

        Raises:
            ConfigError: no usable account and not *register*.
            UsageError, AcmeError: registration needs a decision or was refused.
        """
        ...


class OneShot:
    """Resources for one certificate (``obtain``): the operator's account settings, plugins
    built on first use; :meth:`close` cleans up the authenticators and closes sessions."""

    def __init__(
        self,
        run: RunSettings,
        display: UserDisplay,
        hooks: HookRunner,
        connector: CaConnector | None = None,
    ) -> None:
        self.run, self.display, self.hooks = run, display, hooks
        self.connector = connector or run.connector()
        self._authenticators: dict[str, Authenticator] = {}
        self._sessions: list[Session] = []

    def authenticator(self, choice: PluginChoice) -> Authenticator:
        found = self._authenticators.get(choice.spec.name)
        if found is None:
            fleet = None
            if self.run.store_url:  # fleet-http publishes its answers in the fleet's store
                from certbot_like.services.fleet import fleet_store

                fleet = fleet_store(self.run)
            found = make_plugin(
                choice, self.run.layout, self.display, self.hooks, self.run.dry_run, fleet
            )
            self._authenticators[choice.spec.name] = found
        return found

    def session(self, ca: CaSettings, account_id: str | None, *, register: bool) -> Session:
        settings = self.run.account
        if account_id and not settings.account_id:
            settings = dataclasses.replace(settings, account_id=account_id)
        session = load_session(
            self.run.store, ca, settings, self.display, register=register, connector=self.connector
        )
        self._sessions.append(session)
        return session

    def close(self) -> None:
        """Close the sessions and release what the authenticators hold (ports, files)."""
        for session in self._sessions:
            session.close()
        for authenticator in self._authenticators.values():
            authenticator.cleanup([])  # releases what prepare() took, even with no tasks

    def __enter__(self) -> OneShot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Issuance(NamedTuple):
    """One certificate to issue: for which request, where to, with which CA and account."""

    ca: CaSettings
    req: CertRequest
    target: Target
    account_id: str | None = None  # None: the CA's stored account (or a new one)
    register: bool = True
    dry_run: bool = False
    replaces: str | None = None  # the ARI id of the certificate this one replaces


class IssuanceHooks(NamedTuple):
    """The hooks of one issuance: the run's :class:`HookRules` and this lineage's commands."""

    rules: HookRules
    pre_hook: str | None = None
    post_hook: str | None = None
    deploy_hook: str | None = None
    strict_deploy: bool = True  # raise a failing deploy target, else report it
    reloads: ReloadQueue | None = None  # None: run a target reload command at once


class Performed(NamedTuple):
    """The stored (or dry-run) result and the deploy targets that failed, if any."""

    result: ObtainResult
    deploy_error: str | None = None  # failed deploy targets (reported, not raised)
    deploy_exit_code: int = 0


def perform(
    resources: Resources,
    run: RunSettings,
    job: Issuance,
    hooks: IssuanceHooks,
    then: Callable[[ObtainResult], ObtainResult] | None = None,
) -> Performed:
    """Run one issuance through every step (see the module docstring).

    *then* runs on a stored (or dry-run) result before the deploy targets and hooks; what
    it raises stops the run there (the certificate stays stored). Hooks that fail are
    reported and never stop the run (certbot's rule, :mod:`.hook_rules`).

    Raises:
        DeployError: with ``strict_deploy``, a deploy target could not be written (the
            certificate is stored).
        UsageError, ConfigError, PluginError, AcmeError, ValidationFailed, StorageError,
        CertificateCheckFailed: nothing new was stored; the previous version stays live.
    """
    hooks.rules.pre(hooks.pre_hook)
    renewed: list[str] = []
    try:
        authenticator = resources.authenticator(job.req.authenticator)
        authenticator.prepare(first_choice_types(job.req, authenticator))
        session = resources.session(job.ca, job.account_id, register=job.register)
        result = issue_and_store(
            run.store,
            job.ca,
            job.req,
            job.target,
            session,
            authenticator,
            dry_run=job.dry_run,
            replaces=job.replaces,
        )
        if then is not None:
            result = then(result)
        stored = result.action in ("issued", "renewed")
        if stored:
            renewed = list(result.names)
        targets = _deploy_targets(run, job, result)
        if stored or (result.action == "dry-run" and job.target.lineage is not None):
            hooks.rules.deploy(hooks.deploy_hook, _lineage_dir(job, result), result.names)
        _reload(job, result, hooks, targets)
        if targets is not None and targets.errors and hooks.strict_deploy:
            from certbot_like.services.deploy import raise_for

            raise_for(targets)
        if targets is not None and targets.errors:
            return Performed(result, "; ".join(targets.errors), DeployError.exit_code)
        return Performed(result)
    finally:
        hooks.rules.post(hooks.post_hook, renewed)


def _lineage_dir(job: Issuance, result: ObtainResult) -> str:
    if result.paths:
        return str(result.paths["fullchain"].parent)
    assert job.target.lineage is not None  # a dry run of an existing lineage
    return str(job.target.lineage.live_dir)


def _deploy_targets(run: RunSettings, job: Issuance, result: ObtainResult) -> DeployReport | None:
    """Write the lineage's ``--deploy-to`` targets from the version just stored."""
    settings = job.req.deploy
    if not settings.targets or result.action not in ("issued", "renewed") or not result.lineage:
        return None
    from certbot_like.services.deploy import deploy

    files = run.store.read_files(result.lineage)
    return deploy(result.lineage, settings, files, run.layout.config_dir)


def _reload(
    job: Issuance, result: ObtainResult, hooks: IssuanceHooks, targets: DeployReport | None
) -> None:
    """Run (or queue for the end of the run) the targets' reload command when a target
    changed; like a deploy hook, a failure is reported and the run goes on."""
    command = job.req.deploy.reload
    if not command or targets is None or not targets.changed:
        return
    from certbot_like.services.reload_queue import ReloadQueue

    queue = hooks.reloads if hooks.reloads is not None else ReloadQueue()
    queue.add(command, targets.lineage, _lineage_dir(job, result), result.names)
    if hooks.reloads is None:
        queue.run(hooks.rules.runner)
