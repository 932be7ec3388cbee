"""The shared DNS-01 machinery of every DNS authenticator plugin (no entry point of its own).

This module is imported to build ``--help``: it holds only :class:`DnsOptions`, the options
every DNS plugin shares, and a helper for credentials paths. The mechanics live in
:mod:`.base` (the authenticator), :mod:`.lookup` (zones, nameservers, CNAMEs),
:mod:`.delegation`, :mod:`.propagation` and :mod:`.credentials`, all imported only when a DNS
plugin is used.

A DNS plugin's options dataclass subclasses :class:`DnsOptions`, so the shared fields are
declared once, with identical flags, defaults and help in every plugin (the CLI merges plugin
flags by field name), and adds its own ``dns_<plugin>_credentials`` and
``dns_<plugin>_propagation_seconds`` fields with certbot's names.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from certbot_like.interfaces import option

__all__ = ["DnsOptions", "absolute_paths"]


@dataclass(frozen=True)
class DnsOptions:
    """Options shared by every DNS plugin (same field names, flags and defaults in each)."""

    dns_propagation_timeout: float = option(
        "--dns-propagation-timeout",
        default=120.0,
        metavar="SECONDS",
        help="DNS plugins: longest wait for the TXT records to be served by every "
        "authoritative nameserver of their zone, which are polled every 0.5 s (not used when "
        "a fixed --dns-<plugin>-propagation-seconds wait is given)",
    )
    dns_resolver: str | None = option(
        "--dns-resolver",
        metavar="HOST[:PORT]",
        help="DNS plugins: DNS server used to find zones, their nameservers and CNAME "
        "delegations of _acme-challenge names (default: the system resolver)",
    )
    dns_nameserver_port: int = option(
        "--dns-nameserver-port",
        default=53,
        metavar="PORT",
        help="DNS plugins: port on which the authoritative nameservers are queried when "
        "checking propagation",
    )


def absolute_paths(*fields: str) -> Callable[[Any, Sequence[tuple[str, str]]], Any]:
    """A ``PluginSpec.resolve_options`` that makes the named path options absolute.

    The renewal conf stores what the operator gave; an absolute credentials path keeps an
    unattended renewal (run from another directory) working, as certbot does.
    """

    def resolve(options: Any, ordered: Sequence[tuple[str, str]]) -> Any:
        changes = {
            name: os.path.abspath(os.path.expanduser(value))
            for name in fields
            if isinstance(value := getattr(options, name), str) and value
        }
        return dataclasses.replace(options, **changes) if changes else options

    return resolve
