"""The ``apache`` plugin: HTTP-01 through a running Apache, and certificate installation.

This module is imported to list plugins and print ``--help``, so it stays light: only the
options dataclass and the :class:`~certbot_like.interfaces.PluginSpec` live here. The
configuration is read and edited through Augeas (``python-augeas`` and its Httpd lens) in
:mod:`certbot_like_apache.augeas_tree`; the installer is in :mod:`.installer`, the
authenticator in :mod:`.authenticator`. What the plugin changes and how to undo it is
described in ``docs/apache.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from certbot_like.interfaces import HTTP01, PluginSpec, option

__all__ = ["PLUGIN", "ApacheOptions"]


@dataclass(frozen=True)
class ApacheOptions:
    """Where Apache's configuration is and how to control it (certbot's renewal conf keys)."""

    apache_server_root: str = option(
        "--apache-server-root",
        default="/etc/apache2",
        metavar="DIR",
        help="Apache's ServerRoot: /etc/apache2 (Debian, Ubuntu) or /etc/httpd (RHEL, "
        "Fedora); the layout is detected from what is inside (default: /etc/apache2).",
    )
    apache_ctl: str = option(
        "--apache-ctl",
        default="apache2ctl",
        metavar="COMMAND",
        help="The control command used for the configuration test (-t), the dumps "
        "(-t -D DUMP_...) and the graceful restart (-k graceful); apachectl on RHEL "
        "and Fedora (default: apache2ctl).",
    )
    apache_vhost_root: str | None = option(
        "--apache-vhost-root",
        metavar="DIR",
        help="Directory in which new SSL VirtualHost files are created (default: next to "
        "the file of the HTTP VirtualHost they are copied from).",
    )
    apache_le_vhost_ext: str = option(
        "--apache-le-vhost-ext",
        default="-le-ssl.conf",
        metavar="SUFFIX",
        help="Suffix of the SSL VirtualHost files the plugin creates (default: -le-ssl.conf).",
    )
    http01_port: int = option(
        "--http-01-port",
        default=80,
        metavar="PORT",
        help="Port HTTP-01 challenges are answered on; for the apache plugin also the port "
        "of the HTTP VirtualHosts (default: 80). The CA always connects to port 80: use "
        "another port only when port 80 is forwarded to it.",
    )
    https_port: int = option(
        "--https-port",
        default=443,
        metavar="PORT",
        help="Port the installer makes the server listen on for HTTPS (default: 443).",
    )


PLUGIN = PluginSpec(
    name="apache",
    description=(
        "Apache Web Server: answer HTTP-01 through the running Apache and install "
        "certificates into its VirtualHosts (mod_ssl, redirect, HSTS)"
    ),
    authenticator=True,
    installer=True,
    options=ApacheOptions,
    factory="certbot_like_apache.plugin:ApachePlugin",
    availability="certbot_like_apache.availability:unavailable_reason",
    challenge_types=(HTTP01,),
)
