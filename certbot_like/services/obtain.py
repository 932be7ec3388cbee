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
from certbot_like.interfaces import Authenticator, HookRunner, Identifier
from certbot_like.names import check_lineage_name, lineage_name_for
from certbot_like.services import lineages
from certbot_like.services.accounts import UserDisplay, load_session
from certbot_like.services.due import is_due
from certbot_like.services.fleet import fleet_store
from certbot_like.services.issue import (
    ObtainResult,
    Target,
    deploy_env,
    first_choice_types,
    issue_and_store,
    make_plugin,
    run_hook,
)
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
    exact, subset = lineages.find_by_names(store, req.identifiers)
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
    plan = _plan(run, req, display)
    if plan.action == "kept" and plan.existing is not None:
        kept = _kept_result(plan.existing)
        return kept if run.dry_run else _install(run, req, kept, display, hooks)
    store = run.store
    if not run.dry_run and plan.action != "csr":
        store.prepare_writes()
    authenticator: Authenticator = make_plugin(
        req.authenticator, run.layout, display, hooks, run.dry_run, fleet_store(run)
    )
    authenticator.prepare(first_choice_types(req, authenticator))
    target = Target(plan.action, plan.name, plan.existing.lineage if plan.existing else None)
    try:
        session = load_session(store, run.ca, run.account, display)
        try:
            run_hook(hooks, req.hooks.pre_hook, {}, "pre-hook")
            try:
                result = issue_and_store(
                    store, run.ca, req, target, session, authenticator, dry_run=run.dry_run
                )
                if result.action in ("issued", "renewed"):
                    result = _install(run, req, result, display, hooks)
                    run_hook(hooks, req.hooks.deploy_hook, deploy_env(result), "deploy-hook")
                return result
            finally:
                run_hook(hooks, req.hooks.post_hook, {}, "post-hook", raise_errors=False)
        finally:
            session.close()
    finally:
        authenticator.cleanup([])  # releases what prepare() took, even with no tasks


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
    if not req.install or req.installer is None or result.lineage is None:
        return result
    from dataclasses import replace

    from certbot_like.services.install import Enhancements, deploy_target, install

    live = {k: v for k, v in result.paths.items() if k != "renewal_conf"}
    target = deploy_target(result.lineage, req.identifiers, live)
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
