"""The ``dns-acmedns`` authenticator: dns-01 through an acme-dns server's HTTP API.

acme-dns (https://github.com/joohoi/acme-dns) is a tiny DNS server that serves only
``_acme-challenge`` TXT records, each behind its own API credentials. The operator points
``_acme-challenge.<name>`` at the acme-dns name by CNAME once; after that, renewals need no
credentials for the real zone. This plugin registers each name with the server the first
time (storing the credentials 0600 under ``<config-dir>/acme-dns/``), tells the operator which
CNAME to create, and updates the TXT record on every run.

This module is imported to build ``--help``: it holds only the options; the authenticator
lives in :mod:`.authenticator`.
"""

from __future__ import annotations

from dataclasses import dataclass

from certbot_like_dns import DnsOptions, absolute_paths

from certbot_like.interfaces import DNS01, PluginSpec, option

__all__ = ["PLUGIN", "AcmeDnsOptions"]


@dataclass(frozen=True)
class AcmeDnsOptions(DnsOptions):
    """The dns-acmedns options plus the shared DNS options."""

    dns_acmedns_credentials: str | None = option(
        "--dns-acmedns-credentials",
        metavar="FILE",
        help="INI file in certbot-dns-acmedns format: dns_acmedns_api_url and, optionally, "
        "dns_acmedns_registration_file (a JSON file of existing registrations)",
    )
    dns_acmedns_api_url: str | None = option(
        "--dns-acmedns-api-url",
        metavar="URL",
        help="Base URL of the acme-dns API, e.g. https://auth.acme-dns.io (instead of "
        "dns_acmedns_api_url in --dns-acmedns-credentials)",
    )
    dns_acmedns_propagation_seconds: int | None = option(
        "--dns-acmedns-propagation-seconds",
        metavar="SECONDS",
        help="Wait this many seconds after the update instead of checking the acme-dns "
        "zone's nameservers (default: check, see --dns-propagation-timeout)",
    )


def unavailable_reason() -> str | None:
    """``None`` when dnspython and requests can be imported."""
    try:
        import dns.resolver  # noqa: F401
        import requests  # noqa: F401
    except ImportError as exc:
        return f"a dependency is missing ({exc})"
    return None


PLUGIN = PluginSpec(
    name="dns-acmedns",
    description="Answer dns-01 through an acme-dns server (_acme-challenge delegated to it "
    "by CNAME; registers each name once)",
    authenticator=True,
    installer=False,
    options=AcmeDnsOptions,
    factory="certbot_like_dns_acmedns.authenticator:AcmeDnsAuthenticator",
    availability="certbot_like_dns_acmedns:unavailable_reason",
    resolve_options=absolute_paths("dns_acmedns_credentials"),
    challenge_types=(DNS01,),
)
