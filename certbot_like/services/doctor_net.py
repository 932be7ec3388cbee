"""The network checks of ``doctor``: clock skew against each CA's ``Date`` header, CAA
records that forbid the CA (RFC 8659), and HTTP-01 names whose A/AAAA records do not point
at this machine."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any

from certbot_like.services.doctor import PROBLEM, WARNING, DoctorReport

SKEW_WARNING = 30.0
SKEW_PROBLEM = 300.0
HTTP01_PLUGINS = frozenset({"standalone", "webroot", "nginx", "apache"})
# Well-known CAs whose directory does not list caaIdentities.
KNOWN_IDENTITIES = {"api.letsencrypt.org": "letsencrypt.org", "acme-v02.api.": "letsencrypt.org"}


@dataclass(frozen=True)
class NetOptions:
    """``--dns-resolver`` (None: the system's) and ``--caa-identity`` of a doctor run."""

    resolver: tuple[str, int] | None = None
    caa_identities: tuple[str, ...] = ()
    timeout: float = 10.0


@dataclass
class CaFacts:
    """What a CA's directory told us: its clock and its CAA identities."""

    server: str
    skew: float | None = None
    identities: tuple[str, ...] = ()
    error: str | None = None


def parse_resolver(text: str) -> tuple[str, int]:
    """``IP[:PORT]`` -> (IP, port).

    Raises:
        ValueError: not an IP address with an optional port.
    """
    import ipaddress

    host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "53")
    ipaddress.ip_address(host.strip("[]"))
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad port {port!r}")
    return host.strip("[]"), int(port)


def ask_ca(server: str, ca_bundle: str | None, timeout: float) -> CaFacts:
    """GET the directory: clock skew from the ``Date`` header, ``meta.caaIdentities``."""
    import email.utils
    import json
    import ssl
    import urllib.error
    import urllib.request

    facts = CaFacts(server)
    if not server.lower().startswith(("https://", "http://")):
        facts.error = "the server URL is not http(s)"
        return facts
    context = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else None
    before = time.time()
    try:
        headers = {"User-Agent": "certbot-like doctor"}
        request = urllib.request.Request(server, headers=headers)  # noqa: S310  # http(s) only
        with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:  # noqa: S310
            body = answer.read(1 << 20)
            date = answer.headers.get("Date")
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        facts.error = f"{server} did not answer: {reason}"
        return facts
    after = time.time()
    if date:
        try:
            then = email.utils.parsedate_to_datetime(date).timestamp()
            facts.skew = (before + after) / 2 - then
        except (TypeError, ValueError):
            pass
    try:
        meta = json.loads(body).get("meta") or {}
        found = meta.get("caaIdentities") or []
        facts.identities = tuple(str(i).lower() for i in found if isinstance(i, str))
    except (ValueError, AttributeError):
        pass
    if not facts.identities:
        host = server.split("/")[2].lower() if server.count("/") >= 2 else ""
        facts.identities = tuple(v for k, v in KNOWN_IDENTITIES.items() if host.startswith(k))
    return facts


def check_clock(report: DoctorReport, facts: CaFacts) -> None:
    if facts.error:
        report.add(
            WARNING,
            f"the CA could not be reached: {facts.error}",
            "renewals fail while the CA is unreachable; clock and CAA were not checked",
            "check the network, a proxy or the --server URL",
        )
        return
    if facts.skew is None:
        return
    skew = abs(facts.skew) - 1.0  # the Date header counts whole seconds
    if skew <= SKEW_WARNING:
        return
    direction = "ahead of" if facts.skew > 0 else "behind"
    report.add(
        PROBLEM if skew > SKEW_PROBLEM else WARNING,
        f"this machine's clock is {abs(facts.skew):.0f} s {direction} the CA's ({facts.server})",
        "a wrong clock makes renewals happen at the wrong time and TLS and ACME checks fail",
        "enable time synchronisation (systemd-timesyncd, chrony or ntpd)",
    )


def _resolver(options: NetOptions) -> Any:
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=options.resolver is None)
    if options.resolver is not None:
        resolver.nameservers = [options.resolver[0]]
        resolver.port = options.resolver[1]
    resolver.lifetime = resolver.timeout = options.timeout
    resolver.cache = None
    return resolver


def caa_records(resolver: Any, name: str) -> list[tuple[int, str, str]] | None:
    """The relevant CAA RRset of *name* (climbing to the parents), [] when there is none.

    Raises:
        dns.exception.DNSException: the lookup failed (timeout, SERVFAIL).
    """
    import dns.resolver

    labels = name.rstrip(".").split(".")
    for start in range(len(labels) - 1):  # never the TLD alone
        candidate = ".".join(labels[start:])
        try:
            answer = resolver.resolve(candidate, "CAA", raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            continue
        records = [(r.flags, r.tag.decode().lower(), r.value.decode()) for r in answer.rrset or []]
        if records:
            return records
    return []


def caa_allows(records: list[tuple[int, str, str]], identities: set[str], wildcard: bool) -> bool:
    """RFC 8659: may a CA known by *identities* issue, given the relevant CAA *records*?"""
    tags = {"issuewild"} if wildcard and any(t == "issuewild" for _, t, _ in records) else set()
    tags = tags or {"issue"}
    relevant = [value for _, tag, value in records if tag in tags]
    if not relevant:
        return not any(flags & 128 and tag not in _KNOWN_TAGS for flags, tag, _ in records)
    return any(value.split(";")[0].strip().lower() in identities for value in relevant)


_KNOWN_TAGS = frozenset({"issue", "issuewild", "iodef", "issuemail", "contactemail"})


def check_caa(
    report: DoctorReport, lineage: str, names: list[str], identities: set[str], options: NetOptions
) -> None:
    import dns.exception

    resolver = _resolver(options)
    for name in names:
        wildcard = name.startswith("*.")
        try:
            records = caa_records(resolver, name.removeprefix("*."))
        except dns.exception.DNSException as exc:
            report.add(
                WARNING,
                f"the CAA records of {name} could not be looked up ({type(exc).__name__})",
                "the CA refuses to issue when it cannot read CAA either",
                "check the zone's nameservers",
                lineage,
            )
            continue
        if records and not caa_allows(records, identities, wildcard):
            shown = ", ".join(f'{tag} "{value}"' for _, tag, value in records)
            report.add(
                PROBLEM,
                f"CAA records of {name} forbid the CA ({', '.join(sorted(identities))}): {shown}",
                "the CA must refuse to issue: the next renewal fails",
                f"add a CAA record: {name.removeprefix('*.')}. CAA 0 "
                f'{"issuewild" if wildcard else "issue"} "{sorted(identities)[0]}"',
                lineage,
            )


def is_local_address(address: str) -> bool:
    """Whether *address* belongs to this machine (binding to it succeeds; sends nothing)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.bind((address, 0))
    except OSError:
        return False
    return True


def check_addresses(
    report: DoctorReport, lineage: str, names: list[str], options: NetOptions
) -> None:
    """HTTP-01 names whose A/AAAA records point at no address of this machine."""
    import dns.exception
    import dns.resolver

    resolver = _resolver(options)
    for name in names:
        if name.startswith("*."):
            continue
        addresses: list[str] = []
        try:
            for rdtype in ("A", "AAAA"):
                try:
                    answer = resolver.resolve(name, rdtype, raise_on_no_answer=False)
                except dns.resolver.NXDOMAIN:
                    break
                addresses += [r.address for r in answer.rrset or []]
        except dns.exception.DNSException:
            continue  # the CA's own lookup will tell; CAA reports lookup failures
        if not addresses:
            report.add(
                WARNING,
                f"{name} has no A or AAAA record",
                "the CA cannot reach this machine for the HTTP-01 challenge",
                f"add an A/AAAA record for {name} pointing here",
                lineage,
            )
            continue
        foreign = [a for a in addresses if not is_local_address(a)]
        if foreign:
            report.add(
                WARNING,
                f"{name} resolves to {', '.join(foreign)}, not an address of this machine",
                "the CA validates HTTP-01 at that address: renewal fails unless it forwards "
                "port 80 here (a load balancer or NAT; then ignore this)",
                f"point {name} here, or switch the lineage to DNS-01",
                lineage,
            )


def uses_http01(params: Any) -> bool:
    challenges = tuple(params.pref_challs or ())
    if challenges and all(c.startswith("dns") or c == "tls-alpn-01" for c in challenges):
        return False
    return (params.authenticator or "") in HTTP01_PLUGINS
