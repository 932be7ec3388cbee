"""Routing the HTTP-01 challenge path to a fleet's ``serve-challenges`` through mod_proxy.

Each VirtualHost Apache answers one of the names with on ``--http-01-port`` (per arrival
address the one naming it, else that address's default: the VirtualHosts the authenticator
would answer a challenge in) gets, as its first directive::

    ProxyPass /.well-known/acme-challenge/ http://ADDR:PORT/.well-known/acme-challenge/

First, because ``ProxyPass`` rules are tried in the order they are written (a ``ProxyPass
/`` to an application must not see the challenge path). mod_rewrite's rules run before
``ProxyPass``, so a VirtualHost with ``RewriteRule`` lines (a redirect to HTTPS, say) also
gets, before them, ``RewriteRule ^/[.]well-known/acme-challenge/ - [END]``: rewriting stops
there and leaves the path to mod_proxy. mod_proxy and mod_proxy_http are enabled as the
installer enables modules. A VirtualHost that already holds these lines is left alone; any
other ``ProxyPass``, ``Alias`` or ``...Match`` for the challenge path (``ProxyPass ... !``
included) is a conflict and nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence

from certbot_like.errors import InstallerError
from certbot_like_apache.config import ApacheConfig
from certbot_like_apache.selection import VHost, serving

PATH = "/.well-known/acme-challenge/"
_DIRECTIVES = ("ProxyPass", "ProxyPassMatch", "Alias", "AliasMatch")
MODULES = ("proxy", "proxy_http")
EXEMPTION = ["^/[.]well-known/acme-challenge/", "-", "[END]"]
"""The ``RewriteRule`` that keeps a VirtualHost's own rewrites off the challenge path (no
backslash and no space, so that it is written without quotes)."""


def proxy_args(upstream: str) -> list[str]:
    """The arguments of our ``ProxyPass`` line (``upstream`` is ``http://ADDR:PORT``)."""
    return [PATH, upstream.rstrip("/") + PATH]


def choose_vhosts(cfg: ApacheConfig, names: Sequence[str], port: int) -> list[VHost]:
    """The VirtualHosts answering *names* on *port*.

    Raises:
        InstallerError: nothing answers a name there, or it is in a file Augeas cannot read.
    """
    cfg.refuse_skipped(names, InstallerError)
    vhosts = [v for v in cfg.vhosts() if v.serves_port(port)]
    chosen: list[VHost] = []
    for name in names:
        found = serving(name, port, vhosts)
        if not found:
            raise InstallerError(
                f"No VirtualHost answers {name} on port {port}; nothing was changed",
                f"Add a VirtualHost on port {port} for it (or give --http-01-port), "
                "then run the command again",
            )
        chosen += [v for v in found if v not in chosen]
    return chosen


def already_routed(cfg: ApacheConfig, vhost: VHost, upstream: str) -> bool:
    """Whether *vhost* already has our line.

    Raises:
        InstallerError: it maps the challenge path elsewhere.
    """
    tree = cfg.tree
    wanted = proxy_args(upstream)
    ours = False
    for directive in _DIRECTIVES:
        for path in tree.directives(vhost.key, directive):
            args = tree.args(path)
            if not args or "acme-challenge" not in args[0]:
                continue
            own = path.rsplit("/", 1)[0] == vhost.key
            if own and directive == "ProxyPass" and args == wanted:
                ours = True
                continue
            file, line = tree.location(path)
            raise InstallerError(
                f"{vhost.where} already has `{directive} {' '.join(args)}` ({file}:{line}), "
                f"not a ProxyPass to {upstream}; nothing was changed",
                f"Remove that line (or make it `ProxyPass {' '.join(wanted)}`), "
                "then run the command again",
            )
    return ours


def needs_exemption(cfg: ApacheConfig, vhost: VHost) -> bool:
    """Whether *vhost* has ``RewriteRule`` lines but not our exemption ahead of them."""
    tree = cfg.tree
    rules = [tree.args(p) for p in tree.directives(vhost.key, "RewriteRule")]
    return bool(rules) and rules[0] != EXEMPTION
