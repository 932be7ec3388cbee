"""Binding the listening sockets, with one-line errors an operator can act on."""

from __future__ import annotations

import errno
import logging
import socket
from dataclasses import dataclass

from certbot_like.errors import PluginError

logger = logging.getLogger(__name__)

BACKLOG = 64

_IPV6_UNAVAILABLE = frozenset(
    {errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT, errno.ENOPROTOOPT}
)


@dataclass(frozen=True)
class Endpoint:
    """Where one challenge type is served: ``address`` ``""`` means all interfaces.

    ``flag_port`` and ``flag_address`` are the command-line flags named in error hints,
    ``alternative`` what else the operator could use (in the busy-port hint).
    """

    challenge: str
    address: str
    port: int
    flag_port: str
    flag_address: str
    alternative: str

    @property
    def where(self) -> str:
        """Human description of the address (``all interfaces`` or the address)."""
        return "all interfaces" if self.address == "" else self.address

    def overlaps(self, other: Endpoint) -> bool:
        """True when both endpoints would need the same port on a common address."""
        if self.port != other.port:
            return False
        return self.address in ("", other.address) or other.address == ""


def bind(endpoint: Endpoint) -> socket.socket:
    """Bind and listen on *endpoint* (SO_REUSEADDR on; dual-stack for all interfaces).

    The returned socket is non-blocking (the accept loop polls it).

    Raises:
        PluginError: the port is out of range, busy, needs root, or the address is not
            usable on this machine (nothing is left bound).
    """
    if not 0 < endpoint.port < 65536:
        raise PluginError(
            f"Invalid port {endpoint.port} for {endpoint.challenge}",
            f"Choose a port between 1 and 65535 with {endpoint.flag_port}",
        )
    if endpoint.address == "":
        try:
            return _bind_one(socket.AF_INET6, ("::", endpoint.port), dual_stack=True)
        except OSError as exc:
            if exc.errno not in _IPV6_UNAVAILABLE:
                raise _translate(exc, endpoint) from None
            logger.debug("IPv6 unavailable (%s), listening on IPv4 only", exc)
        try:
            return _bind_one(socket.AF_INET, ("0.0.0.0", endpoint.port))  # noqa: S104
        except OSError as exc:
            raise _translate(exc, endpoint) from None
    family, sockaddr = _resolve(endpoint)
    try:
        return _bind_one(family, sockaddr)
    except OSError as exc:
        raise _translate(exc, endpoint) from None


def _resolve(endpoint: Endpoint) -> tuple[socket.AddressFamily, tuple[str, int]]:
    host = endpoint.address
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        infos = socket.getaddrinfo(
            host, endpoint.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise PluginError(
            f"Cannot listen on {endpoint.address!r} for {endpoint.challenge}: {exc}",
            f"Give an IP address of this machine with {endpoint.flag_address}",
        ) from None
    family, _, _, _, sockaddr = infos[0]
    return family, (str(sockaddr[0]), int(sockaddr[1]))


def _bind_one(
    family: socket.AddressFamily, sockaddr: tuple[str, int], *, dual_stack: bool = False
) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if dual_stack:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(sockaddr)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    logger.debug("Listening on %s", sock.getsockname())
    return sock


def _translate(exc: OSError, endpoint: Endpoint) -> PluginError:
    port, where = endpoint.port, endpoint.where
    if exc.errno == errno.EADDRINUSE:
        return PluginError(
            f"Port {port} on {where} is already in use (another web server?)",
            f"Stop it, or use {endpoint.alternative}, or choose {endpoint.flag_port}",
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        hint = (
            "Ports below 1024 need root: run certbot-like as root (sudo) "
            "or grant it CAP_NET_BIND_SERVICE"
            if port < 1024
            else f"Check the security policy (SELinux, AppArmor) or choose {endpoint.flag_port}"
        )
        return PluginError(f"Permission denied to listen on port {port} on {where}", hint)
    if exc.errno == errno.EADDRNOTAVAIL:
        return PluginError(
            f"Cannot listen on {where}: the address is not assigned to this machine",
            f"Give an IP address of this machine with {endpoint.flag_address}",
        )
    reason = exc.strerror or str(exc)
    return PluginError(f"Cannot listen on port {port} on {where}: {reason}")
