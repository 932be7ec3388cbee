"""The ``standalone`` authenticator: answers HTTP-01 and TLS-ALPN-01 with its own servers.

This module is imported to list plugins and print ``--help``, so it stays light: only the
options dataclass and the :class:`~certbot_like.interfaces.PluginSpec` live here; the
servers (sockets, ``ssl``, ``cryptography``) are in :mod:`certbot_like_standalone.authenticator`
and are imported only when the plugin is used.
"""

from __future__ import annotations

from dataclasses import dataclass

from certbot_like.interfaces import HTTP01, TLSALPN01, PluginSpec, option

__all__ = ["PLUGIN", "StandaloneOptions"]


@dataclass(frozen=True)
class StandaloneOptions:
    """Where the standalone servers listen (field names are certbot's renewal conf keys)."""

    http01_port: int = option(
        "--http-01-port",
        default=80,
        metavar="PORT",
        help=(
            "Port the standalone plugin listens on for HTTP-01 challenges (default: 80). "
            "The CA always connects to port 80: use another port only when port 80 is "
            "forwarded to it."
        ),
    )
    http01_address: str = option(
        "--http-01-address",
        default="",
        metavar="ADDRESS",
        help=(
            "IP address the standalone plugin listens on for HTTP-01 challenges "
            "(default: all interfaces, IPv4 and IPv6)."
        ),
    )
    tls_alpn_01_port: int = option(
        "--tls-alpn-01-port",
        default=443,
        metavar="PORT",
        help=(
            "Port the standalone plugin listens on for TLS-ALPN-01 challenges (default: 443). "
            "The CA always connects to port 443: use another port only when port 443 is "
            "forwarded to it."
        ),
    )
    tls_alpn_01_address: str = option(
        "--tls-alpn-01-address",
        default="",
        metavar="ADDRESS",
        help=(
            "IP address the standalone plugin listens on for TLS-ALPN-01 challenges "
            "(default: all interfaces, IPv4 and IPv6)."
        ),
    )


PLUGIN = PluginSpec(
    name="standalone",
    description=(
        "Spin up a temporary web server (HTTP-01 on port 80, TLS-ALPN-01 on port 443) to "
        "answer the challenges; the ports must be free while certbot-like runs"
    ),
    authenticator=True,
    installer=False,
    options=StandaloneOptions,
    factory="certbot_like_standalone.authenticator:StandaloneAuthenticator",
    challenge_types=(HTTP01, TLSALPN01),
)
