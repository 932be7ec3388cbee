"""Apache's configuration as an Augeas tree (python-augeas with the Httpd lens).

Only the files Apache includes are loaded: the main file, then every file its ``Include``
and ``IncludeOptional`` directives name (globs, directories, ``${VAR}`` from ``Define`` and
the environment), then whatever Apache's own ``DUMP_INCLUDES`` adds. Each file is loaded
under its real path, so a ``sites-enabled`` link and its ``sites-available`` target are one
file and saving never replaces a link by a copy.

A file the lens cannot parse is recorded in :attr:`ConfigTree.problems` (file, line,
message) and otherwise skipped; Augeas never writes it.

:meth:`ConfigTree.save` first runs Augeas in ``noop`` mode to learn exactly which files
would be written, hands that list to the caller (who backs them up), then saves for real;
Augeas rewrites only those files and keeps every untouched line as it was.
"""

from __future__ import annotations

import fnmatch
import glob
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import augeas

from certbot_like.errors import InstallerError, PluginError
from certbot_like_apache.indent import aug_path, indent_added

__all__ = ["INCLUDE_RE", "ConfigTree", "ParseProblem", "aug_path", "quote", "unquote"]

logger = logging.getLogger(__name__)

LENS_DIR = "/usr/share/augeas/lenses/dist"
_FLAGS = augeas.Augeas.NO_MODL_AUTOLOAD | augeas.Augeas.ENABLE_SPAN | augeas.Augeas.NO_LOAD
_VAR = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
INCLUDE_RE = "include(optional)?"


@dataclass(frozen=True)
class ParseProblem:
    """A file Augeas could not parse: where and why (Apache may still accept it)."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file} (line {self.line}: {self.message})"


def quote(arg: str) -> str:
    """*arg* as one Apache argument (double-quoted when it holds spaces or quotes)."""
    if arg and not re.search(r"[\s\"'\\]", arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote(arg: str) -> str:
    """The value of one Apache argument (surrounding quotes removed, escapes undone)."""
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'":
        return re.sub(r"\\(.)", r"\1", arg[1:-1])
    return arg


class ConfigTree:
    """The loaded configuration: queries, edits and a save that reports what it writes."""

    def __init__(self, server_root: Path, main_config: Path) -> None:
        """Start Augeas with only the Httpd lens (nothing loaded yet).

        Raises:
            PluginError: Augeas cannot start (library or lens missing).
        """
        self.server_root = server_root
        self.main_config = os.path.realpath(main_config)
        loadpath = LENS_DIR if os.path.isdir(LENS_DIR) else None
        try:
            self.aug = augeas.Augeas(loadpath=loadpath, flags=_FLAGS)
        except Exception as exc:
            raise PluginError(f"Augeas could not start: {exc}", "Install libaugeas0") from exc
        self.aug.set("/augeas/load/Httpd/lens", "Httpd.lns")
        self.files: list[str] = []
        self.include_patterns: list[str] = []
        self.problems: dict[str, ParseProblem] = {}
        self.defines: dict[str, str] = {}
        self._added: list[str] = []
        self.positions: dict[str, tuple[int, ...]] = {self.main_config: ()}
        """Where Apache reads each file: the lines of the Include directives leading to it
        (and the rank among a glob's matches), so that blocks sort in Apache's order."""

    # -- loading ------------------------------------------------------------------------

    def load(self, extra_files: Iterable[str] = ()) -> None:
        """Load the main file and everything it includes, then *extra_files* (Apache's own
        list of includes); parse problems are collected, not raised.

        Raises:
            PluginError: the main configuration file is missing or unparseable.
        """
        if not os.path.isfile(self.main_config):
            raise PluginError(f"Apache's main configuration {self.main_config} is missing")
        pending = [self.main_config]
        extra = [os.path.realpath(f) for f in extra_files]
        while pending:
            new = self._add_files(pending)
            self.aug.load()
            pending = []
            for file in new:
                if self._check_error(file):
                    continue
                self._collect_defines(file)
                pending.extend(self._included_by(file))
            if not pending and extra:
                missed = [f for f in extra if f not in self.files]
                if missed:
                    logger.debug("Apache also includes %s", ", ".join(missed))
                pending, extra = missed, []
        if self.main_config in self.problems:
            raise PluginError(
                "Augeas cannot parse Apache's main configuration "
                f"{self.problems[self.main_config]}",
                "Check it with `apachectl -t`",
            )

    def _add_files(self, paths: Iterable[str]) -> list[str]:
        new = []
        for path in paths:
            real = os.path.realpath(path)
            if real in self.files or not os.path.isfile(real):
                continue
            self.files.append(real)
            new.append(real)
            self.aug.set(f"/augeas/load/Httpd/incl[{len(self.files)}]", real)
        return new

    def load_new_file(self, path: str) -> None:
        """Load (or reload) one file the plugin just created or appended to.

        Raises:
            InstallerError: Augeas cannot parse it.
        """
        real = os.path.realpath(path)
        if real not in self.files:
            self._add_files([real])
        self._reparse(real)
        if self._check_error(real):
            raise InstallerError(f"Augeas cannot parse the new file {self.problems[real]}")

    def _reparse(self, file: str) -> None:
        """Parse *file* again from disk (Augeas skips files whose recorded mtime matches,
        which a rewrite within the same second would)."""
        self.aug.set(f"/augeas{aug_path(file)}/mtime", "0")
        self.aug.load_file(file)

    def _check_error(self, file: str) -> bool:
        base = f"/augeas{aug_path(file)}/error"
        if not self.aug.match(base):
            self.problems.pop(file, None)
            return False
        line = self.aug.get(base + "/line") or "0"
        message = self.aug.get(base + "/message") or self.aug.get(base) or "parse error"
        self.problems[file] = ParseProblem(file, int(line) if line.isdigit() else 0, message)
        return True

    def _collect_defines(self, file: str) -> None:
        for path in self.directives(aug_path(file), "Define"):
            args = self.args(path)
            if args:
                self.defines[args[0]] = args[1] if len(args) > 1 else ""

    def expand(self, text: str) -> str | None:
        """*text* with ``${VAR}`` replaced (Define first, then the environment); ``None`` when
        a variable is unknown."""
        missing = False

        def value(match: re.Match[str]) -> str:
            nonlocal missing
            name = match.group(1)
            found = self.defines.get(name, os.environ.get(name))
            if found is None:
                missing = True
                return ""
            return found

        expanded = _VAR.sub(value, text)
        return None if missing else expanded

    def _included_by(self, file: str) -> list[str]:
        found: list[str] = []
        query = f"{aug_path(file)}//directive[. =~ regexp('{INCLUDE_RE}', 'i')]"
        for path in self.aug.match(query):
            args = self.args(path)
            if not args:
                continue
            target = self.expand(args[0])
            if target is None:
                logger.debug("Include %s in %s uses an unknown variable", args[0], file)
                continue
            pattern = os.path.join(str(self.server_root), target)
            self.include_patterns.append(os.path.normpath(pattern))
            line = self.location(path)[1]
            for rank, included in enumerate(_expand_include(pattern)):
                real = os.path.realpath(included)
                self.positions.setdefault(real, (*self.positions.get(file, ()), line, rank))
                found.append(included)
        return found

    def order_key(self, path: str) -> tuple[int, ...]:
        """Sorts nodes in the order Apache reads them (files it was not seen to include,
        such as the plugin's new ones, last)."""
        file, line = self.location(path)
        return (*self.positions.get(file, (1 << 30,)), line)

    def includes_path(self, path: str) -> bool:
        """True when an Include or IncludeOptional directive loaded covers *path*."""
        for pattern in self.include_patterns:
            if os.path.isdir(pattern) and path.startswith(pattern.rstrip("/") + "/"):
                return True
            if fnmatch.fnmatchcase(path, pattern) and not os.path.basename(path).startswith("."):
                return True
        return False

    # -- queries --------------------------------------------------------------------------

    def directives(self, base: str, name: str, deep: bool = True) -> list[str]:
        """Paths of the directives *name* (any case) below *base*."""
        sep = "//" if deep else "/"
        return self._match(f"{base}{sep}directive[. =~ regexp('{re.escape(name)}', 'i')]")

    def _match(self, query: str) -> list[str]:
        return [str(path) for path in self.aug.match(query)]

    def args(self, path: str) -> list[str]:
        """The arguments of the directive or section at *path*, unquoted."""
        return [unquote(self.aug.get(p) or "") for p in self.aug.match(path + "/arg")]

    def sections(self, base: str, name: str) -> list[str]:
        """Paths of the sections ``<name>`` (any case) at any depth below *base*."""
        return self._match(f"{base}//*[label() =~ regexp('{re.escape(name)}', 'i')]")

    def file_of(self, path: str) -> str:
        """The file a node lives in."""
        return str(self.aug.span(path)[0])

    def location(self, path: str) -> tuple[str, int]:
        """(file, 1-based line) of the node at *path*."""
        span = self.aug.span(path)
        file, start = str(span[0]), int(span[5])
        with open(file, "rb") as handle:
            data = handle.read(start)
        return file, data.count(b"\n") + 1

    def text_of(self, path: str) -> bytes:
        """The bytes of the node at *path* as they are in its file (comments included)."""
        span = self.aug.span(path)
        with open(str(span[0]), "rb") as handle:
            data = handle.read()
        return data[int(span[5]) : int(span[6])]

    def span_start(self, path: str) -> int:
        return int(self.aug.span(path)[5])

    # -- edits ----------------------------------------------------------------------------

    def add_directive(
        self, parent: str, name: str, args: Sequence[str], first: bool = False
    ) -> str:
        """Add ``name args...`` (each arg quoted as needed) at the end of *parent*, or before
        its first child with *first*; returns the new node's path."""
        children = [c for c in self.aug.match(parent + "/*") if self.aug.label(c) != "arg"]
        if first and children:
            self.aug.insert(children[0], "directive", before=True)
            path = f"{parent}/directive[1]"
        else:
            count = len(self.aug.match(parent + "/directive"))
            path = f"{parent}/directive[{count + 1}]"
        self.aug.set(path, name)
        self.set_args(path, args)
        self._added.append(path)
        return path

    def add_section(self, parent: str, name: str, args: Sequence[str]) -> str:
        """Add an empty ``<name args>`` section at the end of *parent*; returns its path."""
        count = len(self.aug.match(f"{parent}/{name}"))
        path = f"{parent}/{name}[{count + 1}]"
        self.aug.set(path + "/arg", args[0] if args else "")
        self.set_args(path, args)
        self._added.append(path)
        return path

    def set_args(self, path: str, args: Sequence[str]) -> None:
        """Replace the arguments of the node at *path* in place (a section's arguments stay
        before its children; unchanged positions keep their spacing)."""
        values = [arg if _is_quoted(arg) else quote(arg) for arg in args]
        existing = self._match(path + "/arg")
        for index, value in enumerate(values):
            if index < len(existing):
                self.aug.set(existing[index], value)
                continue
            if index > 0:
                self.aug.insert(f"{path}/arg[{index}]", "arg", before=False)
            else:
                children = self._match(path + "/*")
                if children:
                    self.aug.insert(children[0], "arg", before=True)
            self.aug.set(f"{path}/arg[{index + 1}]", value)
        for extra in reversed(existing[len(values) :]):
            self.aug.remove(extra)

    def save(self, before_write: Callable[[list[str]], None]) -> list[str]:
        """Write the changed files: *before_write* first receives their paths (to back
        them up); returns them.

        Raises:
            InstallerError: Augeas cannot write a file (nothing was written then when the
                dry run already failed).
        """
        self.aug.set("/augeas/save", "noop")
        self._save_or_raise()
        files = [
            (self.aug.get(p) or "")[len("/files") :] for p in self.aug.match("/augeas/events/saved")
        ]
        if not files:
            return []
        before_write(files)
        self.aug.set("/augeas/save", "overwrite")
        self._save_or_raise()
        added, self._added = self._added, []
        for file in indent_added(self.aug, added, files):
            self._reparse(file)
        return files

    def _save_or_raise(self) -> None:
        try:
            self.aug.save()
        except OSError as exc:
            details = []
            for error in self.aug.match("/augeas//error"):
                if self.aug.get(error) == "parse_failed":
                    continue
                message = self.aug.get(error + "/message") or self.aug.get(error) or ""
                details.append(f"{error[len('/augeas/files') :].rsplit('/error', 1)[0]}: {message}")
            raise InstallerError(
                f"Augeas could not write the configuration: {'; '.join(details) or exc}"
            ) from exc


def _is_quoted(arg: str) -> bool:
    return len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'"


def _expand_include(pattern: str) -> list[str]:
    """The files an Include of *pattern* reads, in Apache's (sorted) order."""
    if os.path.isdir(pattern):
        found: list[str] = []
        for root, dirs, files in os.walk(pattern):
            dirs.sort()
            found.extend(os.path.join(root, f) for f in sorted(files))
        return found
    if glob.has_magic(pattern):
        return sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
    return [pattern] if os.path.isfile(pattern) else []
