"""The webroot plugin: answers HTTP-01 by writing files into a running web server's docroot.

This module is imported to list plugins and print ``--help``: it holds only the options and
their command-line resolution; the authenticator lives in :mod:`.authenticator`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from certbot_like.errors import PluginError
from certbot_like.interfaces import HTTP01, PluginSpec, option
from certbot_like.plugin_kit import ascii_name

_SEVERAL_PATHS_HINT = (
    "Put a -w before the first -d, e.g. -w /var/www/a -d a.example -w /var/www/b -d b.example"
)


@dataclass(frozen=True)
class WebrootOptions:
    """Where to write HTTP-01 files: stored as-is in the renewal conf (certbot's keys)."""

    webroot_path: tuple[str, ...] = option(
        "-w",
        "--webroot-path",
        default=(),
        multiple=True,
        metavar="WEBROOT",
        help="public_html / webroot path; applies to the -d flags that follow it "
        "(the -d flags before the first -w take that first -w)",
    )
    webroot_map: dict[str, str] = option(
        "--webroot-map",
        default={},
        metavar="JSON",
        help="JSON object mapping domains to webroots, e.g. "
        '\'{"example.com,www.example.com": "/var/www/example"}\'',
    )


def split_domains(values: Iterable[str]) -> list[str]:
    """Comma-separated domain lists as one flat list of lower-case names (internationalised
    names as A-labels, the form identifiers have), blanks dropped."""
    return [
        ascii_name(name.strip()).lower()
        for value in values
        for name in value.split(",")
        if name.strip()
    ]


def expand_map(webroot_map: Mapping[str, str]) -> dict[str, str]:
    """*webroot_map* with comma-separated keys split and lower-cased, values made absolute.

    Wildcard names are dropped (HTTP-01 cannot prove them).
    """
    return {
        name: os.path.abspath(path)
        for key, path in webroot_map.items()
        for name in split_domains([key])
        if not name.startswith("*.")
    }


def resolve_webroot_options(
    options: WebrootOptions, ordered: Sequence[tuple[str, str]]
) -> WebrootOptions:
    """Map each ``-d`` to its ``-w`` the way certbot does; return options with a full map.

    *ordered* holds the command line's ``("webroot_path", path)`` and ``("domains", list)``
    flags in order. A ``-w`` applies to every ``-d`` after it until the next ``-w``; the
    ``-d`` flags before the first ``-w`` take the first one. ``--webroot-map`` entries win
    over positional ones; wildcards are never mapped; paths are made absolute (a renewal
    may run from another directory).

    Raises:
        PluginError: several ``-w`` were given and some ``-d`` precede all of them.
    """
    explicit = expand_map(options.webroot_map)
    positional: dict[str, str] = {}
    pending: list[str] = []  # domains not yet given a webroot
    paths: list[str] = []
    domains_before_first_path = False
    for key, value in ordered:
        if key == "webroot_path":
            path = os.path.abspath(value)
            if paths:
                for name in pending:
                    positional.setdefault(name, paths[-1])
                pending = []
            elif pending:
                domains_before_first_path = True
            paths.append(path)
            if domains_before_first_path and len(paths) > 1:
                raise PluginError(
                    "If you give several webroot paths, one of them must come before all -d flags",
                    _SEVERAL_PATHS_HINT,
                )
        elif key == "domains":
            pending.extend(name for name in split_domains([value]) if not name.startswith("*."))
    if not paths:
        paths = [os.path.abspath(path) for path in options.webroot_path]
    if paths:
        for name in pending:
            positional.setdefault(name, paths[-1])
    full = {**positional, **explicit}
    return dataclasses.replace(options, webroot_path=tuple(paths), webroot_map=full)


PLUGIN = PluginSpec(
    name="webroot",
    description="Place files in a webroot folder for authentication (HTTP-01)",
    authenticator=True,
    installer=False,
    options=WebrootOptions,
    factory="certbot_like_webroot.authenticator:WebrootAuthenticator",
    resolve_options=resolve_webroot_options,
    challenge_types=(HTTP01,),
)
