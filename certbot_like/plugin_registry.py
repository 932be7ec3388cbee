"""Plugin discovery through the ``certbot_like.plugins`` entry-point group.

Our own plugins register exactly as a third-party package would. Discovery imports only each
plugin's light ``__init__`` (its :class:`PluginSpec` and options dataclass); the code that
does the work is imported when the plugin is used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

from certbot_like.errors import PluginError, UsageError
from certbot_like.interfaces import ENTRY_POINT_GROUP, PluginSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokenPlugin:
    """An entry point that could not be loaded, with the reason."""

    name: str
    reference: str
    reason: str


@cache
def discover() -> tuple[dict[str, PluginSpec], tuple[BrokenPlugin, ...]]:
    """Every plugin spec by name, plus the entry points that failed to load."""
    from importlib.metadata import entry_points

    specs: dict[str, PluginSpec] = {}
    broken: list[BrokenPlugin] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            spec = ep.load()
        except Exception as exc:
            broken.append(BrokenPlugin(ep.name, ep.value, f"{type(exc).__name__}: {exc}"))
            continue
        if not isinstance(spec, PluginSpec):
            broken.append(BrokenPlugin(ep.name, ep.value, "not a certbot_like PluginSpec"))
            continue
        if spec.name in specs:
            broken.append(BrokenPlugin(ep.name, ep.value, f"duplicate plugin name {spec.name}"))
            continue
        specs[spec.name] = spec
    return specs, tuple(broken)


def plugins() -> dict[str, PluginSpec]:
    """The loadable plugins by name."""
    return discover()[0]


def get(name: str, role: str) -> PluginSpec:
    """The plugin called *name*, checked to be able to act as *role*.

    Raises:
        UsageError: no such plugin, or it cannot act as *role*.
        PluginError: the plugin is installed but cannot run on this machine.
    """
    specs = plugins()
    spec = specs.get(name)
    if spec is None:
        known = ", ".join(sorted(n for n, s in specs.items() if getattr(s, role))) or "none"
        if name.startswith("dns-") and role == "authenticator":
            raise UsageError(
                f"Unknown authenticator {name!r}: a DNS plugin certbot-like does not map",
                f"Use --dns-lexicon --dns-lexicon-provider {name[4:]} with a "
                "--dns-lexicon-credentials file if dns-lexicon supports that provider "
                "(docs/dns.md lists them), e.g. through `certbot-like reconfigure`",
            )
        raise UsageError(
            f"Unknown {role} {name!r}", f"Available: {known}; see `certbot-like plugins`"
        )
    if not getattr(spec, role):
        raise UsageError(
            f"The {name} plugin is not an {role}",
            "See `certbot-like plugins` for what each plugin does",
        )
    reason = spec.unavailable_reason()
    if reason:
        raise PluginError(
            f"The {name} plugin cannot run here: {reason}", "See `certbot-like plugins`"
        )
    return spec
