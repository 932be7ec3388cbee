"""What the command line needs of every plugin (its flags and roles), without importing them.

Every command that takes plugin flags must declare all of them to click before it can parse
a single argument, yet a run uses one or two plugins. Importing every plugin's spec builds
its options dataclass (twelve of them for certbot's DNS plugin names alone) and cost more
than a tenth of an issuance. The catalog is that information in plain values: each plugin's
name, roles, challenge types and flags (:class:`FlagSpec`), built once by importing the specs
(:func:`certbot_like.plugin_registry.discover`) and kept in a per-user cache file. The next
run checks the cache against what it was made from (the ``entry_points.txt`` lines and the
size and modification time of every file that defines a spec or its options) and uses it
without importing any plugin; the plugin a run chooses is then imported alone
(:func:`certbot_like.plugin_registry.get`). docs/adr/0034-plugin-catalog-cache.md.

The cache is ``$CERTBOT_LIKE_CACHE_DIR`` (``none`` turns it off), else
``$XDG_CACHE_HOME/certbot-like``, else ``~/.cache/certbot-like``. It is only read when the
effective user owns it and nobody else may write it; it is never required: any problem with
it means the specs are imported, as without a cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from functools import cache
from typing import TYPE_CHECKING, Any

from certbot_like.errors import PluginError, UsageError
from certbot_like.interfaces import ENTRY_POINT_GROUP, PluginSpec

if TYPE_CHECKING:
    from certbot_like.plugin_registry import EntryPoint

CACHE_ENV = "CERTBOT_LIKE_CACHE_DIR"
FORMAT = 1
_BASES = ("str", "int", "float", "bool", "tuple", "dict")


class FlagSpec:
    """One plugin option as the command line sees it (a field of the options dataclass)."""

    __slots__ = ("base", "choices", "default", "flags", "help", "hidden", "metavar", "name")

    def __init__(
        self,
        name: str,
        base: str,
        flags: tuple[str, ...],
        default: Any,
        help: str | None,
        metavar: str | None,
        hidden: bool,
        choices: tuple[str, ...] | None,
    ) -> None:
        self.name = name
        self.base = base
        self.flags = flags
        self.default = default
        self.help = help
        self.metavar = metavar
        self.hidden = hidden
        self.choices = choices

    def to_json(self) -> list[Any]:
        default = list(self.default) if isinstance(self.default, tuple) else self.default
        choices = list(self.choices) if self.choices else None
        return [self.name, self.base, list(self.flags), default, self.help, self.metavar,
                self.hidden, choices]  # fmt: skip

    @classmethod
    def from_json(cls, row: list[Any]) -> FlagSpec:
        """Raises ValueError, TypeError: not a row :meth:`to_json` wrote."""
        name, base, flags, default, help, metavar, hidden, choices = row
        if not isinstance(name, str) or base not in _BASES:
            raise ValueError(f"bad flag row {row!r}")
        if base == "tuple" and isinstance(default, list):
            default = tuple(default)
        return cls(
            name, base, tuple(flags), default, help, metavar, bool(hidden),
            tuple(choices) if choices else None,
        )  # fmt: skip


class PluginInfo:
    """A plugin's name, entry point (``module:attr``), roles, description, challenge types
    and flags."""

    __slots__ = (
        "authenticator",
        "challenge_types",
        "description",
        "entry",
        "flags",
        "installer",
        "name",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        entry: str,
        description: str,
        authenticator: bool,
        installer: bool,
        challenge_types: tuple[str, ...],
        flags: tuple[FlagSpec, ...],
    ) -> None:
        self.name = name
        self.entry = entry
        self.description = description
        self.authenticator = authenticator
        self.installer = installer
        self.challenge_types = challenge_types
        self.flags = flags

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entry": self.entry,
            "description": self.description,
            "roles": [self.authenticator, self.installer],
            "challenge_types": list(self.challenge_types),
            "flags": [f.to_json() for f in self.flags],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PluginInfo:
        """Raises ValueError, TypeError, KeyError: not an object :meth:`to_json` wrote."""
        authenticator, installer = data["roles"]
        return cls(
            str(data["name"]),
            str(data["entry"]),
            str(data["description"]),
            bool(authenticator),
            bool(installer),
            tuple(data["challenge_types"]),
            tuple(FlagSpec.from_json(row) for row in data["flags"]),
        )


def info_of(spec: Any, entry: str) -> PluginInfo:
    """The catalog entry of a loaded :class:`~certbot_like.interfaces.PluginSpec` that entry
    point value *entry* names."""
    from certbot_like.plugin_options import field_kinds

    flags = []
    for kind in field_kinds(spec.options):
        meta = kind.field.metadata
        flags.append(
            FlagSpec(
                kind.name,
                kind.base,
                tuple(kind.flags),
                kind.default,
                meta.get("help"),
                meta.get("metavar"),
                bool(meta.get("hidden", False)),
                meta.get("choices"),
            )
        )
    return PluginInfo(
        spec.name,
        entry,
        spec.description,
        bool(spec.authenticator),
        bool(spec.installer),
        tuple(spec.challenge_types),
        tuple(flags),
    )


def cache_dir(environ: dict[str, str] | os._Environ[str] = os.environ) -> str | None:
    """The cache directory, or ``None`` when ``$CERTBOT_LIKE_CACHE_DIR`` is ``none``."""
    chosen = environ.get(CACHE_ENV)
    if chosen:
        return None if chosen.lower() == "none" else chosen
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "certbot-like")


def cache_file(directory: str) -> str:
    """The cache file of this Python environment (``sys.prefix``) in *directory*."""
    tag = hashlib.sha256(sys.prefix.encode()).hexdigest()[:16]
    return os.path.join(directory, f"plugins-{tag}.json")


def _stat(path: str) -> list[Any]:
    try:
        st = os.stat(path)
    except OSError:
        return [path, None, None]
    return [path, st.st_mtime_ns, st.st_size]


def _spec_files(spec: Any, entry_module: str) -> set[str]:
    """The source files that define *spec*: its module and those of its options classes."""
    modules = {entry_module}
    modules.update(cls.__module__ for cls in getattr(spec.options, "__mro__", ()))
    files = set()
    for name in modules:
        path = getattr(sys.modules.get(name), "__file__", None)
        if path:
            files.add(path)
    return files


def _read(path: str) -> dict[str, Any] | None:
    """The cache's JSON when the file is ours and private enough to trust, else None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = json.loads(f.read())
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    return data if isinstance(data, dict) else None


def _write(path: str, data: dict[str, Any]) -> None:
    """Replace the cache file atomically (0600 in a 0700 directory); failures are ignored."""
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        st = os.stat(directory)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return
    except OSError:
        return
    from pathlib import Path

    from certbot_like.errors import StorageError
    from certbot_like.storage.atomic import write_file  # only when the cache is written

    try:
        write_file(Path(path), json.dumps(data, separators=(",", ":")).encode(), 0o600)
    except StorageError:
        return


def _valid(data: dict[str, Any], entries: list[list[str]]) -> dict[str, PluginInfo] | None:
    if data.get("format") != FORMAT or data.get("python") != sys.version:
        return None
    if data.get("entry_points") != entries:
        return None
    files = data.get("files")
    if not isinstance(files, list) or any(_stat(row[0]) != row for row in files):
        return None
    try:
        infos = [PluginInfo.from_json(item) for item in data["plugins"]]
    except (ValueError, TypeError, KeyError):
        return None
    if any(info.entry not in {value for _, _, value in entries} for info in infos):
        return None  # a plugin may only be loaded from an entry point that is installed
    return {info.name: info for info in infos}


@cache
def catalog() -> dict[str, PluginInfo]:
    """Every loadable plugin's :class:`PluginInfo` by name, from the cache when it is current.

    When the cache is missing or stale the specs are imported and the cache written again,
    unless an entry point could not be loaded: that plugin may be repaired without any file
    the cache checks changing, so such a catalog is not kept.
    """
    from certbot_like.plugin_registry import entry_points

    eps = sorted(entry_points(ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value))
    entries = [[ep.source, ep.name, ep.value] for ep in eps]
    directory = cache_dir()
    # Entry points read through importlib.metadata (a zip on sys.path) have no file to check.
    plain = all(ep.source for ep in eps)
    path = cache_file(directory) if directory and plain else None
    if path:
        data = _read(path)
        found = _valid(data, entries) if data else None
        if found is not None:
            return found
    return _rebuild(eps, entries, path)


def _rebuild(
    eps: list[EntryPoint], entries: list[list[str]], path: str | None
) -> dict[str, PluginInfo]:
    from certbot_like.plugin_registry import discover

    specs, broken = discover()
    infos: dict[str, PluginInfo] = {}
    files = {ep.source for ep in eps if ep.source}
    for ep in eps:
        try:
            spec = ep.load()  # discover() loaded it already: a dictionary lookup
        except Exception:  # noqa: S112 - discover() lists it among the broken ones
            continue
        if any(spec is loaded for loaded in specs.values()) and spec.name not in infos:
            infos[spec.name] = info_of(spec, ep.value)
            files |= _spec_files(spec, ep.value.split(":", 1)[0].split("[", 1)[0].strip())
    infos = dict(sorted(infos.items()))
    if path and not broken:
        data = {
            "format": FORMAT,
            "python": sys.version,
            "entry_points": entries,
            "files": [_stat(f) for f in sorted(files)],
            "plugins": [info.to_json() for info in infos.values()],
        }
        _write(path, data)
    return infos


def spec_named(name: str) -> PluginSpec | None:
    """The spec of the plugin called *name*, or ``None`` when there is none.

    Only that plugin is imported when the catalog (:mod:`certbot_like.plugin_catalog`)
    names its entry point; otherwise (or when the entry point no longer gives that plugin)
    every plugin is discovered.
    """
    from certbot_like.plugin_registry import EntryPoint, discover, plugins

    if discover.cache_info().currsize:  # all specs are loaded already
        return plugins().get(name)
    info = catalog().get(name)
    if info is None:
        return None
    try:
        spec = EntryPoint(name, info.entry).load()
    except Exception:
        spec = None
    if isinstance(spec, PluginSpec) and spec.name == name:
        return spec
    return plugins().get(name)


def get(name: str, role: str) -> PluginSpec:
    """The plugin called *name*, checked to be able to act as *role*.

    Raises:
        UsageError: no such plugin, or it cannot act as *role*.
        PluginError: the plugin is installed but cannot run on this machine.
    """
    spec = spec_named(name)
    if spec is None:
        from certbot_like.plugin_registry import plugins

        specs = plugins()
        known = ", ".join(sorted(n for n, s in specs.items() if getattr(s, role))) or "none"
        if name.startswith("dns-") and role == "authenticator":
            raise UsageError(
                f"Unknown authenticator {name!r}: a DNS plugin certbot-like does not map",
                f"Use --dns-lexicon --dns-lexicon-provider {name[4:]} with a "
                "--dns-lexicon-credentials file if dns-lexicon supports that provider "
                "(docs/dns.md lists them), e.g. through `certbot-like reconfigure`",
            )
        raise UsageError(
            f"Unknown {role} {name!r}", f"Available: {known}; see `certbot-like plugins`"
        )
    if not getattr(spec, role):
        raise UsageError(
            f"The {name} plugin is not an {role}",
            "See `certbot-like plugins` for what each plugin does",
        )
    reason = spec.unavailable_reason()
    if reason:
        raise PluginError(
            f"The {name} plugin cannot run here: {reason}", "See `certbot-like plugins`"
        )
    return spec
