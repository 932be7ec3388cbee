"""Routing the HTTP-01 challenge path to a fleet's ``serve-challenges`` (pure planning).

Each block that answers one of the names over plain HTTP (by name, or as the default
server, exactly the blocks the authenticator would answer a challenge in: :func:`.choice.
choose_challenge`) gets, as its last statement (with ``# managed by certbot-like``)::

    location ^~ /.well-known/acme-challenge/ { proxy_pass http://ADDR:PORT; }

``^~`` makes nginx take this prefix without looking at regular-expression locations, and
it is longer than any ``/`` or ``/.well-known/`` prefix of the block, so the site's other
locations never see the request. A block that already holds exactly this location is left
alone (a second run changes nothing); a block with any other location for the challenge
path (another upstream, a ``root``, an ``alias``), in the block or through an include, is
a conflict and nothing is written.

nginx runs a server block's own ``return``, ``rewrite`` and ``if`` statements before it picks
a location, so a block that redirects at server level (``return 301 https://...``, or the
``if ($scheme != "https")`` that ``--redirect`` writes) would redirect the challenge path
too. Such a block also gets, as its first statement::

    if ($uri ~ "^/[.]well-known/acme-challenge/") { break; }

``break`` ends the block's rewrite statements for the challenge path only; everything
else is redirected as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from certbot_like.errors import InstallerError

from . import editor
from .choice import choose_challenge
from .lexer import Statement
from .parser import NginxConfig, ServerBlock
from .planner import MARK, Plan
from .selection import Ambiguity

PATH = "/.well-known/acme-challenge/"


@dataclass
class RoutePlan:
    """The changes, and the blocks changed or found already routed (by ``where``)."""

    plan: Plan = field(default_factory=Plan)
    changed: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)


def location_line(upstream: str) -> str:
    """The statement we add (``upstream`` is ``http://ADDR:PORT``)."""
    proxy = editor.statement("proxy_pass", upstream)
    return f"location ^~ {PATH} {{ {proxy} }} {MARK}"


#: The server-level statements nginx runs before it picks a location (the rewrite module's).
_REWRITES = frozenset({"return", "rewrite", "if"})


def exemption_line() -> str:
    """The statement that lets the challenge path past a block's own redirects."""
    return f'if ($uri ~ "^/[.]well-known/acme-challenge/") {{ break; }} {MARK}'


def _is_exemption(stmt: Statement) -> bool:
    children = [c.directive for c in stmt.block or () if not c.directive.startswith("#")]
    return (
        stmt.directive == "if" and "acme-challenge" in " ".join(stmt.args) and children == ["break"]
    )


def _needs_exemption(block: ServerBlock) -> bool:
    """Whether *block* runs rewrite statements of its own (or through an include) and is
    not yet exempted."""
    own = [d.stmt for d in block.directives if d.stmt.directive in _REWRITES]
    return bool(own) and not any(_is_exemption(stmt) for stmt in own)


def _is_challenge(stmt: Statement) -> bool:
    return bool(stmt.args) and "acme-challenge" in stmt.args[-1]


def _routes_to(stmt: Statement, upstream: str) -> bool:
    children = [c for c in stmt.block or () if not c.directive.startswith("#")]
    return (
        list(stmt.args) == ["^~", PATH]
        and len(children) == 1
        and children[0].directive == "proxy_pass"
        and list(children[0].args) == [upstream]
    )


def _existing(block: ServerBlock, upstream: str) -> bool:
    """Whether *block* already routes the path to *upstream*.

    Raises:
        InstallerError: it has another location for the challenge path.
    """
    found = [d for d in block.get("location") if _is_challenge(d.stmt)]
    ours = [d for d in found if _routes_to(d.stmt, upstream) and not d.included]
    others = [d for d in found if d not in ours]
    if others:
        other = others[0]
        raise InstallerError(
            f"The server block at {block.where} already has `location "
            f"{' '.join(other.stmt.args)}` ({other.file.path}:{other.stmt.line}), not a "
            f"proxy_pass to {upstream}; nothing was changed",
            f"Remove that location (or point it at {upstream} with `^~ {PATH}`), "
            "then run the command again",
        )
    return bool(ours)


def plan_route(
    config: NginxConfig, names: Sequence[str], http_port: int, upstream: str
) -> RoutePlan:
    """Where and how to add the location for *names*.

    Raises:
        InstallerError: nothing listens for plain HTTP on *http_port*, nginx's choice is
            ambiguous, or a block already routes the path elsewhere.
    """
    servers = config.selection_servers()
    chosen: dict[int, ServerBlock] = {}
    for name in names:
        try:
            found = choose_challenge(servers, name, http_port)
        except Ambiguity as exc:
            raise InstallerError(exc.message + "; nothing was changed", exc.hint) from None
        if not found:
            raise InstallerError(
                f"No server block answers {name} over plain HTTP on port {http_port}; "
                "nothing was changed",
                f"Add a server block listening on port {http_port} for it (or give "
                "--http-01-port), then run the command again",
            )
        for server in found:
            chosen.setdefault(server.index, config.block(server.index))
    result = RoutePlan()
    for block in chosen.values():  # every conflict is found before anything is planned
        if _existing(block, upstream):
            result.already.append(block.where)
    for block in chosen.values():
        exempt = _needs_exemption(block)
        if block.where in result.already and not exempt:
            continue
        text = block.file.text
        if exempt:
            result.plan.add(block.file, editor.insert_first(text, block.stmt, [exemption_line()]))
        if block.where not in result.already:
            line = location_line(upstream)
            result.plan.add(block.file, editor.insert_last(text, block.stmt, [line]))
        else:
            result.already.remove(block.where)
        result.changed.append(block.where)
    return result
