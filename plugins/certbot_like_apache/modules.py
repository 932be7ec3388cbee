"""Enabling Apache modules the distribution's way.

- Debian/Ubuntu: links ``mods-enabled/NAME.load`` and ``NAME.conf`` to ``mods-available``,
  dependencies first (the ``# Depends:`` lines of the ``.load`` file), exactly as ``a2enmod``
  does; package files are never edited.
- Other layouts (RHEL/Fedora): a ``LoadModule NAME_module DIR/mod_NAME.so`` line in the
  plugin's own file ``conf.modules.d/00-certbot-like.conf`` (or the main file when that
  folder is not included), with ``DIR`` taken from the existing ``LoadModule`` lines.

Whether a module is already loaded is what Apache itself reports (``DUMP_MODULES``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from certbot_like.errors import InstallerError
from certbot_like_apache.augeas_tree import ConfigTree, aug_path
from certbot_like_apache.backup import Checkpoint
from certbot_like_apache.layout import DistroLayout

_DEPENDS = re.compile(r"^#\s*Depends:\s*(.*?)\s*$", re.MULTILINE)
LOADMODULE_DEPENDS = {"ssl": ("socache_shmcb",)}
"""Modules loaded along with another on layouts without ``# Depends:`` lines."""
MODULE_FILE_HEADER = (
    b"# Modules certbot-like enabled (see docs/apache.md); remove a line to undo.\n"
)


def loaded_from_tree(tree: ConfigTree) -> set[str]:
    """Module identifiers named by ``LoadModule`` lines (when Apache cannot tell us)."""
    loaded = set()
    for path in tree.directives("/files", "LoadModule"):
        args = tree.args(path)
        if args:
            loaded.add(args[0])
    return loaded


class ModuleEnabler:
    """Enables modules in one configuration, remembering what is loaded."""

    def __init__(
        self, server_root: Path, layout: DistroLayout, tree: ConfigTree, loaded: set[str]
    ) -> None:
        self.server_root = server_root
        self.layout = layout
        self.tree = tree
        self.loaded = loaded

    def enable(self, name: str, checkpoint: Checkpoint, notify: Callable[[str], None]) -> None:
        """Make sure ``mod_<name>`` is loaded after the next restart.

        Raises:
            InstallerError: the module is not installed.
        """
        if f"{name}_module" in self.loaded:
            return
        before = set(self.loaded)
        if self.layout.links_modules:
            self._link(name, checkpoint, set())
        else:
            for dependency in LOADMODULE_DEPENDS.get(name, ()):
                if f"{dependency}_module" not in self.loaded and self._so_path(dependency, False):
                    self._load_line(dependency, checkpoint)
            self._load_line(name, checkpoint)
        enabled = sorted(m.removesuffix("_module") for m in self.loaded - before)
        notify(f"Enabled Apache module{'s' if len(enabled) > 1 else ''} {', '.join(enabled)}")

    def _link(self, name: str, checkpoint: Checkpoint, seen: set[str]) -> None:
        assert self.layout.mods_available is not None and self.layout.mods_enabled is not None
        if f"{name}_module" in self.loaded or name in seen:
            return
        seen.add(name)
        available = self.server_root / self.layout.mods_available
        enabled = self.server_root / self.layout.mods_enabled
        load = available / f"{name}.load"
        if not load.is_file():
            raise InstallerError(
                f"Apache module {name} is not installed ({load} is missing)",
                f"Install the package that provides mod_{name}",
            )
        for found in _DEPENDS.findall(load.read_text(errors="replace")):
            for dependency in re.split(r"[\s,]+", found):
                if dependency:
                    self._link(dependency, checkpoint, seen)
        for extension in (".load", ".conf"):
            source = available / f"{name}{extension}"
            link = enabled / f"{name}{extension}"
            if source.is_file() and not os.path.lexists(link):
                checkpoint.symlink(str(link), os.path.relpath(source, enabled))
        self.loaded.add(f"{name}_module")

    def _so_path(self, name: str, required: bool = True) -> str | None:
        directories: list[str] = []
        for path in self.tree.directives("/files", "LoadModule"):
            args = self.tree.args(path)
            if len(args) > 1 and os.path.dirname(args[1]) not in directories:
                directories.append(os.path.dirname(args[1]))
        for directory in directories or ["modules"]:
            candidate = os.path.join(directory, f"mod_{name}.so")
            if os.path.isfile(os.path.join(self.server_root, candidate)):
                return candidate
        if not required:
            return None
        raise InstallerError(
            f"Apache module {name} is not installed (no mod_{name}.so in "
            f"{', '.join(directories) or 'modules'})",
            f"Install it (on RHEL/Fedora: dnf install mod_{name})",
        )

    def _load_line(self, name: str, checkpoint: Checkpoint) -> None:
        so_path = self._so_path(name)
        assert so_path is not None
        target = self._module_file(name)
        if not os.path.exists(target):
            checkpoint.write_file(target, MODULE_FILE_HEADER, 0o644)
        if os.path.realpath(target) not in self.tree.files:
            self.tree.load_new_file(target)
        self.tree.add_directive(
            aug_path(os.path.realpath(target)), "LoadModule", [f"{name}_module", so_path]
        )
        self.loaded.add(f"{name}_module")

    def _module_file(self, name: str) -> str:
        """Our file of LoadModule lines; it must be included before the sites are.

        Raises:
            InstallerError: the layout has no such file or its folder is not included.
        """
        so_path = self._so_path(name, False) or f"modules/mod_{name}.so"
        if self.layout.module_file:
            candidate = os.path.join(self.server_root, self.layout.module_file)
            if os.path.isdir(os.path.dirname(candidate)) and self.tree.includes_path(candidate):
                return candidate
        raise InstallerError(
            f"Apache module {name} is not loaded and this configuration has no included "
            f"{self.layout.module_file or 'module folder'} to load it from",
            f"Add `LoadModule {name}_module {so_path}` next to the other LoadModule lines "
            "and run the command again",
        )
