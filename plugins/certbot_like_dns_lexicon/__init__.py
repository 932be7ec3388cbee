"""The ``dns-lexicon`` authenticator: dns-01 at any DNS provider dns-lexicon supports.

One plugin for the providers of https://github.com/dns-lexicon/dns-lexicon (Cloudflare, OVH,
Gandi, Route 53, Hetzner, DigitalOcean, ... see docs/dns.md for the full list):
``--dns-lexicon-provider NAME`` picks one; its options come from an INI file
(``dns_lexicon_<provider>_<option> = value`` lines or a ``[<provider>]`` section) or from
lexicon's own environment variables (``LEXICON_<PROVIDER>_<OPTION>``).

This module is imported to build ``--help``: it holds only the options; the authenticator
(and lexicon) live in :mod:`.authenticator`.
"""

from __future__ import annotations

from dataclasses import dataclass

from certbot_like_dns import DnsOptions, absolute_paths

from certbot_like.interfaces import DNS01, PluginSpec, option

__all__ = ["PLUGIN", "LexiconOptions"]


@dataclass(frozen=True)
class LexiconOptions(DnsOptions):
    """The dns-lexicon options plus the shared DNS options."""

    dns_lexicon_provider: str | None = option(
        "--dns-lexicon-provider",
        metavar="NAME",
        help="DNS provider, by its lexicon name (cloudflare, ovh, gandi, hetzner ...; the list "
        "is in docs/dns.md)",
    )
    dns_lexicon_credentials: str | None = option(
        "--dns-lexicon-credentials",
        metavar="FILE",
        help="INI file with the provider's options (dns_lexicon_<provider>_<option> = value, "
        "or a [<provider>] section); mode 0600. LEXICON_<PROVIDER>_<OPTION> environment "
        "variables are read too",
    )
    dns_lexicon_propagation_seconds: int | None = option(
        "--dns-lexicon-propagation-seconds",
        metavar="SECONDS",
        help="Wait this many seconds after the change instead of checking the zone's "
        "nameservers (default: check, see --dns-propagation-timeout)",
    )


def unavailable_reason() -> str | None:
    """``None`` when dns-lexicon can be imported, else the line naming the extra."""
    from certbot_like.plugin_kit import EXTRAS

    extra = EXTRAS["lexicon"]
    if not extra.installed():
        return extra.missing_message()
    try:
        import lexicon.client  # noqa: F401
    except ImportError as exc:
        return f"dns-lexicon cannot be imported ({exc}); {extra.install_hint}"
    return None


PLUGIN = PluginSpec(
    name="dns-lexicon",
    description="Answer dns-01 through the API of a DNS provider supported by dns-lexicon "
    "(--dns-lexicon-provider NAME)",
    authenticator=True,
    installer=False,
    options=LexiconOptions,
    factory="certbot_like_dns_lexicon.authenticator:LexiconAuthenticator",
    availability="certbot_like_dns_lexicon:unavailable_reason",
    resolve_options=absolute_paths("dns_lexicon_credentials"),
    challenge_types=(DNS01,),
)
