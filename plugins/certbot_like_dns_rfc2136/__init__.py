"""The ``dns-rfc2136`` authenticator: dns-01 through RFC 2136 dynamic updates signed with TSIG.

Works with BIND, Knot, PowerDNS and any server accepting TSIG-signed updates. The credentials
file is certbot-dns-rfc2136's (``dns_rfc2136_server``, ``_port``, ``_name``, ``_secret``,
``_algorithm``, ``_sign_query``), so a certbot setup carries over unchanged.

This module is imported to build ``--help``: it holds only the options; the authenticator
(and dnspython) live in :mod:`.authenticator`.
"""

from __future__ import annotations

from dataclasses import dataclass

from certbot_like_dns import DnsOptions, absolute_paths

from certbot_like.interfaces import DNS01, PluginSpec, option

__all__ = ["PLUGIN", "Rfc2136Options"]


@dataclass(frozen=True)
class Rfc2136Options(DnsOptions):
    """The dns-rfc2136 options (certbot's renewal conf keys) plus the shared DNS options."""

    dns_rfc2136_credentials: str | None = option(
        "--dns-rfc2136-credentials",
        metavar="FILE",
        help="RFC 2136 credentials INI file (certbot-dns-rfc2136 format: dns_rfc2136_server, "
        "_port, _name, _secret, _algorithm, _sign_query); mode 0600",
    )
    dns_rfc2136_propagation_seconds: int | None = option(
        "--dns-rfc2136-propagation-seconds",
        metavar="SECONDS",
        help="Wait this many seconds after the update instead of checking the zone's "
        "nameservers (certbot's behaviour; default: check, see --dns-propagation-timeout)",
    )


def unavailable_reason() -> str | None:
    """``None`` when dnspython (with TSIG support) can be imported."""
    try:
        import dns.tsig
        import dns.update  # noqa: F401
    except ImportError as exc:
        return f"dnspython is not installed ({exc})"
    return None


PLUGIN = PluginSpec(
    name="dns-rfc2136",
    description="Answer dns-01 with RFC 2136 dynamic updates signed with TSIG (BIND, Knot, "
    "PowerDNS ...); wildcards, CNAME delegation, real propagation checks",
    authenticator=True,
    installer=False,
    options=Rfc2136Options,
    factory="certbot_like_dns_rfc2136.authenticator:Rfc2136Authenticator",
    availability="certbot_like_dns_rfc2136:unavailable_reason",
    resolve_options=absolute_paths("dns_rfc2136_credentials"),
    challenge_types=(DNS01,),
)
