"""The ``[renewalparams]`` of a lineage as one typed value.

:class:`RenewalParams` has a typed field for every key certbot 5.8 restores generically
(``certbot/_internal/renewal.py``: its STR, INT and BOOL config items and ``pref_challs``)
and every key certbot-like writes. Everything else (a plugin's options, keys of plugins we
do not know, an administrator's own lines) stays in :attr:`RenewalParams.extra` as the raw
configobj values and round-trips untouched. A plugin's fields are typed by that plugin's
options dataclass (:func:`certbot_like.plugin_options.options_from_conf`), not here.

Parsing is done once, when the conf is read: a malformed typed value is a
:class:`~certbot_like.errors.ConfigError` naming the file and the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from certbot_like.errors import ConfigError

ConfValue = str | list[str] | dict[str, Any]
TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})

# Typed keys, in the order they are written (certbot's order where it has one).
STR_KEYS = (
    "account",
    "server",
    "authenticator",
    "installer",
    "key_type",
    "rsa_key_size",  # int, listed here for the order only
    "elliptic_curve",
    "pref_challs",  # list
    "preferred_chain",
    "required_profile",
    "preferred_profile",
    "reuse_key",  # bool
    "must_staple",  # bool
    "allow_subset_of_names",  # bool
    "autorenew",  # bool
    "ca_bundle",
    "ca_allow_origin",  # list; certbot-like only (certbot ignores it)
    "pre_hook",
    "post_hook",
    "deploy_hook",
    "renew_before_expiry",
    "deploy_to",  # list: FORMAT:PATH targets (certbot-like only; certbot ignores them)
    "deploy_owner",
    "deploy_mode",
    "deploy_reload",
    "pkcs12_password_file",
    "pkcs12_legacy",  # bool
    "user_agent",
    "config_dir",
    "work_dir",
    "logs_dir",
    "notify",  # list: certbot-like's notification URLs for this lineage
)
INT_KEYS = frozenset({"rsa_key_size"})
BOOL_KEYS = frozenset(
    {"reuse_key", "must_staple", "allow_subset_of_names", "autorenew", "pkcs12_legacy"}
)
LIST_KEYS = frozenset({"pref_challs", "deploy_to", "ca_allow_origin", "notify"})
TYPED_KEYS = frozenset(STR_KEYS)


@dataclass(frozen=True)
class RenewalParams:
    """Typed ``[renewalparams]``; ``None`` (or an empty tuple) means the key is absent."""

    account: str | None = None
    server: str | None = None
    authenticator: str | None = None
    installer: str | None = None
    key_type: str | None = None
    rsa_key_size: int | None = None
    elliptic_curve: str | None = None
    pref_challs: tuple[str, ...] = ()
    preferred_chain: str | None = None
    required_profile: str | None = None
    preferred_profile: str | None = None
    reuse_key: bool | None = None
    must_staple: bool | None = None
    allow_subset_of_names: bool | None = None
    autorenew: bool | None = None
    ca_bundle: str | None = None
    ca_allow_origin: tuple[str, ...] = ()
    pre_hook: str | None = None
    post_hook: str | None = None
    deploy_hook: str | None = None
    renew_before_expiry: str | None = None
    deploy_to: tuple[str, ...] = ()
    deploy_owner: str | None = None
    deploy_mode: str | None = None
    deploy_reload: str | None = None
    pkcs12_password_file: str | None = None
    pkcs12_legacy: bool | None = None
    user_agent: str | None = None
    config_dir: str | None = None
    work_dir: str | None = None
    logs_dir: str | None = None
    notify: tuple[str, ...] = ()
    extra: Mapping[str, ConfValue] = field(default_factory=dict)

    # -- reading ---------------------------------------------------------------------------

    @classmethod
    def from_conf(cls, section: Mapping[str, Any], source: str = "renewal conf") -> RenewalParams:
        """Type the raw ``[renewalparams]`` *section* (as configobj reads it).

        ``renew_hook`` (certbot's old name) is read as ``deploy_hook``; certbot's ``None``
        string means absent.

        Raises:
            ConfigError: a typed key holds a value of the wrong kind (names *source*).
        """
        values: dict[str, Any] = {}
        extra: dict[str, ConfValue] = {}
        raw = dict(section)
        if "renew_hook" in raw and "deploy_hook" not in raw:
            raw["deploy_hook"] = raw.pop("renew_hook")
        for raw_key, value in raw.items():
            key = str(raw_key)
            if key not in TYPED_KEYS:
                extra[key] = _plain(value)
                continue
            typed = _typed(key, value, source)
            if typed is not None:
                values[key] = typed
        return cls(**values, extra=extra)

    def get(self, key: str) -> ConfValue | None:
        """The value of *key* as the conf stores it (a plugin reads its own fields so)."""
        if key in TYPED_KEYS:
            value = getattr(self, key)
            return None if value is None or value == () else _conf_value(value)
        return self.extra.get(key)

    def has(self, key: str) -> bool:
        """Whether *key* is present in the conf."""
        return self.get(key) is not None

    # -- writing ---------------------------------------------------------------------------

    def to_conf(self) -> dict[str, ConfValue]:
        """Every present key as a configobj value, typed keys first in certbot's order."""
        out: dict[str, ConfValue] = {}
        for key in STR_KEYS:
            value = self.get(key)
            if value is not None:
                out[key] = value
        for key, value in self.extra.items():
            out[key] = value
        return out

    def merged(self, values: Mapping[str, Any]) -> RenewalParams:
        """A copy with *values* set (typed keys to their fields, others to ``extra``);
        a value of ``None`` removes the key.

        Raises:
            ConfigError: a typed value is of the wrong kind.
        """
        changes: dict[str, Any] = {}
        extra = dict(self.extra)
        for given, value in values.items():
            key = "deploy_hook" if given == "renew_hook" else given
            if key in TYPED_KEYS:
                changes[key] = (
                    (() if key in LIST_KEYS else None)
                    if value is None
                    else _typed(key, _conf_value(value), "the new settings")
                )
            elif value is None:
                extra.pop(key, None)
            else:
                extra[key] = _conf_value(value)
        return dataclasses.replace(self, **changes, extra=extra)

    def overlay(self, top: RenewalParams) -> RenewalParams:
        """A copy where every key *top* sets (not None, not empty) replaces this one's."""
        changes = {
            f.name: getattr(top, f.name)
            for f in dataclasses.fields(self)
            if f.name != "extra" and getattr(top, f.name) not in (None, ())
        }
        extra = {**self.extra, **top.extra}
        return dataclasses.replace(self, **changes, extra=extra)

    def set_keys(self) -> frozenset[str]:
        """The keys present (typed and extra)."""
        return frozenset(self.to_conf())

    def without(self, keys: set[str] | frozenset[str]) -> RenewalParams:
        """A copy without *keys* (typed or not)."""
        return self.merged(dict.fromkeys(keys))

    def only_extra(self, drop: set[str] | frozenset[str]) -> RenewalParams:
        """A copy keeping only the ``extra`` keys not in *drop* (typed keys cleared)."""
        return RenewalParams(extra={k: v for k, v in self.extra.items() if k not in drop})


def _plain(value: Any) -> ConfValue:
    if hasattr(value, "items"):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return str(value)


def _bad(source: str, key: str, expected: str) -> ConfigError:
    return ConfigError(
        f"{source}: [renewalparams] {key} must be {expected}",
        "Fix or remove the line, or run `certbot-like reconfigure --cert-name NAME`",
    )


def _typed(key: str, value: Any, source: str) -> Any:
    """The typed value of *key*, or None when absent (``None`` string, empty)."""
    if hasattr(value, "items"):
        raise _bad(source, key, "a single value, not a [[section]]")
    if key in LIST_KEYS:
        if isinstance(value, list):
            items = value
        else:  # a URL may hold commas (mailto's to=a,b): one quoted value is one URL
            items = [value] if key == "notify" else str(value).split(",")
        cleaned = tuple(str(i).strip() for i in items if str(i).strip() and str(i) != "None")
        return cleaned or None
    text = ",".join(value) if isinstance(value, list) else str(value)
    if text == "None":
        return None
    if key in INT_KEYS:
        try:
            return int(text)
        except ValueError:
            raise _bad(source, key, "a whole number") from None
    if key in BOOL_KEYS:
        word = text.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise _bad(source, key, "True or False")
    return text


def _conf_value(value: Any) -> ConfValue:
    """A Python value as configobj stores it (strings, lists of strings, a subsection)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return str(value)
