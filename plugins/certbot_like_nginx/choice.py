"""Which server blocks a deployment, a redirect or a challenge goes into (pure functions).

Built on :mod:`.selection` (what nginx does with a name); the decisions here are ours:

- **Deploy**: every block that serves a name *by name* on a TLS address of the HTTPS port
  gets the certificate, unless the block also serves names the certificate does not cover
  (another exact name, a wildcard or a regular expression): then it is *split*, a copy of it
  for exactly the requested names gets the certificate and the block keeps serving the rest
  with its own (see :func:`covered`). A name without such a block is served by an HTTPS
  copy of the block that serves it on the HTTP port (by name; failing that, of the HTTP
  default server, the copy then naming exactly the certificate's names). A catch-all
  default server on the HTTPS port is never given a certificate for a name it does not name.
- **Redirect**: the block that answers each name on each HTTP address (by name or as the
  default server) redirects that name.
- **Challenge**: the block that answers the name on each HTTP address serves the token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .selection import Ambiguity, Server, addresses, host_for, is_ssl, lookup


class NothingServes(ValueError):
    """No server block answers a name on the ports concerned."""


@dataclass(frozen=True)
class Copy:
    """An HTTPS copy of the HTTP block ``server``; ``names`` replaces its server_name."""

    server: Server
    names: tuple[str, ...] | None = None


@dataclass
class DeployChoice:
    """Existing HTTPS blocks to point at the certificate, HTTP blocks to copy, and HTTPS
    blocks to split (a copy for the names given, the block keeping its other names)."""

    https: list[Server] = field(default_factory=list)
    copies: list[Copy] = field(default_factory=list)
    splits: list[Copy] = field(default_factory=list)
    how: dict[str, str] = field(default_factory=dict)  # name -> one line for the log


def choose_deploy(
    servers: Sequence[Server], names: Sequence[str], http_port: int, https_port: int
) -> DeployChoice:
    """Where the certificate for *names* goes.

    Raises:
        Ambiguity: nginx's choice is ambiguous for a name (see :mod:`.selection`), a block
            names it on the HTTPS port without TLS, or several different default servers
            answer it on the HTTP port.
        NothingServes: no block answers a name on either port.
    """
    choice = DeployChoice()
    copies: dict[int, tuple[Server, list[str] | None]] = {}
    served: dict[int, list[str]] = {}
    for name in names:
        host = host_for(name)
        https = _named_on(servers, https_port, host)
        if https:
            for server in https:
                if server.index not in {s.index for s in choice.https}:
                    choice.https.append(server)
                served.setdefault(server.index, []).append(name)
            choice.how[name] = "HTTPS block(s) " + ", ".join(s.where for s in https)
            continue
        http_named = _named_on(servers, http_port, host, plain=True)
        if http_named:
            for server in http_named:
                copies.setdefault(server.index, (server, None))
            choice.how[name] = "HTTPS copy of " + ", ".join(s.where for s in http_named)
            continue
        default = _single_default(servers, http_port, host, name)
        entry = copies.setdefault(default.index, (default, []))
        if entry[1] is not None:
            entry[1].append(name)
        choice.how[name] = f"HTTPS copy of the default server {default.where}"
    for server, extra in copies.values():
        choice.copies.append(
            Copy(
                server, _copy_names(servers, server, https_port) if extra is None else tuple(extra)
            )
        )
    for server in list(choice.https):
        if not all(covered(entry, names) for entry in server.names):
            choice.https.remove(server)
            choice.splits.append(Copy(server, tuple(served[server.index])))
            for name in served[server.index]:
                choice.how[name] = f"a copy of {server.where} for {', '.join(served[server.index])}"
    return choice


def covered(entry: str, names: Sequence[str]) -> bool:
    """Whether a certificate for *names* covers every host the ``server_name`` *entry* can
    match: an exact name it lists or one of its wildcards covers; a wildcard entry only the
    same wildcard (``.x`` also needs ``x``); a tail wildcard or regular expression never.
    ``_`` and ``""`` (catch-all conventions that match no real host) count as covered."""
    wanted = {n.lower().rstrip(".") for n in names}
    entry = entry.lower().rstrip(".") if not entry.startswith("~") else entry
    if entry in ("", "_"):
        return True
    if entry.startswith("~") or entry.endswith(".*"):
        return False
    if entry.startswith("*."):
        return entry in wanted
    if entry.startswith("."):
        return f"*{entry}" in wanted and entry[1:] in wanted
    parent = entry.split(".", 1)[1] if "." in entry else ""
    return entry in wanted or (bool(parent) and f"*.{parent}" in wanted)


def _named_on(
    servers: Sequence[Server], port: int, host: str, *, plain: bool = False
) -> list[Server]:
    """Servers answering *host* by name on *port* (TLS addresses only, or plain only)."""
    found: dict[int, Server] = {}
    for address in addresses(servers, port):
        match = lookup(servers, address, host)
        if not match.by_name:
            continue
        tls = is_ssl(servers, address)
        if plain and tls:
            continue
        if not plain and not tls:
            raise Ambiguity(
                f"The server block at {match.server.where} serves {host} on {address} without TLS",
                f"Add `ssl` to its listen on port {port}, or choose another --https-port",
            )
        found.setdefault(match.server.index, match.server)
    return list(found.values())


def _single_default(servers: Sequence[Server], port: int, host: str, name: str) -> Server:
    defaults: dict[int, tuple[Server, str]] = {}
    for address in addresses(servers, port):
        if is_ssl(servers, address):
            continue
        match = lookup(servers, address, host)
        defaults.setdefault(match.server.index, (match.server, str(address)))
    if not defaults:
        raise NothingServes(
            f"No server block serves {name}: none names it on the HTTPS port and nothing "
            f"listens for plain HTTP on port {port}"
        )
    if len(defaults) > 1:
        listing = ", ".join(f"{s.where} (on {a})" for s, a in defaults.values())
        raise Ambiguity(
            f"No server block names {name}; nginx answers it with different default "
            f"servers: {listing}",
            f"Add `server_name {name};` to the block that should serve it",
        )
    return next(iter(defaults.values()))[0]


def _copy_names(
    servers: Sequence[Server], server: Server, https_port: int
) -> tuple[str, ...] | None:
    """The copy's server_name: the original's, minus names another block already claims
    on the HTTPS port (two claims would conflict). ``None`` keeps the original's line."""
    claimed = {
        n.lower()
        for other in servers
        if other.index != server.index and any(i.address.port == https_port for i in other.listens)
        for n in other.names
    }
    kept = tuple(n for n in server.names if n.lower() not in claimed)
    return None if kept == server.names else kept


def choose_redirect(
    servers: Sequence[Server], names: Sequence[str], http_port: int
) -> dict[int, tuple[Server, list[str]]]:
    """The blocks answering each name over plain HTTP on *http_port*, with their names.

    Raises:
        Ambiguity: nginx's choice is ambiguous for a name.
    """
    found: dict[int, tuple[Server, list[str]]] = {}
    for name in names:
        host = host_for(name)
        for address in addresses(servers, http_port):
            if is_ssl(servers, address):
                continue
            server = lookup(servers, address, host).server
            entry = found.setdefault(server.index, (server, []))
            if name not in entry[1]:
                entry[1].append(name)
    return found


def choose_challenge(servers: Sequence[Server], host: str, http_port: int) -> list[Server]:
    """The blocks answering *host* over plain HTTP on *http_port* (empty: none listens).

    Raises:
        Ambiguity: nginx's choice is ambiguous for *host*.
    """
    found: dict[int, Server] = {}
    for address in addresses(servers, http_port):
        if not is_ssl(servers, address):
            server = lookup(servers, address, host).server
            found.setdefault(server.index, server)
    return list(found.values())
