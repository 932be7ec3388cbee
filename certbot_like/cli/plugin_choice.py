"""From parsed flags to the chosen authenticator/installer and their typed options."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

from certbot_like.cli.options import was_set
from certbot_like.errors import PluginError, UsageError
from certbot_like.settings import PluginChoice

DOMAIN_FLAGS = ("-d", "--domains", "--domain")


def choose_plugin_names(
    kw: Mapping[str, Any], *, need_authenticator: bool, both_roles: bool = False
) -> tuple[str | None, str | None]:
    """(authenticator, installer) names from ``-a``/``-i`` and ``--<plugin>`` flags.

    A ``--<plugin>`` flag picks that plugin as authenticator when it is one; with
    *both_roles* (the ``run`` and ``install`` commands) a plugin that is both also becomes the
    installer, as certbot's ``--nginx`` does.

    Raises:
        UsageError: conflicting choices, or no authenticator where one is needed.
    """
    from certbot_like.plugin_catalog import catalog

    specs = catalog()
    flagged = [n for n in specs if kw.get("plugin_" + n.replace("-", "_"))]
    auth_flags = [n for n in flagged if specs[n].authenticator]
    auth = kw.get("authenticator") or kw.get("configurator")
    chosen = set(auth_flags) | ({auth} if auth else set())
    if len(chosen) > 1:
        raise UsageError(
            f"Several authenticators chosen: {', '.join(sorted(chosen))}", "Pick exactly one"
        )
    auth = auth or (auth_flags[0] if auth_flags else None)
    installer = kw.get("installer") or kw.get("configurator")
    if installer is None:
        inst_flags = [
            n for n in flagged if specs[n].installer and (both_roles or not specs[n].authenticator)
        ]
        installer = inst_flags[0] if inst_flags else None
    if need_authenticator and auth is None:
        names = ", ".join(f"--{n}" for n, s in sorted(specs.items()) if s.authenticator)
        raise UsageError(
            "No authenticator chosen",
            f"Pass one of {names} (or -a NAME); see `certbot-like plugins`",
        )
    return auth, installer


def ordered_pairs(
    raw_args: Sequence[str], fields: Mapping[str, Sequence[str]]
) -> list[tuple[str, str]]:
    """``(field, value)`` for every occurrence of the given flags, in command-line order.

    *fields* maps a field name (or ``"domains"``) to its flags, e.g. ``{"webroot_path":
    ("-w", "--webroot-path")}``. Handles ``-w X``, ``-wX`` and ``--webroot-path=X``.
    """
    lookup = {flag: name for name, flags in fields.items() for flag in flags}
    pairs: list[tuple[str, str]] = []
    index = 0
    while index < len(raw_args):
        arg = raw_args[index]
        if arg == "--":
            break
        if arg in lookup and index + 1 < len(raw_args):
            pairs.append((lookup[arg], raw_args[index + 1]))
            index += 2
            continue
        if arg.startswith("--") and "=" in arg:
            flag, value = arg.split("=", 1)
            if flag in lookup:
                pairs.append((lookup[flag], value))
        elif arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:
            flag = arg[:2]
            if flag in lookup:
                pairs.append((lookup[flag], arg[2:]))
        index += 1
    return pairs


def build_choice(name: str, ctx: click.Context, kw: Mapping[str, Any]) -> PluginChoice:
    """The plugin *name* with options from the flags; ``user_set`` = what the operator gave.

    Raises:
        UsageError: an option value is malformed (e.g. bad JSON) or the plugin refuses it.
        PluginError: the plugin cannot run on this machine.
    """
    from certbot_like.plugin_catalog import spec_named
    from certbot_like.plugin_options import build_options, field_kinds, parse_json_map

    spec = spec_named(name)
    if spec is None:
        raise UsageError(f"Unknown plugin {name!r}", "See `certbot-like plugins`")
    reason = spec.unavailable_reason()
    if reason:  # e.g. an optional extra that is not installed: the line names it
        raise PluginError(
            f"The {name} plugin cannot run here: {reason}", "See `certbot-like plugins`"
        )
    values: dict[str, Any] = {}
    user_set: set[str] = set()
    for kind in field_kinds(spec.options):
        if kind.name not in kw:
            continue
        value = kw[kind.name]
        if kind.base == "dict":
            value = parse_json_map(value, kind.flags[0]) if value else {}
        elif kind.base == "tuple":
            value = tuple(value or ())
        if value is None:
            continue
        values[kind.name] = value
        if was_set(ctx, kind.name):
            user_set.add(kind.name)
    options = build_options(spec.options, values)
    if spec.resolve_options is not None:
        flags = {k.name: k.flags for k in field_kinds(spec.options)}
        flags["domains"] = DOMAIN_FLAGS
        pairs = ordered_pairs(ctx.meta.get("raw_args", []), flags)
        options = spec.resolve_options(options, pairs)
        user_set |= {
            k.name for k in field_kinds(spec.options) if getattr(options, k.name) != k.default
        }
    return PluginChoice(spec=spec, options=options, user_set=frozenset(user_set))
