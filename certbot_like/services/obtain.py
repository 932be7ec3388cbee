"""The ``obtain`` use case: decide, authenticate, issue, check, store, run hooks.

Everything that can fail without the CA fails before the first request: names, plugin
choice and ports, the writability of the config directory.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from certbot_like import __version__
from certbot_like.errors import CertbotLikeError, UsageError
from certbot_like.interfaces import Authenticator, Display, HookRunner, Identifier, PluginContext
from certbot_like.names import check_lineage_name, lineage_name_for
from certbot_like.plugin_options import options_to_conf
from certbot_like.protocol.issuance import Issuer, OrderRequest, allowed_challenges
from certbot_like.services import lineages
from certbot_like.services.accounts import Prompter, Session, load_session
from certbot_like.services.due import is_due
from certbot_like.settings import CertRequest, PluginChoice, RunSettings
from certbot_like.storage.lineage import CertFiles, LineageStore
from certbot_like.storage.renewal_conf import write_renewal_conf

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ObtainResult:
    """What happened, for the CLI to print (or emit as JSON)."""

    action: str  # issued | renewed | kept | dry-run | csr
    lineage: str | None
    names: tuple[str, ...]
    not_after: datetime.datetime
    key_type: str
    issuer: str
    serial: str
    paths: dict[str, Path]


class UserDisplay(Display, Prompter, Protocol):
    """Display for plugins plus prompts for the services (the CLI's TerminalDisplay)."""


@dataclass(frozen=True)
class _Plan:
    action: str  # new | renew | kept
    name: str | None
    existing: lineages.LineageInfo | None


def _plan(run: RunSettings, req: CertRequest, display: UserDisplay) -> _Plan:
    layout = run.layout
    if req.csr_der is not None:
        return _Plan("csr", None, None)
    if req.cert_name:
        name = check_lineage_name(req.cert_name)
        info = lineages.load_named(layout, name)
        if info is None:
            return _Plan("new", name, None)
        if set(info.identifiers) != set(req.identifiers):
            logger.info("Changing the names of %s to %s", name, req.identifiers)
            return _Plan("renew", name, info)
        return _Plan(_due_action(info, req), name, info)
    exact, subset = lineages.find_by_names(layout, req.identifiers)
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
    name = LineageStore(layout).unused_name(check_lineage_name(lineage_name_for(req.identifiers)))
    return _Plan("new", name, None)


def _due_action(info: lineages.LineageInfo, req: CertRequest) -> str:
    if req.force_renewal or info.not_before is None or info.not_after is None or info.problems:
        return "renew"
    before = info.conf.get_str("renew_before_expiry") if info.conf else None
    return (
        "renew" if is_due(info.not_before, info.not_after, renew_before_expiry=before) else "kept"
    )


def _first_choice_types(req: CertRequest, authenticator: Authenticator) -> list[str]:
    types: list[str] = []
    for ident in req.identifiers:
        kind = allowed_challenges(ident, authenticator, req.preferred_challenges)[0]
        if kind not in types:
            types.append(kind)
    return types


def make_plugin(choice: PluginChoice, run: RunSettings, display: Display, hooks: HookRunner) -> Any:
    """Instantiate a plugin with its options and a context.

    Raises:
        PluginError: the plugin cannot be imported or built.
    """
    context = PluginContext(
        config_dir=run.layout.config_dir,
        work_dir=run.layout.work_dir,
        logs_dir=run.layout.logs_dir,
        display=display,
        hooks=hooks,
        dry_run=run.dry_run,
    )
    return choice.spec.load_factory()(choice.options, context)


def renewal_params(run: RunSettings, req: CertRequest, account_id: str) -> dict[str, Any]:
    """The ``[renewalparams]`` certbot (and we) need to renew this lineage unattended."""
    params: dict[str, Any] = {
        "account": account_id,
        "server": run.ca.server,
        "authenticator": req.authenticator.spec.name,
        "key_type": req.key.key_type,
    }
    if req.key.key_type == "rsa":
        params["rsa_key_size"] = req.key.rsa_key_size
    elif "elliptic_curve" in req.key_user_set or req.key.elliptic_curve != "secp256r1":
        params["elliptic_curve"] = req.key.elliptic_curve
    if req.installer:
        params["installer"] = req.installer.spec.name
    optional = {
        "pref_challs": list(req.preferred_challenges) or None,
        "preferred_chain": req.preferred_chain,
        "required_profile" if req.profile_required else "preferred_profile": req.profile,
        "reuse_key": True if req.reuse_key else None,
        "ca_bundle": str(run.ca.ca_bundle) if run.ca.ca_bundle else None,
        "pre_hook": req.hooks.pre_hook,
        "post_hook": req.hooks.post_hook,
        "deploy_hook": req.hooks.deploy_hook,
    }
    params.update({k: v for k, v in optional.items() if v is not None})
    for choice in (req.authenticator, req.installer):
        if choice is not None:
            params.update(options_to_conf(choice.options, set(choice.user_set)))
    return params


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
        return _kept_result(plan.existing)
    store = LineageStore(run.layout)
    if not run.dry_run and plan.action != "csr":
        store.check_writable()
        store.cleanup_staging()
    authenticator: Authenticator = make_plugin(req.authenticator, run, display, hooks)
    authenticator.prepare(_first_choice_types(req, authenticator))
    try:
        session = load_session(run.layout, run.ca, run.account, display)
        try:
            return _issue_and_store(run, req, plan, session, authenticator, store, hooks)
        finally:
            session.close()
    finally:
        authenticator.cleanup([])  # releases what prepare() took, even with no tasks


def _issue_and_store(
    run: RunSettings,
    req: CertRequest,
    plan: _Plan,
    session: Session,
    authenticator: Authenticator,
    store: LineageStore,
    hooks: HookRunner,
) -> ObtainResult:
    from certbot_like.crypto.certs import check_issued, describe_key, issuer_cn
    from certbot_like.crypto.csr import make_csr
    from certbot_like.crypto.keys import generate_key, key_to_pem, load_private_key, public_der

    key_pem = b""
    if req.csr_der is not None:
        csr_der, public_key = req.csr_der, req.csr_public_key or b""
    else:
        reuse = (
            plan.existing is not None
            and not req.new_key
            and (
                req.reuse_key
                or (plan.existing.conf is not None and plan.existing.conf.get_bool("reuse_key"))
            )
        )
        if reuse and plan.existing is not None and plan.existing.conf is not None:
            key_path = plan.existing.conf.live["privkey"]
            key = load_private_key(key_path.read_bytes(), str(key_path))
        else:
            key = generate_key(req.key)
        key_pem = key_to_pem(key)
        csr_der, public_key = make_csr(key, req.identifiers), public_der(key)
    order = OrderRequest(
        identifiers=req.identifiers,
        csr_der=csr_der,
        preferred_challenges=req.preferred_challenges,
        profile=req.profile,
        profile_required=req.profile_required,
        preferred_chain=req.preferred_chain,
        deadline_seconds=run.ca.issuance_timeout,
    )
    _run_hook(hooks, req.hooks.pre_hook, {}, "pre-hook")
    try:
        issued = Issuer(session.client, authenticator).issue(order)
        chain = check_issued(
            issued.fullchain_pem, public_key=public_key, identifiers=req.identifiers
        )
        files = CertFiles(
            privkey=key_pem,
            cert=chain.cert_pem,
            chain=chain.chain_pem,
            fullchain=chain.fullchain_pem,
        )
        leaf = chain.leaf

        def result(action: str, lineage: str | None, paths: dict[str, Path]) -> ObtainResult:
            return ObtainResult(
                action=action,
                lineage=lineage,
                paths=paths,
                names=tuple(i.value for i in req.identifiers),
                not_after=leaf.not_valid_after_utc,
                key_type=describe_key(leaf),
                issuer=issuer_cn(leaf),
                serial=format(leaf.serial_number, "x"),
            )

        if run.dry_run:
            return result("dry-run", plan.name, {})
        if req.csr_der is not None:
            paths = write_csr_outputs(req, files)
            return result("csr", None, paths)
        assert plan.name is not None
        info = plan.existing
        conf = info.conf if info else None
        store.save_version(
            plan.name,
            files,
            archive_dir=conf.archive_dir if conf else None,
            live_dir=conf.live["cert"].parent if conf else None,
        )
        conf_path = write_renewal_conf(
            run.layout, plan.name, renewal_params(run, req, session.account.account_id), __version__
        )
        live = (
            conf.live
            if conf
            else {
                k: run.layout.live_dir(plan.name) / f"{k}.pem"
                for k in ("cert", "privkey", "chain", "fullchain")
            }
        )
        paths = {**live, "renewal_conf": conf_path}
        _run_hook(
            hooks,
            req.hooks.deploy_hook,
            {
                "RENEWED_LINEAGE": str(live["cert"].parent),
                "RENEWED_DOMAINS": " ".join(i.value for i in req.identifiers),
            },
            "deploy-hook",
        )
        action = "issued" if plan.action == "new" else "renewed"
        return result(action, plan.name, paths)
    finally:
        _run_hook(hooks, req.hooks.post_hook, {}, "post-hook", raise_errors=False)


def _run_hook(
    hooks: HookRunner,
    command: str | None,
    env: dict[str, str],
    what: str,
    raise_errors: bool = True,
) -> None:
    if not command:
        return
    try:
        hooks.run(command, env, what=what)
    except CertbotLikeError:
        if raise_errors:
            raise
        logger.warning("%s failed", what, exc_info=True)


def write_csr_outputs(req: CertRequest, files: CertFiles) -> dict[str, Path]:
    """Write ``--csr`` results to the requested paths (or certbot's ``NNNN_*.pem`` names).

    Raises:
        StorageError: a file cannot be written.
    """
    from certbot_like.storage.atomic import PUBLIC_MODE, write_file

    out = req.csr_output
    chosen = {
        "cert": out.cert_path or _numbered("cert"),
        "chain": out.chain_path or _numbered("chain"),
        "fullchain": out.fullchain_path or _numbered("fullchain"),
    }
    for kind, path in chosen.items():
        write_file(path, files.by_kind()[kind], PUBLIC_MODE)
    return chosen


def _numbered(kind: str) -> Path:
    for counter in range(10000):
        candidate = Path.cwd() / f"{counter:04d}_{kind}.pem"
        if not candidate.exists():
            return candidate
    raise UsageError(f"Too many {kind} files in the current directory", f"Pass --{kind}-path")


def _kept_result(info: lineages.LineageInfo) -> ObtainResult:
    assert info.conf is not None and info.not_after is not None
    return ObtainResult(
        action="kept",
        lineage=info.name,
        names=tuple(info.names),
        not_after=info.not_after,
        key_type=info.key_type or "",
        issuer=info.issuer or "",
        serial=info.serial or "",
        paths={**info.conf.live, "renewal_conf": info.conf_path},
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
