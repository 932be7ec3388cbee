"""Which VirtualHost serves a name on a port, decided the way Apache decides (pure).

Apache picks a VirtualHost for a request in two steps (httpd's ``vhost.c``):

1. By the address the connection arrived on: the VirtualHosts whose address is that IP
   (and port, or ``*`` port) if any exist; otherwise those whose address is ``*`` or
   ``_default_`` with a matching port. An address without a port matches every port.
2. Among those, in configuration order, the first whose ``ServerName``, ``ServerAlias`` or
   wildcard ``ServerAlias`` (``*`` and ``?``, any case) matches the ``Host`` header; when
   none does, the first of them (the default) answers.

:func:`serving` gives the VirtualHosts Apache would answer a name with (one per address
group, defaults included), which is what HTTP-01 needs. :func:`choose` is the strict
version for installing a certificate: it returns one VirtualHost that *names* the host and
stops with an explanation when Apache's answer depends on the address, when a name is
listed twice, when a wildcard listed first hides an exact name, or when no VirtualHost
names the host and several could take it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

WILDCARD_HOSTS = ("*", "_default_")


class SelectionError(Exception):
    """No single VirtualHost can be chosen; ``str()`` explains why, ``hint`` how to fix it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class NoVhost(SelectionError):
    """No VirtualHost names the host."""


class AmbiguousVhost(SelectionError):
    """Several VirtualHosts could be meant."""


@dataclass(frozen=True)
class Address:
    """One address of a ``<VirtualHost>``: ``host`` is an IP, a name, ``*`` or
    ``_default_``; ``port`` is digits, ``*`` or empty (every port)."""

    host: str
    port: str = ""

    @classmethod
    def parse(cls, text: str) -> Address:
        """``*:80``, ``[2001:db8::1]:443``, ``192.0.2.1``, ``_default_:*`` ..."""
        text = text.strip().strip('"')
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            return cls(f"[{host.lower()}]", rest[1:] if rest.startswith(":") else "")
        if text.count(":") > 1:  # a bare IPv6 address
            return cls(f"[{text.lower()}]")
        host, _, port = text.partition(":")
        return cls(host.lower(), port)

    @property
    def wildcard(self) -> bool:
        return self.host in WILDCARD_HOSTS

    def serves_port(self, port: int) -> bool:
        """True when connections to *port* can reach this address."""
        return self.port in ("", "*") or (self.port.isdigit() and int(self.port) == port)

    def with_port(self, port: int) -> Address:
        return Address(self.host, str(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host


@dataclass(frozen=True)
class VHost:
    """A ``<VirtualHost>`` as far as choosing is concerned.

    ``key`` identifies it for the caller (its Augeas path); ``file`` and ``line`` say where
    it is; ``server_name`` is ``None`` when the block has none (it then inherits the
    server's name, given as ``inherited_name``).
    """

    key: str
    file: str
    line: int
    addresses: tuple[Address, ...]
    server_name: str | None = None
    aliases: tuple[str, ...] = ()
    ssl: bool = False
    inherited_name: str | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def names(self) -> tuple[str, ...]:
        """ServerName (or the inherited one) then every ServerAlias, lower case."""
        first = self.server_name or self.inherited_name
        return tuple(n.lower() for n in ([first] if first else []) + list(self.aliases))

    def serves_port(self, port: int) -> bool:
        return any(address.serves_port(port) for address in self.addresses)

    def match(self, name: str) -> str | None:
        """How this VirtualHost matches *name*: ``"exact"``, ``"wildcard"`` or ``None``.

        A wildcard identifier (``*.example.com``) matches only a ``ServerAlias`` that
        covers every name it stands for (``*.example.com`` itself, or ``*.com``).
        """
        name = name.lower().rstrip(".")
        for candidate in self.names:
            if "*" not in candidate and "?" not in candidate and candidate == name:
                return "exact"
        for candidate in self.names:
            if "*" in candidate or "?" in candidate:
                if candidate == name:
                    return "exact"
                if "*" not in name and "?" not in name and pattern_matches(candidate, name):
                    return "wildcard"
                if name.startswith("*.") and pattern_matches(candidate, "x-" + name[2:]):
                    return "wildcard" if candidate.startswith("*") else None
        return None


def pattern_matches(pattern: str, name: str) -> bool:
    """Apache's ``ap_strcasecmp_match``: ``*`` any run of characters, ``?`` one character."""
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, name, re.IGNORECASE) is not None


def address_groups(port: int, vhosts: Sequence[VHost]) -> dict[str, list[VHost]]:
    """The VirtualHosts a connection to *port* is matched against, per arrival address.

    Keys are a specific host (``192.0.2.1``, ``[::1]``) or ``*``; a specific host's group
    holds only the VirtualHosts with that address (Apache ignores ``*`` ones there).
    """
    groups: dict[str, list[VHost]] = {}
    for vhost in vhosts:
        for address in vhost.addresses:
            if not address.serves_port(port):
                continue
            key = "*" if address.wildcard else address.host
            members = groups.setdefault(key, [])
            if vhost not in members:
                members.append(vhost)
    return groups


def serving(name: str, port: int, vhosts: Sequence[VHost]) -> list[VHost]:
    """The VirtualHosts Apache answers *name* with on *port*: per arrival address the first
    that names it, else that address's default; empty when nothing listens on *port*."""
    found: list[VHost] = []
    for members in address_groups(port, vhosts).values():
        winner = next((v for v in members if v.match(name)), members[0])
        if winner not in found:
            found.append(winner)
    return found


def _describe(vhost: VHost) -> str:
    shown = vhost.server_name or vhost.inherited_name or "no ServerName"
    return f"{shown} ({vhost.where})"


def choose(name: str, port: int, vhosts: Sequence[VHost], *, fallback: bool = True) -> VHost:
    """The one VirtualHost that serves *name* on *port* and should get its certificate.

    With *fallback*, a port served by a single VirtualHost that names nothing matching
    still counts as that VirtualHost (a one-site server such as Debian's default site).

    Raises:
        NoVhost: nothing on *port* names *name* (and no single-site fallback applies).
        AmbiguousVhost: Apache's answer depends on the arrival address, *name* is listed in
            several VirtualHosts of one address, or a wildcard listed first hides the
            VirtualHost that names it exactly.
    """
    groups = address_groups(port, vhosts)
    if not groups:
        raise NoVhost(
            f"No VirtualHost listens on port {port}",
            f"Add a <VirtualHost *:{port}> with ServerName {name}, or pass the right "
            "--http-01-port/--https-port",
        )
    winners: dict[str, VHost] = {}
    for key, members in groups.items():
        winner = _winner(name, port, key, members)
        if winner is not None:
            winners[key] = winner
    distinct = list(dict.fromkeys(winners.values()))
    if len(distinct) > 1:
        where = "; ".join(f"{_describe(v)} on {key}:{port}" for key, v in winners.items())
        raise AmbiguousVhost(
            f"{name} is served by different VirtualHosts depending on the address: {where}",
            "Keep the name in one VirtualHost (or give it the same addresses in both)",
        )
    if distinct:
        return distinct[0]
    everyone = list(dict.fromkeys(v for members in groups.values() for v in members))
    if fallback and len(everyone) == 1:
        return everyone[0]
    first = groups.get("*", next(iter(groups.values())))[0]
    raise NoVhost(
        f"No VirtualHost on port {port} has ServerName or ServerAlias {name}; Apache "
        f"answers it with its default VirtualHost {_describe(first)}",
        f"Add `ServerAlias {name}` to the VirtualHost that should serve it",
    )


def _winner(name: str, port: int, key: str, members: Iterable[VHost]) -> VHost | None:
    matching = [(v, v.match(name)) for v in members]
    matching = [(v, how) for v, how in matching if how]
    if not matching:
        return None
    exact = [v for v, how in matching if how == "exact"]
    winner, how = matching[0]
    if len(exact) > 1:
        listed = " and ".join(_describe(v) for v in exact)
        raise AmbiguousVhost(
            f"{name} is named by {listed} on {key}:{port}; Apache uses only the first",
            "Remove the name from the VirtualHost that should not serve it",
        )
    if how == "wildcard" and exact:
        raise AmbiguousVhost(
            f"{name} is named by {_describe(exact[0])}, but Apache answers it with "
            f"{_describe(winner)} whose wildcard ServerAlias comes first on {key}:{port}",
            "Move the VirtualHost that names it before the wildcard one, or remove the name",
        )
    return winner
