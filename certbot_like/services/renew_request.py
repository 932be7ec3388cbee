"""Rebuild what a lineage was obtained with from its renewal conf, plus command-line overrides.

Values are restored with the types the plugin options dataclasses declare (never ``eval``);
the operator's flags on ``renew`` win over the conf and are stored back, as with certbot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from certbot_like.storage.renewal_conf import RenewalConf

CHALLENGE_ALIASES = {"http": "http-01", "dns": "dns-01", "tls-alpn": "tls-alpn-01"}


@dataclass(frozen=True)
class RenewOverrides:
    """What the operator set on the ``renew`` command line (applies to every lineage)."""

    params: Mapping[str, Any] = field(default_factory=dict)
    authenticator: PluginChoice | None = None
    installer: PluginChoice | None = None
    plugin_values: Mapping[str, Any] = field(default_factory=dict)
    new_key: bool = False
    force: bool = False
    hook_timeout: float = 300.0


def _choice(
    conf: RenewalConf, role: str, override: PluginChoice | None, plugin_values: Mapping[str, Any]
) -> PluginChoice | None:
    from certbot_like.plugin_registry import get

    name = override.spec.name if override else conf.get_str(role)
    if not name or name == "None":
        return None
    spec = get(name, role)
    kinds = {k.name for k in field_kinds(spec.options)}
    values = dict(override.options.__dict__) if override else {}
    values.update({k: v for k, v in plugin_values.items() if k in kinds})
    options = options_from_conf(spec.options, conf, overrides=values)
    user_set = frozenset(k for k in kinds if k in conf.params or k in values)
    return PluginChoice(spec=spec, options=options, user_set=user_set)


def _challenges(values: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        kind = CHALLENGE_ALIASES.get(value.strip().lower(), value.strip().lower())
        if kind and kind not in out:
            out.append(kind)
    return tuple(out)


def _get(conf: RenewalConf, overrides: RenewOverrides, key: str) -> Any:
    if key in overrides.params:
        return overrides.params[key]
    return conf.get_str(key)


def identifiers_of(names: list[str], conf: RenewalConf) -> tuple[Identifier, ...]:
    """The lineage's names (from its current certificate) as identifiers.

    Raises:
        ConfigError: a name in the certificate is not valid.
    """
    try:
        return tuple(parse_identifier(n) for n in names)
    except Exception as exc:
        raise ConfigError(
            f"{conf.path}: the certificate holds an invalid name: {exc}",
            "Obtain a new certificate for this lineage",
        ) from None


def request_from_conf(
    conf: RenewalConf, names: list[str], overrides: RenewOverrides
) -> CertRequest:
    """A :class:`CertRequest` equivalent to the one the lineage was obtained with.

    Raises:
        ConfigError: the conf lacks an authenticator or holds a malformed value.
        UsageError, PluginError: the stored plugin is unknown or cannot run here.
    """
    authenticator = _choice(conf, "authenticator", overrides.authenticator, overrides.plugin_values)
    if authenticator is None:
        raise ConfigError(
            f"{conf.path} names no authenticator",
            "Run `certbot-like reconfigure` or obtain the certificate again",
        )
    installer = _choice(conf, "installer", overrides.installer, overrides.plugin_values)
    key_type = str(_get(conf, overrides, "key_type") or "rsa")
    rsa_size = _get(conf, overrides, "rsa_key_size")
    curve = _get(conf, overrides, "elliptic_curve")
    key = KeySpec(
        key_type=key_type,  # type: ignore[arg-type]  # KeySpec validates
        rsa_key_size=int(rsa_size) if rsa_size else 2048,
        elliptic_curve=str(curve) if curve else "secp256r1",
    )
    key_set = frozenset(
        k
        for k in ("key_type", "rsa_key_size", "elliptic_curve")
        if k in conf.params or k in overrides.params
    )
    pref = overrides.params.get("pref_challs")
    prefs = _challenges(list(pref) if pref is not None else conf.get_list("pref_challs"))
    reuse = overrides.params.get("reuse_key")
    required = _get(conf, overrides, "required_profile")
    preferred = _get(conf, overrides, "preferred_profile")
    return CertRequest(
        identifiers=identifiers_of(names, conf),
        authenticator=authenticator,
        installer=installer,
        cert_name=conf.name,
        key=key,
        key_user_set=key_set,
        reuse_key=bool(reuse) if reuse is not None else conf.get_bool("reuse_key"),
        new_key=overrides.new_key,
        preferred_challenges=prefs,
        preferred_chain=_get(conf, overrides, "preferred_chain"),
        profile=required or preferred,
        profile_required=bool(required),
        force_renewal=overrides.force,
        hooks=HookSettings(
            pre_hook=_get(conf, overrides, "pre_hook"),
            post_hook=_get(conf, overrides, "post_hook"),
            deploy_hook=_get(conf, overrides, "deploy_hook"),
            timeout=overrides.hook_timeout,
        ),
        renew_before_expiry=conf.get_str("renew_before_expiry"),
    )


def ca_for(
    conf: RenewalConf,
    base: CaSettings,
    *,
    server_override: str | None,
    bundle_override: Path | None,
    dry_run: bool,
) -> CaSettings:
    """The CA a lineage renews with: its stored server (staging for a production dry run)."""
    server = server_override or conf.get_str("server") or base.server
    if dry_run and server == LE_PRODUCTION:
        server = LE_STAGING
    bundle = bundle_override or (Path(b) if (b := conf.get_str("ca_bundle")) else None)
    return CaSettings(
        server=server,
        ca_bundle=bundle,
        http_timeout=base.http_timeout,
        issuance_timeout=base.issuance_timeout,
    )
