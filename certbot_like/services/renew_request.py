"""Rebuild what a lineage was obtained with from its stored parameters, plus command-line
overrides.

Values are restored with the types :class:`~certbot_like.storage.renewal_params.RenewalParams`
and the plugin options dataclasses declare (never ``eval``); the operator's flags on
``renew`` win over the stored ones and are stored back, as with certbot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certbot_like.errors import ConfigError
from certbot_like.interfaces import Identifier
from certbot_like.keyspec import KeySpec
from certbot_like.names import parse_identifier
from certbot_like.plugin_options import field_kinds, options_from_conf
from certbot_like.settings import (
    LE_PRODUCTION,
    LE_STAGING,
    CaSettings,
    CertRequest,
    HookSettings,
    PluginChoice,
)
from certbot_like.storage.renewal_params import RenewalParams
from certbot_like.storage.store import Lineage

if TYPE_CHECKING:
    from certbot_like.deploy.settings import DeploySettings

KEY_FIELDS = ("key_type", "rsa_key_size", "elliptic_curve")


@dataclass(frozen=True)
class RenewOverrides:
    """What the operator set on the ``renew`` command line (applies to every lineage).

    ``params`` holds only the stored settings the operator set (the rest is None); they win
    over each lineage's own.
    """

    params: RenewalParams = field(default_factory=RenewalParams)
    authenticator: PluginChoice | None = None
    installer: PluginChoice | None = None
    plugin_values: Mapping[str, Any] = field(default_factory=dict)
    new_key: bool = False
    force: bool = False
    hook_timeout: float = 300.0


def _choice(
    params: RenewalParams,
    role: str,
    override: PluginChoice | None,
    plugin_values: Mapping[str, Any],
    source: str,
) -> PluginChoice | None:
    from certbot_like.plugin_catalog import get

    stored = params.authenticator if role == "authenticator" else params.installer
    name = override.spec.name if override else stored
    if not name or name == "None":
        return None
    spec = get(name, role)
    kinds = {k.name for k in field_kinds(spec.options)}
    values = dict(override.options.__dict__) if override else {}
    values.update({k: v for k, v in plugin_values.items() if k in kinds})
    options = options_from_conf(spec.options, params, overrides=values)
    user_set = frozenset(k for k in kinds if params.has(k) or k in values)
    return PluginChoice(spec=spec, options=options, user_set=user_set)


def identifiers_of(names: list[str], lineage: Lineage) -> tuple[Identifier, ...]:
    """The lineage's names (from its current certificate) as identifiers.

    Raises:
        ConfigError: a name in the certificate is not valid.
    """
    try:
        return tuple(parse_identifier(n) for n in names)
    except Exception as exc:
        raise ConfigError(
            f"{lineage.location}: the certificate holds an invalid name: {exc}",
            "Obtain a new certificate for this lineage",
        ) from None


def request_from_conf(lineage: Lineage, names: list[str], overrides: RenewOverrides) -> CertRequest:
    """A :class:`CertRequest` equivalent to the one the lineage was obtained with.

    Raises:
        ConfigError: the lineage names no authenticator or holds a malformed value.
        UsageError, PluginError: the stored plugin is unknown or cannot run here.
    """
    stored = lineage.params
    params = stored.overlay(overrides.params)
    source = lineage.location
    authenticator = _choice(
        stored, "authenticator", overrides.authenticator, overrides.plugin_values, source
    )
    if authenticator is None:
        raise ConfigError(
            f"{source} names no authenticator",
            "Run `certbot-like reconfigure` or obtain the certificate again",
        )
    installer = _choice(stored, "installer", overrides.installer, overrides.plugin_values, source)
    key = KeySpec(
        key_type=params.key_type or "rsa",  # type: ignore[arg-type]  # KeySpec validates
        rsa_key_size=params.rsa_key_size or 2048,
        elliptic_curve=params.elliptic_curve or "secp256r1",
    )
    present = stored.set_keys() | overrides.params.set_keys()
    return CertRequest(
        identifiers=identifiers_of(names, lineage),
        authenticator=authenticator,
        installer=installer,
        cert_name=lineage.name,
        key=key,
        key_user_set=frozenset(k for k in KEY_FIELDS if k in present),
        reuse_key=bool(params.reuse_key),
        new_key=overrides.new_key,
        preferred_challenges=_challenges(params.pref_challs),
        preferred_chain=params.preferred_chain,
        profile=params.required_profile or params.preferred_profile,
        profile_required=bool(params.required_profile),
        force_renewal=overrides.force,
        allow_subset_of_names=bool(params.allow_subset_of_names),
        hooks=HookSettings(
            pre_hook=params.pre_hook,
            post_hook=params.post_hook,
            deploy_hook=params.deploy_hook,
            timeout=overrides.hook_timeout,
        ),
        renew_before_expiry=stored.renew_before_expiry,
        deploy=_deploy_settings(params, source),
        notify=params.notify,
    )


def _challenges(values: tuple[str, ...]) -> tuple[str, ...]:
    """Stored ``pref_challs`` as challenge types, through the one parser the command line
    uses (an unknown stored type is kept: the authenticator then says it cannot use it)."""
    from certbot_like.challenges import parse_challenge_types
    from certbot_like.errors import UsageError

    try:
        return parse_challenge_types(values)
    except UsageError:
        return tuple(dict.fromkeys(v.strip().lower() for v in values if v.strip()))


def ca_for(
    params: RenewalParams,
    base: CaSettings,
    *,
    server_override: str | None,
    bundle_override: Path | None,
    dry_run: bool,
) -> CaSettings:
    """The CA a lineage renews with: its stored server (staging for a production dry run),
    and its stored ``ca_allow_origin`` unless *base* (the command line) names origins."""
    server = server_override or params.server or base.server
    if dry_run and server == LE_PRODUCTION:
        server = LE_STAGING
    bundle = bundle_override or (Path(params.ca_bundle) if params.ca_bundle else None)
    return CaSettings(
        server=server,
        ca_bundle=bundle,
        allow_origins=base.allow_origins or params.ca_allow_origin,
        http_timeout=base.http_timeout,
        issuance_timeout=base.issuance_timeout,
        user_agent=base.user_agent,
    )


def _deploy_settings(params: RenewalParams, source: str) -> DeploySettings:
    """The lineage's stored deploy targets; without any, the deploy modules stay unloaded.

    Raises:
        ConfigError: a malformed stored value.
    """
    stored = (
        params.deploy_to, params.deploy_owner, params.deploy_mode, params.deploy_reload,
        params.pkcs12_password_file, params.pkcs12_legacy,
    )  # fmt: skip
    if not any(stored):
        from certbot_like.deploy.settings import DeploySettings

        return DeploySettings()
    from certbot_like.services.deploy import settings_of

    return settings_of(params, source)
