"""The ``nginx`` plugin: answers HTTP-01 through nginx and installs certificates into it.

This module is imported to list plugins and print ``--help``, so it stays light: only the
options dataclass and the :class:`~certbot_like.interfaces.PluginSpec` live here. The
parser (crossplane), the server selection rules, the text editor and the backups are in
their own modules, imported only when the plugin is used. ``docs/nginx.md`` describes what
the plugin changes, how to undo it and its limits.
"""

from __future__ import annotations

from dataclasses import dataclass

from certbot_like.interfaces import HTTP01, PluginSpec, option

__all__ = ["PLUGIN", "NginxOptions"]


@dataclass(frozen=True)
class NginxOptions:
    """Where nginx lives and which ports it serves (field names are certbot's conf keys)."""

    nginx_server_root: str = option(
        "--nginx-server-root",
        default="/etc/nginx",
        metavar="DIR",
        help="nginx server root: the directory holding nginx.conf.",
    )
    nginx_ctl: str = option(
        "--nginx-ctl",
        default="nginx",
        metavar="PATH",
        help=(
            "Path to the nginx binary, or to a wrapper script accepting nginx's flags "
            "(-t, -T, -s reload); used to test, dump and reload the configuration."
        ),
    )
    nginx_sleep_seconds: float = option(
        "--nginx-sleep-seconds",
        default=5.0,
        metavar="SECONDS",
        help=(
            "Longest time to wait for nginx to run new worker processes after a reload "
            "(certbot-like returns as soon as they run)."
        ),
    )
    http01_port: int = option(
        "--http-01-port",
        default=80,
        metavar="PORT",
        help=(
            "Port the server listens on for HTTP-01 challenges and plain HTTP "
            "(the CA always connects to port 80: use another port only "
            "when port 80 is forwarded to it)."
        ),
    )
    https_port: int = option(
        "--https-port",
        default=443,
        metavar="PORT",
        help="Port the installer makes the server listen on for HTTPS.",
    )


PLUGIN = PluginSpec(
    name="nginx",
    description=(
        "Validate names through a running nginx (HTTP-01) and install certificates into "
        "the server blocks that serve them, with nginx -t and a graceful reload"
    ),
    authenticator=True,
    installer=True,
    options=NginxOptions,
    factory="certbot_like_nginx.plugin:NginxPlugin",
    availability="certbot_like_nginx.availability:unavailable_reason",
    challenge_types=(HTTP01,),
)
