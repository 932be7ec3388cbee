"""Which server block nginx uses for a name, by nginx's own rules (pure functions).

For a connection nginx first picks the listening *address* (an ``addr:port``: a server
listening on ``127.0.0.1:80`` is never considered for a connection to another address, and
one listening on ``*:80`` is not considered for connections to ``127.0.0.1:80`` when some
server listens there explicitly). Among the servers on that address it matches the host
name (the Host header, or SNI for TLS) against ``server_name``:

1. exact names;
2. the longest leading wildcard (``*.example.com``, ``.example.com`` which also matches
   ``example.com``);
3. the longest trailing wildcard (``mail.*``);
4. the first regular expression (``~...``) in configuration order;
5. otherwise the address's default server: the one marked ``default_server``, else the
   first server listening there.

Where nginx would silently pick one of several candidates (the same name in two server
blocks on one address: nginx warns "conflicting server name" and uses the first) or where
we cannot evaluate a rule (a regular expression Python cannot compile), :class:`Ambiguity`
is raised naming the competing blocks instead of guessing.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

DEFAULT_LISTEN_PORT = 80
WILDCARD_PROBE = "certbot-like-wildcard-probe"


class Ambiguity(ValueError):
    """nginx's choice is ambiguous or cannot be evaluated; ``hint`` says how to resolve it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True, order=True)
class Address:
    """A listening address: ``host`` is ``*`` (any IPv4), ``[::]`` (any IPv6), an IP
    address (IPv6 in brackets) or ``unix:PATH``."""

    host: str
    port: int

    @property
    def ipv6(self) -> bool:
        return self.host.startswith("[")

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Listen:
    """One ``listen`` directive as it affects selection."""

    address: Address
    ssl: bool = False
    default: bool = False


@dataclass(frozen=True)
class Server:
    """A server block: its position in configuration order, where it is (for messages),
    its ``server_name`` entries and its listens (``*:80`` when it has none)."""

    index: int
    where: str
    names: tuple[str, ...]
    listens: tuple[Listen, ...]

    def listens_on(self, address: Address) -> bool:
        return any(item.address == address for item in self.listens)


@dataclass(frozen=True)
class Match:
    """The server nginx uses and why: ``how`` is exact, wildcard, regex or default."""

    server: Server
    how: str
    rule: str

    @property
    def by_name(self) -> bool:
        return self.how != "default"


Resolver = Callable[[str], list[str]]


def resolve_host(host: str) -> list[str]:
    """IP addresses of a host name in a ``listen`` directive (as nginx resolves it).

    Raises:
        ValueError: the name does not resolve.
    """
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ValueError(f"host {host!r} in listen does not resolve: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _normal_host(host: str) -> str | None:
    """``*``/``[::]``/canonical IP text for an address, ``None`` when it is a host name."""
    if host in ("*", ""):
        return "*"
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        return None
    if ip.version == 6:
        return "[::]" if ip == ipaddress.IPv6Address("::") else f"[{ip.compressed}]"
    return "*" if ip == ipaddress.IPv4Address(0) else ip.compressed


def parse_listen(args: Sequence[str], resolve: Resolver = resolve_host) -> list[Listen]:
    """The listens of one ``listen`` directive (several when a host name resolves to
    several addresses; none for UNIX sockets and QUIC, which carry no TCP host lookup).

    Raises:
        ValueError: the directive is malformed.
    """
    if not args:
        raise ValueError("listen without an address")
    spec, params = args[0], args[1:]
    if spec.startswith("unix:") or "quic" in params:
        return []
    ssl = "ssl" in params
    default = "default_server" in params or "default" in params
    host, port = _split_address(spec)
    normal = _normal_host(host)
    hosts = [normal] if normal is not None else []
    if normal is None:
        hosts = [h for h in (_normal_host(ip) for ip in resolve(host)) if h is not None]
    return [Listen(Address(h, port), ssl=ssl, default=default) for h in hosts]


def _split_address(spec: str) -> tuple[str, int]:
    if spec.startswith("["):
        end = spec.find("]")
        if end < 0:
            raise ValueError(f"invalid IPv6 address in listen {spec!r}")
        host, rest = spec[: end + 1], spec[end + 1 :]
        if not rest:
            return host, DEFAULT_LISTEN_PORT
        if not rest.startswith(":"):
            raise ValueError(f"invalid listen {spec!r}")
        return host, _port(rest[1:], spec)
    if spec.isdigit():
        return "*", _port(spec, spec)
    host, sep, port = spec.rpartition(":")
    if not sep:
        return spec, DEFAULT_LISTEN_PORT
    return host, _port(port, spec)


def _port(text: str, spec: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"invalid port in listen {spec!r}")
    return int(text)


def default_listens() -> tuple[Listen, ...]:
    """What a server block without ``listen`` listens on (``*:80`` for a root nginx)."""
    return (Listen(Address("*", DEFAULT_LISTEN_PORT)),)


# -- server names -------------------------------------------------------------------------


@dataclass(frozen=True)
class NameRule:
    """One ``server_name`` entry: ``kind`` exact, head (``*.x``/``.x``), tail (``x.*``) or
    regex; ``key`` the part compared (``.example.com`` for a head wildcard, ``mail.`` for
    a tail one); ``error`` set when a regular expression cannot be evaluated here."""

    raw: str
    kind: str
    key: str
    pattern: re.Pattern[str] | None = None
    error: str | None = None

    def matches(self, host: str) -> bool:
        if self.kind == "exact":
            return host == self.key
        if self.kind == "head":
            return (host.endswith(self.key) and len(host) > len(self.key)) or (
                self.raw.startswith(".") and host == self.key[1:]
            )
        if self.kind == "tail":
            return host.startswith(self.key) and len(host) > len(self.key)
        return self.pattern is not None and self.pattern.search(host) is not None


_PCRE_NAMED = re.compile(r"\(\?(?:<(?![=!])([A-Za-z_]\w*)>|'([A-Za-z_]\w*)')")


def name_rule(raw: str) -> NameRule:
    """How nginx reads one ``server_name`` entry (names are compared in lower case; a
    regular expression with an upper-case letter is matched case-insensitively)."""
    if raw.startswith("~"):
        source = _PCRE_NAMED.sub(lambda m: f"(?P<{m.group(1) or m.group(2)}>", raw[1:])
        flags = re.IGNORECASE if any(c.isupper() for c in raw[1:]) else 0
        try:
            return NameRule(raw, "regex", raw, re.compile(source, flags))
        except re.error as exc:
            return NameRule(raw, "regex", raw, error=str(exc))
    name = raw.lower().rstrip(".") if raw not in (".", "") else raw.lower()
    if name.startswith("*."):
        return NameRule(raw, "head", name[1:])
    if name.startswith(".") and len(name) > 1:
        return NameRule(raw, "head", name)
    if name.endswith(".*"):
        return NameRule(raw, "tail", name[:-1])
    return NameRule(raw, "exact", name)


def host_for(name: str) -> str:
    """The host name to look up for a certificate name (a wildcard name is probed with a
    label no server block names, so that only wildcard and regex rules can match it)."""
    name = name.lower().rstrip(".")
    return f"{WILDCARD_PROBE}.{name[2:]}" if name.startswith("*.") else name


# -- lookup -------------------------------------------------------------------------------


def addresses(servers: Iterable[Server], port: int) -> list[Address]:
    """The distinct addresses nginx listens on for *port*, in configuration order."""
    seen: dict[Address, None] = {}
    for server in servers:
        for item in server.listens:
            if item.address.port == port and not item.address.host.startswith("unix:"):
                seen.setdefault(item.address)
    return list(seen)


def on_address(servers: Iterable[Server], address: Address) -> list[Server]:
    """The servers nginx considers for connections to *address*, in configuration order."""
    return sorted((s for s in servers if s.listens_on(address)), key=lambda s: s.index)


def is_ssl(servers: Iterable[Server], address: Address) -> bool:
    """Whether connections to *address* speak TLS (``ssl`` on any listen there)."""
    return any(item.ssl for server in servers for item in server.listens if item.address == address)


def default_server(servers: Sequence[Server], address: Address) -> Server:
    """The server for unmatched names on *address* (``default_server``, else the first).

    Raises:
        Ambiguity: several servers claim ``default_server`` there (nginx refuses that).
        ValueError: nothing listens on *address*.
    """
    candidates = on_address(servers, address)
    if not candidates:
        raise ValueError(f"no server listens on {address}")
    marked = [s for s in candidates if any(i.default and i.address == address for i in s.listens)]
    if len(marked) > 1:
        raise Ambiguity(
            f"Several server blocks are default_server on {address}: {_where(marked)}",
            "Keep default_server on one of them (nginx -t rejects this too)",
        )
    return marked[0] if marked else candidates[0]


def lookup(servers: Sequence[Server], address: Address, host: str) -> Match:
    """The server nginx uses for *host* on *address*, with the rule that chose it.

    Raises:
        Ambiguity: several servers claim the same name there, or a regular expression
            that comes into play cannot be evaluated.
        ValueError: nothing listens on *address*.
    """
    candidates = on_address(servers, address)
    if not candidates:
        raise ValueError(f"no server listens on {address}")
    host = host.lower().rstrip(".")
    rules = [(s, name_rule(n)) for s in candidates for n in s.names]
    exact = [(s, r) for s, r in rules if r.kind == "exact" and r.matches(host)]
    if exact:
        return _single(exact, host, address, "exact")
    for kind in ("head", "tail"):
        found = [(s, r) for s, r in rules if r.kind == kind and r.matches(host)]
        if found:
            longest = max(len(r.key) for _, r in found)
            best = [(s, r) for s, r in found if len(r.key) == longest]
            return _single(best, host, address, "wildcard")
    for server, rule in rules:
        if rule.kind != "regex":
            continue
        if rule.error is not None:
            raise Ambiguity(
                f"Cannot evaluate server_name {rule.raw} of the server block at "
                f"{server.where} for {host}: {rule.error}",
                f"Add `server_name {host};` to the block that should serve it",
            )
        if rule.matches(host):
            return Match(server, "regex", rule.raw)
    server = default_server(servers, address)
    return Match(server, "default", "default server")


def _single(found: list[tuple[Server, NameRule]], host: str, address: Address, how: str) -> Match:
    distinct = list({s.index: s for s, _ in found}.values())
    if len(distinct) > 1:
        rule = found[0][1].raw
        raise Ambiguity(
            f"{host} is claimed by several server blocks on {address} "
            f"(server_name {rule}): {_where(distinct)}; nginx uses the first and ignores "
            "the others",
            f"Remove {rule} from all but one of them",
        )
    server, chosen = found[0]
    return Match(server, how, chosen.raw)


def _where(servers: Iterable[Server]) -> str:
    return ", ".join(s.where for s in servers)


def serving(servers: Sequence[Server], port: int, host: str) -> list[tuple[Address, Match]]:
    """For every address nginx listens on for *port*: the server that answers *host*.

    Raises:
        Ambiguity: see :func:`lookup`.
    """
    return [(address, lookup(servers, address, host)) for address in addresses(servers, port)]
