"""Recursive DNS lookups for the DNS plugins: zones (SOA walk), nameservers, CNAMEs.

Everything goes through one :class:`Lookup`, built on ``--dns-resolver HOST[:PORT]`` or the
system resolver, with short timeouts and no cache (a name that was just changed must be seen
as it is now). Failures become one-line :class:`~certbot_like.errors.PluginError` messages
that name the resolver.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from certbot_like.errors import PluginError, UsageError

logger = logging.getLogger(__name__)

QUERY_TIMEOUT = 2.0
"""Seconds to wait for one answer from one server."""
LOOKUP_LIFETIME = 8.0
"""Seconds one lookup may take in all (retries and servers included)."""


def parse_server(
    text: str, *, flag: str = "--dns-resolver", default_port: int = 53
) -> tuple[str, int]:
    """``HOST[:PORT]`` (``[v6]:PORT`` for IPv6) -> (IP address, port).

    A host name is resolved once, here, with the system's resolver.

    Raises:
        UsageError: the text is not an address, a resolvable name or a valid port.
    """
    text = text.strip()
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else rest
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    port = default_port
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise UsageError(f"{flag} {text}: bad port {port_text!r}", "Use HOST[:PORT]")
        port = int(port_text)
    if not host:
        raise UsageError(f"{flag} {text!r} names no server", "Use HOST[:PORT]")
    try:
        return str(ipaddress.ip_address(host)), port
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_UDP)
    except (OSError, UnicodeError) as exc:
        raise UsageError(
            f"{flag} {text}: cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}",
            "Give an IP address",
        ) from None
    return str(infos[0][4][0]), port


def reason(exc: BaseException) -> str:
    """A short, secret-free description of a DNS failure."""
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return "no such name (NXDOMAIN)"
    if isinstance(exc, dns.resolver.LifetimeTimeout | dns.exception.Timeout):
        return "no answer in time"
    if isinstance(exc, dns.resolver.NoNameservers):
        return "the server failed to answer (SERVFAIL or REFUSED)"
    if isinstance(exc, dns.resolver.NoAnswer):
        return "no record of that type"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@dataclass(frozen=True)
class Nameserver:
    """One authoritative nameserver of a zone: its name and addresses."""

    name: str
    addresses: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.name} ({', '.join(self.addresses)})"


class Lookup:
    """Recursive lookups through ``--dns-resolver`` (``server``) or the system resolver.

    Raises (constructor):
        UsageError: *server* is malformed.
        PluginError: no server given and the system has no resolver configuration.
    """

    def __init__(self, server: str | None = None, *, timeout: float = QUERY_TIMEOUT) -> None:
        if server:
            address, port = parse_server(server)
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = [address]
            resolver.port = port
            self.describe = f"the DNS resolver {server}"
        else:
            try:
                resolver = dns.resolver.Resolver()
            except (dns.resolver.NoResolverConfiguration, OSError) as exc:
                raise PluginError(
                    f"No system DNS resolver is configured ({reason(exc)})",
                    "Give --dns-resolver HOST[:PORT]",
                ) from None
            self.describe = (
                "the system resolver (" + ", ".join(str(ns) for ns in resolver.nameservers) + ")"
            )
        resolver.timeout = timeout
        resolver.lifetime = LOOKUP_LIFETIME
        resolver.cache = None
        self.resolver = resolver

    def _resolve(self, name: str, rdtype: str) -> dns.resolver.Answer | None:
        """The answer, or ``None`` for NXDOMAIN / no data. Other failures raise."""
        try:
            return self.resolver.resolve(
                dns.name.from_text(name), rdtype, search=False, raise_on_no_answer=False
            )
        except dns.resolver.NXDOMAIN:
            return None

    def cname(self, name: str) -> str | None:
        """The target of *name*'s CNAME record, or ``None`` when it has none.

        Raises:
            PluginError: the resolver failed (timeout, SERVFAIL, REFUSED ...).
        """
        try:
            answer = self._resolve(name, "CNAME")
        except dns.exception.DNSException as exc:
            raise PluginError(
                f"Cannot look up the CNAME of {name} through {self.describe}: {reason(exc)}",
                "Check --dns-resolver",
            ) from None
        if answer is None or answer.rrset is None:
            return None
        for rdata in answer.rrset:
            return str(rdata.target.to_text(omit_final_dot=True))
        return None

    def zone_for(self, name: str) -> str:
        """The zone *name* belongs to, by walking SOA records towards the root.

        Raises:
            PluginError: no zone was found or the resolver failed.
        """
        try:
            zone = dns.resolver.zone_for_name(
                dns.name.from_text(name), resolver=self.resolver, lifetime=LOOKUP_LIFETIME * 2
            )
        except dns.exception.DNSException as exc:
            raise PluginError(
                f"Cannot find the DNS zone of {name} through {self.describe}: {reason(exc)}",
                "Check the name's zone exists and --dns-resolver",
            ) from None
        return str(zone.to_text(omit_final_dot=True))

    def nameservers(self, zone: str) -> list[Nameserver]:
        """The zone's NS records with their A/AAAA addresses (names without address left out).

        Raises:
            PluginError: the NS lookup failed or no nameserver has an address.
        """
        try:
            answer = self._resolve(zone, "NS")
        except dns.exception.DNSException as exc:
            raise PluginError(
                f"Cannot find the nameservers of zone {zone} through {self.describe}: "
                f"{reason(exc)}",
                "Check --dns-resolver",
            ) from None
        hosts = sorted(
            {str(r.target.to_text(omit_final_dot=True)) for r in answer.rrset}
            if answer is not None and answer.rrset is not None
            else set()
        )
        found: list[Nameserver] = []
        for host in hosts:
            addresses: list[str] = []
            for rdtype in ("A", "AAAA"):
                try:
                    addr_answer = self._resolve(host, rdtype)
                except dns.exception.DNSException as exc:
                    logger.debug("No %s address for nameserver %s: %s", rdtype, host, reason(exc))
                    continue
                if addr_answer is not None and addr_answer.rrset is not None:
                    addresses += [r.address for r in addr_answer.rrset]
            if addresses:
                found.append(Nameserver(host, tuple(addresses)))
        if not found:
            raise PluginError(
                f"No address found for any nameserver of zone {zone} through {self.describe}"
                + (f" (NS: {', '.join(hosts)})" if hosts else " (no NS records)"),
                "Check the zone's NS records, or use a fixed --dns-<plugin>-propagation-seconds",
            )
        return found
