"""Loading an nginx configuration with crossplane, keeping file positions for edits.

crossplane reads ``nginx.conf`` and every file its ``include`` directives load (globs
expanded, sorted as nginx sorts them). Each file it reads without error is also tokenized
by :mod:`.lexer` and checked to read exactly as crossplane reads it, so every statement has
its offsets. A file crossplane cannot read is kept aside as :class:`Unparsed` (with
crossplane's reason and line): it only stops an installation when it may concern the names
being installed (:meth:`NginxConfig.check_unparsed`). :func:`compare_with_dump` checks the
files against what nginx itself loads (``nginx -T``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certbot_like.errors import PluginError

from .lexer import (
    LexError,
    Statement,
    check_against_crossplane,
    crossplane_statements,
    statements,
    tokenize,
)
from .selection import Listen, Server, default_listens, parse_listen

logger = logging.getLogger(__name__)

MAIN_FILE = "nginx.conf"


@dataclass
class ConfFile:
    """One configuration file: its text (bytes kept through ``surrogateescape``)."""

    path: str
    text: str
    statements: tuple[Statement, ...]

    @property
    def real_path(self) -> str:
        """The file to write (a symlink such as ``sites-enabled/x`` is followed)."""
        return os.path.realpath(self.path)


@dataclass(frozen=True)
class Located:
    """A statement, its file, and whether an ``include`` inside the block brought it."""

    stmt: Statement
    file: ConfFile
    included: bool


@dataclass
class ServerBlock:
    """A ``server`` block of the ``http`` context with its effective directives."""

    index: int
    stmt: Statement
    file: ConfFile
    where: str
    directives: list[Located] = field(default_factory=list)

    def get(self, name: str) -> list[Located]:
        """Every server-level *name* directive, in order (through includes)."""
        return [d for d in self.directives if d.stmt.directive == name]

    def own(self, name: str) -> list[Statement]:
        """The *name* statements written in the block itself (not through an include)."""
        return [d.stmt for d in self.get(name) if not d.included]


@dataclass(frozen=True)
class Unparsed:
    """A file nginx loads that crossplane could not read."""

    path: str
    line: int | None
    reason: str

    def describe(self) -> str:
        return f"{self.path}{f':{self.line}' if self.line else ''}: {self.reason}"


@dataclass
class NginxConfig:
    """The configuration nginx loads from ``<root>/nginx.conf``."""

    root: Path
    main: ConfFile
    files: dict[str, ConfFile]
    servers: list[ServerBlock]
    unparsed: list[Unparsed]
    http: tuple[ConfFile, Statement] | None = None
    pid: str | None = None
    _selection: list[Server] | None = None

    def selection_servers(self) -> list[Server]:
        """The server blocks as :mod:`.selection` sees them.

        Raises:
            PluginError: a ``listen`` directive is malformed.
        """
        if self._selection is None:
            self._selection = [_selection_server(block) for block in self.servers]
        return self._selection

    def block(self, index: int) -> ServerBlock:
        return self.servers[index]

    def check_unparsed(self, names: Sequence[str]) -> None:
        """Stop when a file crossplane could not read may concern *names*.

        A file that mentions none of the names is ignored with a warning: it cannot hold
        an exact or wildcard ``server_name`` for them.

        Raises:
            PluginError: such a file mentions one of the names (it is named with the reason).
        """
        for item in self.unparsed:
            text = _read_text(item.path).lower()
            hits = [n for n in names if n.lower().lstrip("*.") in text]
            if hits:
                raise PluginError(
                    f"Cannot parse {item.describe()}; it mentions {', '.join(hits)}",
                    "Fix that file (nginx -t shows nginx's view of it) and try again",
                )
            logger.warning("Ignoring %s (it mentions none of the names)", item.describe())

    def names(self) -> set[str]:
        """Every exact or wildcard ``server_name`` in the configuration."""
        found: set[str] = set()
        for server in self.selection_servers():
            for name in server.names:
                if name and not name.startswith("~") and name != "_" and "$" not in name:
                    found.add(name.lower())
        return found


def load(root: Path) -> NginxConfig:
    """Parse ``<root>/nginx.conf`` and everything it includes.

    Raises:
        PluginError: there is no ``nginx.conf`` in *root*, or crossplane cannot read it.
    """
    import crossplane

    main_path = os.path.abspath(root / MAIN_FILE)
    if not os.path.isfile(main_path):
        raise PluginError(
            f"No {MAIN_FILE} in {root}",
            "Point --nginx-server-root at the directory holding nginx.conf",
        )
    payload = crossplane.parse(
        main_path, catch_errors=True, check_ctx=False, check_args=False, comments=False
    )
    configs: list[dict[str, Any]] = payload["config"]
    paths = [str(c["file"]) for c in configs]
    files: dict[str, ConfFile] = {}
    unparsed: list[Unparsed] = []
    for entry in configs:
        path = str(entry["file"])
        problem = _read(entry, paths, files, crossplane)
        if problem is not None:
            if path == main_path:
                raise PluginError(
                    f"Cannot parse {problem.describe()}",
                    "Fix it (nginx -t shows nginx's view) or give --nginx-server-root",
                )
            unparsed.append(problem)
    config = NginxConfig(Path(root), files[main_path], files, [], unparsed)
    _walk(config, config.main, config.main.statements, (), (main_path,))
    return config


def _read(
    entry: Mapping[str, Any], paths: Sequence[str], files: dict[str, ConfFile], crossplane: Any
) -> Unparsed | None:
    path = str(entry["file"])
    if entry["errors"]:
        first = entry["errors"][0]
        return Unparsed(path, first.get("line"), str(first.get("error")))
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "surrogateescape")
        tokens = tokenize(text)
        stmts = statements(tokens)
        theirs = list(crossplane.lex(path))
    except OSError as exc:
        return Unparsed(path, None, exc.strerror or str(exc))
    except LexError as exc:
        return Unparsed(path, exc.line, str(exc))
    except Exception as exc:  # crossplane's own syntax errors
        return Unparsed(path, getattr(exc, "lineno", None), str(exc))
    problem = check_against_crossplane(tokens, theirs, stmts, entry["parsed"])
    if problem is not None:
        return Unparsed(path, None, f"read differently from crossplane ({problem})")
    files[path] = ConfFile(path, text, _with_includes(stmts, entry["parsed"], paths))
    return None


def _with_includes(
    stmts: Sequence[Statement], parsed: Sequence[Mapping[str, Any]], paths: Sequence[str]
) -> tuple[Statement, ...]:
    out = []
    for stmt, theirs in zip(stmts, crossplane_statements(parsed), strict=True):
        new = stmt
        if "includes" in theirs:
            new = dataclasses.replace(new, includes=tuple(paths[i] for i in theirs["includes"]))
        if new.block is not None:
            new = dataclasses.replace(new, block=_with_includes(new.block, theirs["block"], paths))
        out.append(new)
    return tuple(out)


def _included(config: NginxConfig, stmt: Statement, stack: tuple[str, ...]) -> Iterator[str]:
    for path in stmt.includes:
        if path in stack:
            logger.warning("%s includes itself; not following the loop", path)
        elif path in config.files:
            yield path


def _walk(
    config: NginxConfig,
    conf: ConfFile,
    stmts: Sequence[Statement],
    ctx: tuple[str, ...],
    stack: tuple[str, ...],
) -> None:
    for stmt in stmts:
        if stmt.directive == "include":
            for path in _included(config, stmt, stack):
                included = config.files[path]
                _walk(config, included, included.statements, ctx, (*stack, path))
        elif stmt.block is None:
            if ctx == () and stmt.directive == "pid" and stmt.args:
                config.pid = stmt.args[0]
        elif ctx == () and stmt.directive == "http":
            if config.http is None:
                config.http = (conf, stmt)
            _walk(config, conf, stmt.block, ("http",), stack)
        elif ctx == ("http",) and stmt.directive == "server":
            block = ServerBlock(len(config.servers), stmt, conf, _where(config.root, conf, stmt))
            _collect(config, block, conf, stmt.block, False, stack)
            config.servers.append(block)


def _collect(
    config: NginxConfig,
    block: ServerBlock,
    conf: ConfFile,
    stmts: Sequence[Statement],
    included: bool,
    stack: tuple[str, ...],
) -> None:
    for stmt in stmts:
        block.directives.append(Located(stmt, conf, included))
        if stmt.directive == "include":
            for path in _included(config, stmt, stack):
                inner = config.files[path]
                _collect(config, block, inner, inner.statements, True, (*stack, path))


def _where(root: Path, conf: ConfFile, stmt: Statement) -> str:
    try:
        shown = str(Path(conf.path).relative_to(root.resolve()))
    except ValueError:
        try:
            shown = str(Path(conf.path).relative_to(os.path.abspath(root)))
        except ValueError:
            shown = conf.path
    return f"{shown}:{stmt.line}"


def _selection_server(block: ServerBlock) -> Server:
    names = tuple(a for d in block.get("server_name") for a in d.stmt.args)
    listens: list[Listen] = []
    for item in block.get("listen"):
        try:
            listens.extend(parse_listen(item.stmt.args))
        except ValueError as exc:
            raise PluginError(
                f"{item.file.path}:{item.stmt.line}: {exc}", "Fix the listen directive"
            ) from None
    if not block.get("listen"):
        listens = list(default_listens())
    return Server(block.index, block.where, names or ("",), tuple(listens))


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def compare_with_dump(config: NginxConfig, dumped: Sequence[str]) -> None:
    """Check that crossplane read what nginx loads (``nginx -T`` lists each file).

    Files nginx loads that crossplane did not read become :class:`Unparsed`.

    Raises:
        PluginError: nginx loads another main configuration file (the server root or the
            nginx binary given do not belong together).
    """
    if not dumped:
        return
    if os.path.realpath(dumped[0]) != os.path.realpath(config.main.path):
        raise PluginError(
            f"nginx loads {dumped[0]}, not {config.main.path}",
            "Give the matching --nginx-server-root (or --nginx-ctl for another nginx)",
        )
    known = {os.path.realpath(p) for p in config.files} | {
        os.path.realpath(u.path) for u in config.unparsed
    }
    for path in dumped:
        if os.path.realpath(path) not in known:
            config.unparsed.append(Unparsed(path, None, "nginx loads it but crossplane did not"))
