"""One issuance run, shared by ``obtain``, ``renew`` and ``reconfigure``.

The steps, in this order for all three: the authenticator is prepared (its ports bound, so
that what can fail without the CA fails first) -> the account session -> the pre-hook ->
order, validate, check and store (:func:`~certbot_like.services.issue.issue_and_store`) ->
the caller's step on the stored result (install, record the renewal) -> the deploy targets
(``--deploy-to``) -> the deploy hooks -> the targets' reload command (at once, or queued for
the end of the run) -> the post-hook, always.

What differs between the commands is data, not code: where the authenticator and session
come from (:class:`OneShot` for one certificate, the renewal pools for many), and which hooks
run here (:class:`IssuanceHooks`: ``renew`` runs its pre- and post-hooks once per run, so
they are absent here, and reports a failing deploy hook instead of raising it).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from certbot_like.errors import CertbotLikeError, DeployError, HookError
from certbot_like.interfaces import Authenticator, HookRunner
from certbot_like.services.accounts import Session, UserDisplay, load_session
from certbot_like.services.issue import (
    ObtainResult,
    Target,
    deploy_env,
    first_choice_types,
    issue_and_store,
    make_plugin,
    run_hook,
)
from certbot_like.settings import CaSettings, CertRequest, PluginChoice, RunSettings

if TYPE_CHECKING:
    from certbot_like.protocol.ca import CaConnector
    from certbot_like.services.deploy import DeployReport, ReloadQueue

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
            found = make_plugin(choice, self.run.layout, self.display, self.hooks, self.run.dry_run)
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


@dataclass(frozen=True)
class Issuance:
    """One certificate to issue: for which request, where to, with which CA and account."""

    ca: CaSettings
    req: CertRequest
    target: Target
    account_id: str | None = None  # None: the CA's stored account (or a new one)
    register: bool = True
    dry_run: bool = False
    replaces: str | None = None  # the ARI id of the certificate this one replaces


@dataclass(frozen=True)
class IssuanceHooks:
    """The hooks one issuance runs itself (None: not here; the caller runs it or none)."""

    runner: HookRunner
    pre_hook: str | None = None
    post_hook: str | None = None
    deploy_hook: str | None = None
    deploy_dir: Path | None = None  # ``renewal-hooks/deploy`` when directory hooks apply
    deploy_on_dry_run: bool = False
    strict_deploy: bool = True  # raise a failing deploy hook or target, else report it
    reloads: ReloadQueue | None = None  # None: run a target reload command at once


@dataclass(frozen=True)
class Performed:
    """The stored (or dry-run) result and a deploy hook's failure when it was reported."""

    result: ObtainResult
    deploy_error: str | None = None  # failed deploy targets, hooks or reload (reported)
    deploy_exit_code: int = 0


def perform(
    resources: Resources,
    run: RunSettings,
    job: Issuance,
    hooks: IssuanceHooks,
    then: Callable[[ObtainResult], ObtainResult] | None = None,
) -> Performed:
    """Run one issuance through every step (see the module docstring).

    *then* runs on a stored (or dry-run) result before the deploy hooks; what it raises
    stops the run there (the certificate stays stored).

    Raises:
        HookError: the pre-hook failed, or, with
            ``strict_deploy``, a deploy hook failed after the certificate was stored.
        UsageError, ConfigError, PluginError, AcmeError, ValidationFailed, StorageError,
        CertificateCheckFailed: nothing new was stored; the previous version stays live.
    """
    authenticator = resources.authenticator(job.req.authenticator)
    authenticator.prepare(first_choice_types(job.req, authenticator))
    session = resources.session(job.ca, job.account_id, register=job.register)
    run_hook(hooks.runner, hooks.pre_hook, {}, "pre-hook")
    try:
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
        targets = _deploy_targets(run, job, result, hooks)
        hook_error = _deploy(hooks, job, result)
        reload_error = _reload(run, job, result, hooks, targets)
        if targets is not None and targets.errors and hooks.strict_deploy:
            from certbot_like.services.deploy import raise_for

            raise_for(targets)
        if reload_error and hooks.strict_deploy:
            raise HookError(reload_error, "The certificate and its deploy targets are stored")
        errors = [*(targets.errors if targets else []), hook_error, reload_error]
        code = DeployError.exit_code if targets and targets.errors else HookError.exit_code
        found = "; ".join(e for e in errors if e)
        return Performed(result, found or None, code if found else 0)
    finally:
        run_hook(hooks.runner, hooks.post_hook, {}, "post-hook", raise_errors=False)


def _deploy_targets(
    run: RunSettings, job: Issuance, result: ObtainResult, hooks: IssuanceHooks
) -> DeployReport | None:
    """Write the lineage's ``--deploy-to`` targets from the version just stored."""
    settings = job.req.deploy
    if not settings.targets or result.action not in ("issued", "renewed") or not result.lineage:
        return None
    from certbot_like.services.deploy import deploy

    files = run.store.read_files(result.lineage)
    return deploy(result.lineage, settings, files, run.layout.config_dir)


def _reload(
    run: RunSettings,
    job: Issuance,
    result: ObtainResult,
    hooks: IssuanceHooks,
    targets: DeployReport | None,
) -> str | None:
    """Run (or queue) the targets' reload command when a target changed."""
    command = job.req.deploy.reload
    if not command or targets is None or not targets.changed:
        return None
    from certbot_like.services.deploy import ReloadQueue

    queue = hooks.reloads if hooks.reloads is not None else ReloadQueue()
    live = str(result.paths["fullchain"].parent) if result.paths else ""
    queue.add(command, targets.lineage, live, result.names)
    if hooks.reloads is not None:
        return None  # the run reloads once at its end
    failed = queue.run(hooks.runner)
    return failed.get(targets.lineage)


def _deploy(hooks: IssuanceHooks, job: Issuance, result: ObtainResult) -> str | None:
    """Run the deploy hook, then the deploy directory's executables.

    Raises:
        HookError: one failed and ``hooks.strict_deploy`` is set.
    """
    from certbot_like.hooks import run_hook_dir

    stored = result.action in ("issued", "renewed")
    if not stored and not (result.action == "dry-run" and hooks.deploy_on_dry_run):
        return None
    if result.paths:
        env = deploy_env(result)
    else:  # a dry run: the lineage as it is
        assert job.target.lineage is not None
        env = {
            "RENEWED_LINEAGE": str(job.target.lineage.live_dir),
            "RENEWED_DOMAINS": " ".join(result.names),
        }
    errors: list[str] = []
    steps: list[Callable[[], object]] = []
    if hooks.deploy_hook:
        command = hooks.deploy_hook
        steps.append(lambda: hooks.runner.run(command, env, what="deploy-hook"))
    if hooks.deploy_dir is not None:
        where = hooks.deploy_dir
        steps.append(lambda: run_hook_dir(where, env, hooks.runner, "deploy-hook"))
    for step in steps:  # a failing deploy hook does not keep the next from running
        try:
            step()
        except CertbotLikeError as exc:
            if hooks.strict_deploy:
                raise
            errors.append(exc.one_line())
    return "; ".join(errors) or None
