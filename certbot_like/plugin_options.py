"""Plugin options dataclasses: typed values <-> renewal conf strings, without ``eval``.

A field's annotation decides how its value is stored and restored: ``str``, ``int``,
``float``, ``bool``, ``X | None``, ``tuple[str, ...]`` (a configobj list) and
``dict[str, str]`` (a configobj subsection, as certbot stores ``webroot_map``).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from typing import Any, NamedTuple

from certbot_like.errors import ConfigError, UsageError

if typing.TYPE_CHECKING:
    from certbot_like.storage.renewal_conf import RenewalConf
    from certbot_like.storage.renewal_params import RenewalParams


class FieldKind(NamedTuple):
    """How one options field is typed: ``base`` is str/int/float/bool/tuple/dict."""

    name: str
    base: str
    optional: bool
    field: dataclasses.Field[Any]

    @property
    def flags(self) -> tuple[str, ...]:
        flags: tuple[str, ...] = self.field.metadata.get("flags", ())
        return flags

    @property
    def default(self) -> Any:
        if self.field.default is not dataclasses.MISSING:
            return self.field.default
        if self.field.default_factory is not dataclasses.MISSING:
            return self.field.default_factory()
        return None


def _base_of(hint: Any) -> tuple[str, bool]:
    optional = False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) != len(typing.get_args(hint))
        hint = args[0]
        origin = typing.get_origin(hint)
    if origin is tuple or hint is tuple:
        return "tuple", optional
    if origin is dict or hint is dict:
        return "dict", optional
    for base in (bool, int, float, str):
        if hint is base:
            return base.__name__, optional
    raise TypeError(f"unsupported plugin option type {hint!r}")


_KINDS: dict[type[Any], tuple[FieldKind, ...]] = {}


def field_kinds(options_cls: type[Any]) -> tuple[FieldKind, ...]:
    """The typed fields of a plugin options dataclass (computed once per class)."""
    cached = _KINDS.get(options_cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(options_cls)
    kinds = []
    for fld in dataclasses.fields(options_cls):
        base, optional = _base_of(hints[fld.name])
        kinds.append(FieldKind(fld.name, base, optional, fld))
    _KINDS[options_cls] = tuple(kinds)
    return _KINDS[options_cls]


def parse_json_map(text: str, flag: str) -> dict[str, str]:
    """``--webroot-map`` style JSON object -> dict of strings.

    Raises:
        UsageError: not a JSON object of strings.
    """
    try:
        data = json.loads(text)
    except ValueError:
        raise UsageError(
            f"{flag} must be a JSON object", 'e.g. \'{"example.com": "/var/www"}\''
        ) from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise UsageError(
            f"{flag} must be a JSON object of strings", 'e.g. \'{"example.com": "/var/www"}\''
        )
    return {str(k): v for k, v in data.items()}


def build_options(options_cls: type[Any], values: Mapping[str, Any]) -> Any:
    """An options instance from already-typed *values* (missing fields keep defaults)."""
    known = {k.name for k in field_kinds(options_cls)}
    return options_cls(**{k: v for k, v in values.items() if k in known})


def options_to_conf(options: Any, keep: set[str] | None = None) -> dict[str, Any]:
    """Conf values for the fields of *options* (only those in *keep* when given)."""
    out: dict[str, Any] = {}
    for kind in field_kinds(type(options)):
        if keep is not None and kind.name not in keep:
            continue
        value = getattr(options, kind.name)
        if value is None or (kind.base in ("tuple", "dict") and not value):
            continue
        out[kind.name] = list(value) if kind.base == "tuple" else value
    return out


def _convert(params: RenewalParams, kind: FieldKind, source: str) -> Any:
    """The stored value of *kind*'s field, typed by its annotation.

    Raises:
        ConfigError: the stored value does not fit the type.
    """
    from certbot_like.storage.renewal_params import FALSE_WORDS, TRUE_WORDS

    value = params.get(kind.name)
    if kind.base == "dict":
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise _bad(source, kind.name, "a [[section]] of name = value lines")
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, dict):
        raise _bad(source, kind.name, "a single value" if kind.base != "tuple" else "a list")
    if kind.base == "tuple":
        if value is None or value == "None":
            return ()
        items = value if isinstance(value, list) else value.split(",")
        return tuple(i.strip() for i in items if i.strip())
    text = ",".join(value) if isinstance(value, list) else value
    if text is None or text == "None":
        return kind.default if kind.base != "bool" else bool(kind.default)
    if kind.base == "bool":
        word = text.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise _bad(source, kind.name, "True or False")
    if kind.base in ("int", "float"):
        try:
            return int(text) if kind.base == "int" else float(text)
        except ValueError:
            what = "a whole number" if kind.base == "int" else "a number"
            raise _bad(source, kind.name, what) from None
    return text


def _bad(source: str, key: str, expected: str) -> ConfigError:
    return ConfigError(
        f"{source}: [renewalparams] {key} must be {expected}",
        "Fix or remove the line, or run `certbot-like reconfigure --cert-name NAME`",
    )


def options_from_conf(
    options_cls: type[Any],
    conf: RenewalParams | RenewalConf,
    overrides: Mapping[str, Any] | None = None,
) -> Any:
    """Restore a plugin's options from a lineage's stored parameters, typed by the
    dataclass annotations.

    *overrides* (values the operator set on this command line) win over the stored ones.

    Raises:
        ConfigError: a stored value does not fit its type.
    """
    from certbot_like.storage.renewal_conf import RenewalConf

    if isinstance(conf, RenewalConf):
        params, source = conf.params, str(conf.path)
    else:
        params, source = conf, "renewal conf"
    values: dict[str, Any] = {}
    for kind in field_kinds(options_cls):
        if overrides and kind.name in overrides:
            values[kind.name] = overrides[kind.name]
        elif params.has(kind.name):
            values[kind.name] = _convert(params, kind, source)
    return options_cls(**values)
