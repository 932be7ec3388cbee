"""Plugin discovery through the ``certbot_like.plugins`` entry-point group.

Our own plugins register exactly as a third-party package would. Discovery imports only each
plugin's light ``__init__`` (its :class:`PluginSpec` and options dataclass); the code that
does the work is imported when the plugin is used.

The entry points are read by :func:`entry_points`, a small reader of the ``entry_points.txt``
files of the distributions on ``sys.path``, with the rules of :mod:`importlib.metadata`: the
first distribution of a name wins. Importing :mod:`importlib.metadata` alone (it pulls in
``email``, ``zipfile``, ``csv`` ...) cost about a tenth of an issuance; it is used only when a
``sys.path`` entry is not a plain directory (a zip file, an egg), which the reader does not
read (docs/adr/0031-own-entry-point-reader.md).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Iterable
from functools import cache
from typing import Any, NamedTuple

from certbot_like.interfaces import ENTRY_POINT_GROUP, PluginSpec

logger = logging.getLogger(__name__)


class BrokenPlugin(NamedTuple):
    """An entry point that could not be loaded, with the reason."""

    name: str
    reference: str
    reason: str


class EntryPoint(NamedTuple):
    """One ``name = module:attr [extras]`` line of an ``entry_points.txt`` (*source*; empty
    when :mod:`importlib.metadata` read it). A named tuple, not a dataclass: every run
    defines these classes, and defining a frozen dataclass compiles six generated methods,
    a named tuple one."""

    name: str
    value: str
    source: str = ""

    def load(self) -> Any:
        """Import the module and return the attribute, as ``importlib.metadata`` does.

        Raises:
            ImportError, AttributeError: the module or the attribute is not there.
            ValueError: the value is not ``module`` or ``module:attr``.
        """
        reference = self.value.split("[", 1)[0].strip()
        module_name, _, attrs = reference.partition(":")
        module_name, attrs = module_name.strip(), attrs.strip()
        if not module_name:
            raise ValueError(f"malformed entry point {self.value!r}")
        found: Any = importlib.import_module(module_name)
        for attr in filter(None, attrs.split(".")):
            found = getattr(found, attr)
        return found


def _normalized(name: str) -> str:
    """A distribution name as :mod:`importlib.metadata` compares them (``Foo.Bar-baz`` ->
    ``foo_bar_baz``)."""
    out: list[str] = []
    for char in name.lower():
        if char in "-_.":
            if not out or out[-1] != "_":
                out.append("_")
        else:
            out.append(char)
    return "".join(out)


def parse_entry_points(text: str, group: str, source: str = "") -> list[EntryPoint]:
    """The entries of section ``[group]`` of an ``entry_points.txt`` (blank lines and
    ``#``/``;`` comments skipped, ``name = value`` split at the first ``=``); *source* is
    the file's path."""
    found: list[EntryPoint] = []
    section: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        if section != group:
            continue
        name, sep, value = line.partition("=")
        if sep:
            found.append(EntryPoint(name.strip(), value.strip(), source))
    return found


def _metadata_dirs(entry: str) -> Iterable[tuple[str, str]]:
    """(normalized distribution name, metadata directory) in one ``sys.path`` directory."""
    try:
        names = sorted(os.listdir(entry or "."))
    except OSError:
        return
    for name in names:
        stem, dot, suffix = name.lower().rpartition(".")
        if dot and suffix in ("dist-info", "egg-info"):
            yield _normalized(stem.partition("-")[0]), os.path.join(entry or ".", name)


def entry_points(group: str, path: Iterable[str] | None = None) -> list[EntryPoint]:
    """The entry points of *group* of the distributions on *path* (default ``sys.path``).

    For every distribution name the first one found on the path counts, as
    ``importlib.metadata.entry_points`` has it. A path entry that is a file (a zip) or an
    ``.egg`` directory hands the whole lookup to :mod:`importlib.metadata`.
    """
    entries = list(sys.path if path is None else path)
    if any(os.path.isfile(e) or e.endswith(".egg") for e in entries):
        return _by_importlib_metadata(entries, group)
    seen: set[str] = set()
    found: list[EntryPoint] = []
    for entry in entries:
        for dist, directory in _metadata_dirs(entry):
            if dist in seen:
                continue
            seen.add(dist)
            source = os.path.join(directory, "entry_points.txt")
            try:
                with open(source, encoding="utf-8") as f:
                    text = f.read()
            except OSError:  # no entry points (or unreadable, as importlib.metadata has it)
                continue
            found.extend(parse_entry_points(text, group, source))
    return found


def _by_importlib_metadata(entries: list[str], group: str) -> list[EntryPoint]:
    """:func:`entry_points` through :mod:`importlib.metadata` (zips and eggs on the path)."""
    from importlib import metadata

    seen: set[str] = set()
    found: list[EntryPoint] = []
    for dist in metadata.distributions(path=entries):
        name = _normalized(dist.metadata["Name"] or "")
        if name in seen:
            continue
        seen.add(name)
        found += [EntryPoint(e.name, e.value) for e in dist.entry_points if e.group == group]
    return found


@cache
def discover() -> tuple[dict[str, PluginSpec], tuple[BrokenPlugin, ...]]:
    """Every plugin spec by name, plus the entry points that failed to load."""
    specs: dict[str, PluginSpec] = {}
    broken: list[BrokenPlugin] = []
    for ep in sorted(entry_points(ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            spec = ep.load()
        except Exception as exc:
            broken.append(BrokenPlugin(ep.name, ep.value, f"{type(exc).__name__}: {exc}"))
            continue
        if not isinstance(spec, PluginSpec):
            broken.append(BrokenPlugin(ep.name, ep.value, "not a certbot_like PluginSpec"))
            continue
        if spec.name in specs:
            broken.append(BrokenPlugin(ep.name, ep.value, f"duplicate plugin name {spec.name}"))
            continue
        specs[spec.name] = spec
    return specs, tuple(broken)


def plugins() -> dict[str, PluginSpec]:
    """The loadable plugins by name."""
    return discover()[0]
