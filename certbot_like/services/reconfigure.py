"""Changing how a lineage renews, only after a dry run with the new settings succeeded
against its CA; on failure the renewal conf is left byte for byte as it was."""

from __future__ import annotations

import dataclasses
import datetime
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certbot_like.errors import (
    ConfigError,
)
from certbot_like.interfaces import HookRunner
from certbot_like.services.accounts import UserDisplay
from certbot_like.services.renew_request import RenewOverrides, ca_for, request_from_conf
from certbot_like.settings import (
    PluginChoice,
    RunSettings,
)
from certbot_like.storage.renewal_params import RenewalParams
from certbot_like.storage.store import Lineage, Store

logger = logging.getLogger(__name__)

# -- reconfigure -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReconfigureResult:
    """The changed ``[renewalparams]`` keys as ``key -> (old, new)`` (None: absent)."""

    name: str
    conf_path: Path  # where the settings are, for the operator
    changes: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)
    dry_run_not_after: datetime.datetime | None = None


def _with_names(choice: PluginChoice, names: list[str]) -> PluginChoice:
    """Let a plugin that maps names (webroot) map the lineage's names, as for ``-d`` flags."""
    from certbot_like.plugin_options import field_kinds

    spec = choice.spec
    if spec.resolve_options is None:
        return choice
    options = spec.resolve_options(choice.options, [("domains", n) for n in names])
    changed = {k.name for k in field_kinds(spec.options) if getattr(options, k.name) != k.default}
    return dataclasses.replace(choice, options=options, user_set=choice.user_set | changed)


def _base_params(params: RenewalParams, new_authenticator: str) -> RenewalParams:
    """*params* without the options of an authenticator that is being replaced."""
    from certbot_like.plugin_options import field_kinds
    from certbot_like.plugin_registry import plugins

    old = params.authenticator
    if not old or old == new_authenticator:
        return params
    specs = plugins()
    old_spec, new_spec = specs.get(old), specs.get(new_authenticator)
    keep = {k.name for k in field_kinds(new_spec.options)} if new_spec else set()
    if old_spec is None:
        return params
    return params.without({k.name for k in field_kinds(old_spec.options)} - keep)


def _flat(value: Any) -> str | None:
    """A conf value as one comparable string (as it reads back from the file)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} = {v}" for k, v in value.items())
    return str(value)


def reconfigure(
    run: RunSettings,
    name: str,
    overrides: RenewOverrides,
    display: UserDisplay,
    hooks: HookRunner,
    *,
    server_override: str | None = None,
    bundle_override: Path | None = None,
    run_deploy_hooks: bool = False,
) -> ReconfigureResult:
    """Change how lineage *name* renews, after a dry run with the new settings succeeded.

    The new settings are the renewal conf with *overrides* applied (as ``renew`` applies its
    flags). The dry run renews against the lineage's CA (Let's Encrypt staging for a
    production lineage), running the pre- and post-hooks, the deploy hook only with
    *run_deploy_hooks*; nothing is stored from it. Only when it succeeds is the renewal conf
    rewritten (atomically, keeping comments and keys we do not manage).

    Raises:
        UsageError: no such lineage, or bad new settings.
        ConfigError: the lineage's conf or certificate is unreadable.
        PluginError, ValidationFailed, AcmeError, HookError: the dry run failed; the renewal
            conf is unchanged.
        StorageError: the new conf could not be written (the old one is intact).
    """
    from certbot_like.services.fleet import fleet_store
    from certbot_like.services.hook_rules import HookRules
    from certbot_like.services.issuance_run import Issuance, IssuanceHooks, perform
    from certbot_like.services.issue import Target, renewal_params
    from certbot_like.services.lineages import inspect
    from certbot_like.services.pools import AuthenticatorPool, Pools, SessionPool

    store = run.store
    info = inspect(store, name, check_key=False)
    if info.lineage is None:
        store.read_lineage(name)  # raises the reason (no such lineage, unreadable conf)
    lineage = info.lineage
    assert lineage is not None
    params_now = lineage.params
    if not info.identifiers:
        raise ConfigError(
            f"The current certificate of {name} cannot be read: "
            f"{'; '.join(info.problems) or 'no names'}",
            f"Obtain it again, or delete it with `certbot-like delete --cert-name {name}`",
        )
    req = request_from_conf(lineage, info.names, dataclasses.replace(overrides, force=True))
    if overrides.authenticator is not None:
        req = dataclasses.replace(req, authenticator=_with_names(req.authenticator, info.names))
    dry_ca = ca_for(
        params_now,
        run.ca,
        server_override=server_override,
        bundle_override=bundle_override,
        dry_run=True,
    )
    real_ca = ca_for(
        params_now,
        run.ca,
        server_override=server_override,
        bundle_override=bundle_override,
        dry_run=False,
    )
    account_id = params_now.account
    pools = Pools(
        AuthenticatorPool(run.layout, display, hooks, True, fleet_store(run)),
        SessionPool(store, run.account, display, run.connector()),
    )
    job = Issuance(dry_ca, req, Target("renew", name, lineage), account_id=account_id, dry_run=True)
    rules = HookRules(hooks, store.hook_dir, dry_run=True, run_deploy_hooks=run_deploy_hooks)
    issuance_hooks = IssuanceHooks(
        rules,
        pre_hook=req.hooks.pre_hook,
        post_hook=req.hooks.post_hook,
        deploy_hook=req.hooks.deploy_hook,
    )
    try:
        result = perform(pools, run, job, issuance_hooks).result
        session = pools.session(dry_ca, account_id, register=True)  # the one it used
    finally:
        pools.close()
    if account_id is None and dry_ca.server == real_ca.server:
        account_id = session.account.account_id  # never a staging account for production
    params = renewal_params(
        real_ca, req, account_id or "", _base_params(params_now, req.authenticator.spec.name)
    )
    return _store_changes(store, lineage, params, result.not_after)


def _store_changes(
    store: Store, lineage: Lineage, params: RenewalParams, not_after: datetime.datetime
) -> ReconfigureResult:
    """Write *params* when they differ from the lineage's (an empty hook removes it).

    Raises:
        StorageError, ConfigError: the new settings could not be written.
    """
    name = lineage.name
    removed = {  # `--pre-hook ''` removes a stored hook
        key for key in ("account", "pre_hook", "post_hook", "deploy_hook") if params.get(key) == ""
    }
    params = params.without(removed)
    location = Path(lineage.location)
    old = {k: _flat(v) for k, v in lineage.params.to_conf().items()}
    new = {k: _flat(v) for k, v in params.to_conf().items()}
    if new == old:
        return ReconfigureResult(name, location, {}, not_after)
    store.write_params(name, params)
    new = {k: _flat(v) for k, v in store.read_lineage(name).params.to_conf().items()}
    changes = {
        k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)
    }
    logger.info("Reconfigured %s: %s", name, ", ".join(changes) or "no changes")
    return ReconfigureResult(name, location, changes, not_after)
