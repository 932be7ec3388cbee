"""The ``obtain`` use case: decide, authenticate, issue, check, store, run hooks.

Everything that can fail without the CA fails before the first request: names, plugin
choice and ports, the writability of the config directory.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from certbot_like.errors import UsageError
from certbot_like.interfaces import HookRunner, Identifier
from certbot_like.names import check_lineage_name, lineage_name_for
from certbot_like.services import lineages
from certbot_like.services.accounts import UserDisplay
from certbot_like.services.hook_rules import HookRules
from certbot_like.services.issuance_run import Issuance, IssuanceHooks, OneShot, perform
from certbot_like.services.issue import ObtainResult, Target
from certbot_like.settings import CertRequest, RunSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Plan:
    action: str  # new | renew | kept | csr
    name: str | None
    existing: lineages.LineageInfo | None


def _plan(run: RunSettings, req: CertRequest, display: UserDisplay) -> _Plan:
    store = run.store
    if req.csr_der is not None:
        return _Plan("csr", None, None)
    if req.cert_name:
        name = check_lineage_name(req.cert_name)
        info = lineages.load_named(store, name)
        if info is None:
            return _Plan("new", name, None)
        if set(info.identifiers) != set(req.identifiers):
            logger.info("Changing the names of %s to %s", name, req.identifiers)
            return _Plan("renew", name, info)
        return _Plan(_due_action(info, req), name, info)
    exact, subset = (
        (None, None) if req.duplicate else lineages.find_by_names(store, req.identifiers)
    )
    if exact is not None:
        return _Plan(_due_action(exact, req), exact.name, exact)
    if subset is not None:
        if req.expand or display.confirm(
            f"Certificate {subset.name} covers {', '.join(subset.names)}. Expand it with "
            f"the new names?",
            default=False,
            flag_hint=f"Pass --expand to add the names to {subset.name}, or --cert-name "
            "NAME for a separate certificate",
        ):
            return _Plan("renew", subset.name, subset)
        raise UsageError(
            "Cancelled: the existing certificate was not expanded", "Pass --expand or --cert-name"
        )
    name = store.unused_name(check_lineage_name(lineage_name_for(req.identifiers)))
    return _Plan("new", name, None)


def _due_action(info: lineages.LineageInfo, req: CertRequest) -> str:
    if req.force_renewal or info.not_before is None or info.not_after is None or info.problems:
        return "renew"
    from certbot_like.services.due import is_due  # the renewal modules: only for a lineage

    before = info.params.renew_before_expiry if info.params else None
    return (
        "renew" if is_due(info.not_before, info.not_after, renew_before_expiry=before) else "kept"
    )


def obtain(
    run: RunSettings, req: CertRequest, display: UserDisplay, hooks: HookRunner
) -> ObtainResult:
    """Get (or keep, when not due) a certificate for *req* and store it.

    Raises:
        UsageError, ConfigError, PluginError, AcmeError, StorageError, HookError: see
        :mod:`certbot_like.errors`; on any of them the previous lineage is untouched.
    """
    _check_targets(run, req)
    plan = _plan(run, req, display)
    if plan.action == "kept" and plan.existing is not None:
        kept = _kept_result(plan.existing)
        if run.dry_run:
            return kept
        _deploy_kept(run, req, kept, hooks)
        return _install(run, req, kept, display, hooks)
    if not run.dry_run and plan.action != "csr":
        run.store.prepare_writes()
    job = Issuance(
        ca=run.ca,
        req=req,
        target=Target(plan.action, plan.name, plan.existing.lineage if plan.existing else None),
        dry_run=run.dry_run,
    )
    rules = HookRules(
        hooks,
        run.store.hook_dir if req.hooks.directory_hooks else None,
        dry_run=run.dry_run,
        run_deploy_hooks=req.hooks.run_deploy_hooks,
    )
    issuance_hooks = IssuanceHooks(
        rules,
        pre_hook=req.hooks.pre_hook,
        post_hook=req.hooks.post_hook,
        deploy_hook=req.hooks.deploy_hook,
    )
    with OneShot(run, display, hooks) as resources:
        return perform(
            resources,
            run,
            job,
            issuance_hooks,
            then=lambda result: _install(run, req, result, display, hooks),
        ).result


def _check_targets(run: RunSettings, req: CertRequest) -> None:
    """Refuse deploy targets that could never be written safely, before any CA request.

    Raises:
        DeployError: a target inside the config directory or behind another user's symlink.
    """
    if run.dry_run or not req.deploy.targets:
        return
    from certbot_like.deploy.writer import safe_path

    for target in req.deploy.targets:
        safe_path(target.path, run.layout.config_dir)


def _deploy_kept(run: RunSettings, req: CertRequest, kept: ObtainResult, hooks: HookRunner) -> None:
    """With ``--deploy-to`` on a certificate that is not due: store the targets in its
    renewal conf and write them now (then reload once, if one changed).

    Raises:
        DeployError: a target could not be written. HookError: the reload failed.
    """
    settings = req.deploy
    if not settings.targets or kept.lineage is None:
        return
    from certbot_like.services.deploy import redeploy

    store = run.store
    params = store.read_lineage(kept.lineage).params
    wanted = params.merged(settings.conf_values())
    if wanted != params:
        store.prepare_writes()
        store.write_params(kept.lineage, wanted)
    redeploy(run, [kept.lineage], hooks).raise_first()


def _install(
    run: RunSettings,
    req: CertRequest,
    result: ObtainResult,
    display: UserDisplay,
    hooks: HookRunner,
) -> ObtainResult:
    """Deploy a freshly stored certificate when an installer was asked for.

    Raises:
        PluginError, InstallerError: the installation failed and was rolled back; the
            certificate stays stored (install it later with ``certbot-like install``).
    """
    if result.action not in ("issued", "renewed", "kept"):
        return result  # nothing stored to install (a dry run, --csr)
    if not req.install or req.installer is None or result.lineage is None:
        return result
    from dataclasses import replace

    from certbot_like.services.install import Enhancements, deploy_target, install

    live = {k: v for k, v in result.paths.items() if k != "renewal_conf"}
    issued = tuple(i for i in req.identifiers if i.value in result.names)  # a subset, maybe
    target = deploy_target(result.lineage, issued, live)
    install(
        run.layout,
        req.installer,
        target,
        display,
        hooks,
        Enhancements(redirect=req.redirect, hsts=req.hsts),
    )
    return replace(result, installed_with=req.installer.spec.name)


def _kept_result(info: lineages.LineageInfo) -> ObtainResult:
    assert info.lineage is not None and info.not_after is not None
    return ObtainResult(
        action="kept",
        lineage=info.name,
        names=tuple(info.names),
        not_after=info.not_after,
        key_type=info.key_type or "",
        issuer=info.issuer or "",
        serial=info.serial or "",
        paths={**info.live, "renewal_conf": Path(info.location)},
    )


def identifiers_from(values: Sequence[str]) -> tuple[Identifier, ...]:
    """Parse ``-d`` values (comma lists allowed).

    Raises:
        UsageError: a name is invalid or none was given.
    """
    from certbot_like.names import parse_domain_args

    idents = tuple(parse_domain_args(values))
    if not idents:
        raise UsageError("No domain names given", "Pass one or more -d example.com")
    return idents
