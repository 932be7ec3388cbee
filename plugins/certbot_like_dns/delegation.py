"""CNAME delegation of ``_acme-challenge`` names (RFC 8555 section 8.4 allows it).

An operator may point ``_acme-challenge.example.com`` at a name in another zone, say
``_acme-challenge.example.com.auth.example.net``, so that the credentials used here can write
only to that zone. The CA follows the CNAME when it validates; so do we, before writing: the
TXT record is written at the end of the chain. Loops and overly long chains are refused.
"""

from __future__ import annotations

from typing import Protocol

from certbot_like.errors import PluginError

MAX_DEPTH = 8
"""CNAMEs followed at most from one ``_acme-challenge`` name (resolvers give up near 8-16)."""


class CnameSource(Protocol):
    """What :func:`follow_cnames` needs: the CNAME target of a name, if any."""

    def cname(self, name: str) -> str | None:
        """The target of *name*'s CNAME record, or ``None``."""


def follow_cnames(name: str, source: CnameSource, *, max_depth: int = MAX_DEPTH) -> list[str]:
    """The CNAME chain from *name*: ``[name, target, ..., final]`` (just ``[name]`` if none).

    Names are compared case-insensitively and without a trailing dot.

    Raises:
        PluginError: the chain loops or is longer than *max_depth*; or a lookup failed.
    """
    chain = [name.rstrip(".")]
    seen = {chain[0].lower()}
    while True:
        target = source.cname(chain[-1])
        if target is None:
            return chain
        target = target.rstrip(".")
        if target.lower() in seen:
            raise PluginError(
                f"CNAME loop at {name}: {' -> '.join([*chain, target])}",
                "Fix the CNAME records so that the chain ends at a name that can hold TXT records",
            )
        if len(chain) - 1 >= max_depth:
            raise PluginError(
                f"CNAME chain from {name} is longer than {max_depth} records "
                f"({' -> '.join(chain[:3])} -> ...)",
                "Point the _acme-challenge name more directly at its target",
            )
        chain.append(target)
        seen.add(target.lower())
