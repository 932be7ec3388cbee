"""The text changes for a deployment, a redirect, HSTS and HTTP-01 challenges.

Each function takes the parsed configuration and the blocks chosen by :mod:`.choice` and
returns a :class:`Plan`: :class:`~.editor.Change` lists per file, applied (with backups) by
the installer. Lines we add end with ``# managed by certbot-like`` (challenge lines with
``# certbot-like challenge``) so that a later run recognises them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from certbot_like.errors import InstallerError
from certbot_like.interfaces import ChallengeTask, DeployTarget

from . import editor, options_ssl
from .choice import Copy
from .editor import Change
from .lexer import Statement, if_condition
from .parser import ConfFile, NginxConfig, ServerBlock
from .selection import Listen

MARK = "# managed by certbot-like"
CHALLENGE_MARK = "# certbot-like challenge"
REDIRECT_VAR = "$certbot_like_redirect"
HSTS_VALUE = "max-age=31536000"


@dataclass
class Plan:
    """Changes per file (by path) and notes for the operator."""

    changes: dict[str, list[Change]] = field(default_factory=dict)
    files: dict[str, ConfFile] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, conf: ConfFile, change: Change) -> None:
        self.files[conf.path] = conf
        self.changes.setdefault(conf.path, []).append(change)

    def texts(self) -> dict[str, str]:
        """The new text of every changed file (by the real path to write).

        Raises:
            InstallerError: two changes overlap (a bug; nothing was written).
        """
        out: dict[str, str] = {}
        for path, changes in self.changes.items():
            conf = self.files[path]
            try:
                new = editor.apply(conf.text, changes)
            except ValueError as exc:
                raise InstallerError(f"Cannot edit {path}: {exc}") from None
            if new != conf.text:
                out[conf.real_path] = new
        return out


def _is_managed(conf: ConfFile, stmt: Statement, mark: str = MARK) -> bool:
    return editor.trailing_comment(conf.text, stmt).startswith(mark)


def _check_path(path: str) -> str:
    if "$" in path or any(c in path for c in "\r\n"):
        raise InstallerError(f"Cannot write the path {path!r} into nginx's configuration")
    return path


def _includes_options(block: ServerBlock, options: str) -> bool:
    wanted = os.path.realpath(options)
    return any(
        d.stmt.args and os.path.realpath(d.stmt.args[0]) == wanted for d in block.get("include")
    )


def _own_tls_settings(block: ServerBlock) -> Statement | None:
    for item in block.directives:
        if item.stmt.directive in options_ssl.DIRECTIVES:
            return item.stmt
    return None


def _cert_changes(block: ServerBlock, target: DeployTarget, options: str, plan: Plan) -> list[str]:
    """Replace the block's certificate directives in place; return the lines to add."""
    add: list[str] = []
    wanted = {
        "ssl_certificate": _check_path(str(target.fullchain_path)),
        "ssl_certificate_key": _check_path(str(target.key_path)),
    }
    for directive, path in wanted.items():
        found = block.get(directive)
        via = [d for d in found if d.included]
        if via:
            raise InstallerError(
                f"The server block at {block.where} takes {directive} from "
                f"{via[0].file.path}:{via[0].stmt.line}, a file certbot-like does not edit",
                f"Move the {directive} lines into the server block (or drop that include)",
            )
        if len(found) > 1:
            raise InstallerError(
                f"The server block at {block.where} has {len(found)} {directive} directives",
                "Keep one certificate per server block, or install this one by hand",
            )
        if found:
            if list(found[0].stmt.args) != [path]:
                plan.add(block.file, editor.replace_args(block.file.text, found[0].stmt, [path]))
        else:
            add.append(editor.statement(directive, path, comment=MARK))
    if not _includes_options(block, options):
        own = _own_tls_settings(block)
        if own is None:
            add.append(editor.statement("include", _check_path(options), comment=MARK))
        else:
            plan.notes.append(
                f"{block.where} sets {own.directive} itself, so {options} is not included "
                "there (its own TLS settings apply)"
            )
    return add


def plan_deploy_https(
    config: NginxConfig, blocks: Sequence[ServerBlock], target: DeployTarget, options: str
) -> Plan:
    """Point existing HTTPS blocks at the certificate.

    Raises:
        InstallerError: a block's certificate comes from an include, or it has several.
    """
    plan = Plan()
    for block in blocks:
        add = _cert_changes(block, target, options, plan)
        if add:
            plan.add(block.file, editor.insert_last(block.file.text, block.stmt, add))
    return plan


def plan_copies(
    config: NginxConfig,
    copies: Sequence[tuple[Copy, ServerBlock]],
    target: DeployTarget,
    options: str,
    http_port: int,
    https_port: int,
) -> Plan:
    """Add an HTTPS copy after each HTTP block (the block itself is left as it is).

    Raises:
        InstallerError: a block takes its ``listen`` from an include (its copy would listen
            on the HTTP port too).
    """
    plan = Plan()
    for copy, block in copies:
        text, stmt = block.file.text, block.stmt
        if any(d.included for d in block.get("listen")):
            raise InstallerError(
                f"The server block at {block.where} takes listen from an include; "
                "certbot-like cannot make an HTTPS copy of it",
                f"Add `listen {https_port} ssl;` and the certificate lines to a server block "
                "yourself, then use `certbot-like install`",
            )
        inner: list[Change] = [editor.remove(text, s) for s in block.own("listen")]
        inner += [
            editor.remove(text, s)
            for s in stmt.block or ()
            if s.directive in ("set", "if", "return") and _is_managed(block.file, s)
        ]
        first = [
            editor.statement("listen", *_https_listen(item, https_port), comment=MARK)
            for item in _http_listens(config, block, http_port)
        ]
        if copy.names is not None:
            names = list(copy.names)
            own = block.own("server_name")
            if own:
                inner.append(editor.replace_args(text, own[0], names))
                inner += [editor.remove(text, s) for s in own[1:]]
            else:
                first.append(editor.statement("server_name", *names, comment=MARK))
        sub = Plan()
        last = _cert_changes(block, target, options, sub)
        inner += sub.changes.get(block.file.path, [])
        plan.notes += sub.notes
        inner.append(editor.insert_first(text, stmt, list(dict.fromkeys(first))))
        inner.append(editor.insert_last(text, stmt, last))
        indent = editor.indent_at(text, stmt.start)
        body = editor.apply(text, inner, stmt.start, stmt.end)
        snippet = f"{indent}# HTTPS copy of the server block at {block.where}, made by certbot-like"
        snippet += editor.newline_of(text) + indent + body
        plan.add(block.file, editor.insert_after_block(text, stmt, snippet))
    return plan


# listen parameters nginx accepts on several blocks of one address (the others, such as
# backlog, reuseport or ipv6only, only once per address, and default_server on one block)
_REPEATABLE_LISTEN = frozenset({"ssl", "http2", "proxy_protocol"})


def plan_split(
    split: Copy, block: ServerBlock, target: DeployTarget, options: str, plan: Plan
) -> None:
    """Give the names of *split* a copy of *block* with the certificate, placed after it;
    the block keeps its other names and its own certificate. The copy names them exactly
    (or as the same wildcard), which nginx prefers to any wildcard or regular expression of
    the block; a name the block lists exactly is taken out of its ``server_name``.

    Raises:
        InstallerError: the block takes ``server_name`` or ``listen`` from an include.
    """
    text, stmt = block.file.text, block.stmt
    for directive in ("server_name", "listen"):
        via = [d for d in block.get(directive) if d.included]
        if via:
            raise InstallerError(
                f"The server block at {block.where} also serves names the certificate does "
                f"not cover, and takes {directive} from {via[0].file.path}; certbot-like "
                "cannot give the requested names a block of their own",
                "Write a server block for exactly these names yourself, then use "
                "`certbot-like install`",
            )
    names = list(split.names or ())
    moved = {n.lower().rstrip(".") for n in names}
    own = block.own("server_name")
    inner: list[Change] = [editor.replace_args(text, own[0], names)]
    inner += [editor.remove(text, s) for s in own[1:]]
    for listen in block.own("listen"):
        args = [listen.args[0], *(a for a in listen.args[1:] if a in _REPEATABLE_LISTEN)]
        if args != list(listen.args):
            inner.append(editor.replace_args(text, listen, args))
    sub = Plan()
    last = _cert_changes(block, target, options, sub)
    inner += sub.changes.get(block.file.path, [])
    plan.notes += sub.notes
    inner.append(editor.insert_last(text, stmt, last))
    indent = editor.indent_at(text, stmt.start)
    body = editor.apply(text, inner, stmt.start, stmt.end)
    snippet = (
        f"{indent}# {', '.join(names)}: a copy of the server block at {block.where}, made by "
        "certbot-like so that its other names keep their certificate"
    )
    snippet += editor.newline_of(text) + indent + body
    for entry in own:
        kept = [a for a in entry.args if a.lower().rstrip(".") not in moved]
        if kept != list(entry.args):
            if kept:
                plan.add(block.file, editor.replace_args(text, entry, kept))
            else:
                plan.add(block.file, editor.remove(text, entry))
    plan.add(block.file, editor.insert_after_block(text, stmt, snippet))
    plan.notes.append(
        f"{block.where} also serves names the certificate does not cover; {', '.join(names)} "
        "now have a server block of their own after it"
    )


def _http_listens(config: NginxConfig, block: ServerBlock, http_port: int) -> list[Listen]:
    server = config.selection_servers()[block.index]
    return [i for i in server.listens if i.address.port == http_port and not i.ssl]


def _https_listen(item: Listen, https_port: int) -> list[str]:
    host = item.address.host
    where = str(https_port) if host == "*" else f"{host}:{https_port}"
    return [where, "ssl"]


def plan_redirect(blocks: Sequence[tuple[ServerBlock, list[str]]], https_port: int) -> Plan:
    """Make each block answer plain HTTP requests for its names with a 301 to HTTPS.

    The test is on ``$scheme://$host``, so HTTPS requests (including to a block that also
    listens with TLS) are never redirected: no loop.
    """
    plan = Plan()
    port = "" if https_port == 443 else f":{https_port}"
    for block, names in blocks:
        conf = block.file
        existing = {
            " ".join(conf.text[s.start : s.end].split())
            for s in block.stmt.block or ()
            if _is_managed(conf, s)
        }
        setter = [
            s for s in block.stmt.block or () if s.directive == "set" and _is_managed(conf, s)
        ]
        wanted = [n for n in names if not _already_redirects(block, n)]
        if not wanted:
            continue
        lines = []
        if not setter:
            lines.append(f'set {REDIRECT_VAR} "$scheme://$host"; {MARK}')
        for name in wanted:
            test = _redirect_test(name)
            statement = (
                f"if ({REDIRECT_VAR} {test}) {{ return 301 https://$host{port}$request_uri; }}"
            )
            if " ".join(statement.split()) not in existing:
                lines.append(f"{statement} {MARK}")
        if not lines:
            continue
        if setter:
            change = editor.insert_after_stmt(conf.text, block.stmt, setter[0], lines)
        else:
            change = editor.insert_first(conf.text, block.stmt, lines)
        plan.add(conf, change)
    return plan


_REDIRECT_CODES = frozenset({"301", "302", "307", "308"})


def _https_return(stmt: Statement) -> bool:
    return (
        stmt.directive == "return"
        and len(stmt.args) == 2
        and stmt.args[0] in _REDIRECT_CODES
        and stmt.args[1].startswith("https://")
    )


def _already_redirects(block: ServerBlock, name: str) -> bool:
    """Whether the block already sends *name* to HTTPS at server level: an unconditional
    ``return 301 https://...``, or ``if ($host = name) { return 301 https://...; }`` as
    certbot writes it."""
    for stmt in block.stmt.block or ():
        if _https_return(stmt):
            return True
        if (
            stmt.directive == "if"
            and if_condition(stmt.args) == ["$host", "=", name]
            and any(_https_return(inner) for inner in stmt.block or ())
        ):
            return True
    return False


def _redirect_test(name: str) -> str:
    name = name.lower().rstrip(".")
    if name.startswith("*."):
        return '~ "^http://[^/]+' + re.escape(name[1:]).replace('"', "") + '$"'
    return f'= "http://{name}"'


def plan_hsts(blocks: Sequence[ServerBlock]) -> Plan:
    """Add ``Strict-Transport-Security`` to each HTTPS block that does not send it."""
    plan = Plan()
    for block in blocks:
        if any(
            d.stmt.args and d.stmt.args[0].lower() == "strict-transport-security"
            for d in block.get("add_header")
        ):
            continue
        line = f'add_header Strict-Transport-Security "{HSTS_VALUE}" always; {MARK}'
        plan.add(block.file, editor.insert_last(block.file.text, block.stmt, [line]))
        shadowed = [
            s.line
            for s in block.stmt.block or ()
            if s.directive == "location" and any(c.directive == "add_header" for c in s.block or ())
        ]
        if shadowed:
            plan.notes.append(
                f"{block.where}: locations on line(s) {', '.join(map(str, shadowed))} set their "
                "own add_header, so nginx does not send HSTS from them"
            )
    return plan


def challenge_line(task: ChallengeTask) -> str:
    """The server-level statement answering one HTTP-01 challenge (before any rewrite)."""
    return (
        f'if ($uri = "{task.http_path}") {{ return 200 "{task.key_authorization}"; }} '
        f"{CHALLENGE_MARK}"
    )


def plan_challenges(blocks: Sequence[tuple[ServerBlock, list[ChallengeTask]]]) -> Plan:
    """Insert the challenge answers at the top of each block (before any redirect)."""
    plan = Plan()
    for block, tasks in blocks:
        lines = list(dict.fromkeys(challenge_line(t) for t in tasks))
        plan.add(block.file, editor.insert_first(block.file.text, block.stmt, lines))
    return plan


def plan_challenge_server(
    config: NginxConfig, tasks: Sequence[ChallengeTask], http_port: int, ipv6: bool
) -> Plan:
    """A temporary server block answering the challenges when nothing listens on the port.

    Raises:
        InstallerError: the configuration has no ``http`` block to put it in.
    """
    if config.http is None:
        raise InstallerError("nginx's configuration has no http block to answer HTTP-01 from")
    conf, http = config.http
    lines = [f"server {{ {CHALLENGE_MARK}", f"    listen {http_port};"]
    if ipv6:
        lines.append(f"    listen [::]:{http_port};")
    lines += [f"    {challenge_line(t)}" for t in dict.fromkeys(tasks)]
    lines += ["    return 404;", "}"]
    plan = Plan()
    plan.add(conf, editor.insert_last(conf.text, http, lines))
    return plan
