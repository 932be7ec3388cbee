"""The manual plugin: the operator (or their hook scripts) sets up each challenge.

This module is imported to list plugins and print ``--help``: it holds only the options; the
authenticator lives in :mod:`.authenticator`.
"""

from __future__ import annotations

from dataclasses import dataclass

from certbot_like.interfaces import DNS01, HTTP01, PluginSpec, option


@dataclass(frozen=True)
class ManualOptions:
    """The manual plugin's options, stored as-is in the renewal conf (certbot's keys)."""

    manual_auth_hook: str | None = option(
        "--manual-auth-hook",
        metavar="COMMAND",
        help="Command that sets up a challenge; gets CERTBOT_DOMAIN, CERTBOT_VALIDATION, "
        "CERTBOT_TOKEN (HTTP-01), CERTBOT_REMAINING_CHALLENGES and CERTBOT_ALL_DOMAINS "
        "in its environment",
    )
    manual_cleanup_hook: str | None = option(
        "--manual-cleanup-hook",
        metavar="COMMAND",
        help="Command that removes a challenge; gets the same variables plus "
        "CERTBOT_AUTH_OUTPUT (what the auth hook printed)",
    )
    manual_public_ip_logging_ok: bool = option(
        "--manual-public-ip-logging-ok",
        default=False,
        hidden=True,
        help="Accepted for certbot compatibility; has no effect",
    )


PLUGIN = PluginSpec(
    name="manual",
    description="Manual configuration or run your own shell scripts (HTTP-01, DNS-01)",
    authenticator=True,
    installer=False,
    options=ManualOptions,
    factory="certbot_like_manual.authenticator:ManualAuthenticator",
    challenge_types=(HTTP01, DNS01),
)
