"""One Apache configuration as both the authenticator and the installer see it.

:meth:`ApacheConfig.open` detects the layout, finds the control command, undoes a change an
interrupted run left behind, asks Apache for its own view (includes, VirtualHosts with
``file:line``, modules, PidFile) and loads the included files through Augeas. VirtualHosts
are then the ones Augeas found *and* Apache reports (a block inside an ``<IfModule>`` for a
module that is not loaded does not count); files Augeas cannot parse are named once and
skipped, unless a VirtualHost Apache built from one of them serves a name we need.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from certbot_like.errors import InstallerError, PluginError
from certbot_like.interfaces import PluginContext
from certbot_like_apache import ApacheOptions
from certbot_like_apache.augeas_tree import ConfigTree, ParseProblem, aug_path
from certbot_like_apache.backup import Backups
from certbot_like_apache.control import ApacheCtl, ApacheDump
from certbot_like_apache.layout import DistroLayout, detect
from certbot_like_apache.modules import ModuleEnabler, loaded_from_tree
from certbot_like_apache.selection import Address, VHost

logger = logging.getLogger(__name__)

BACKUP_DIR = "apache-backups"
_WARNED: set[str] = set()
"""Unparseable files already named in this process (the authenticator and the installer
are separate instances reading the same tree)."""


def host_of(server_name: str) -> str:
    """The host part of a ``ServerName`` value (``https://www.example.com:443`` ->
    ``www.example.com``)."""
    value = re.sub(r"^[a-z][a-z0-9+.-]*://", "", server_name.strip().lower())
    if value.startswith("["):
        return value.split("]", 1)[0] + "]"
    return value.split(":", 1)[0].split("/", 1)[0]


class ApacheConfig:
    """The configuration under ``--apache-server-root`` and the means to change it."""

    def __init__(self, options: ApacheOptions, context: PluginContext) -> None:
        self.options = options
        self.context = context
        self.server_root = Path(os.path.abspath(options.apache_server_root))
        self.backups = Backups(context.work_dir / BACKUP_DIR)
        self._layout: DistroLayout | None = None
        self._ctl: ApacheCtl | None = None
        self._tree: ConfigTree | None = None
        self._modules: ModuleEnabler | None = None
        self.dump: ApacheDump | None = None
        self._inactive: set[str] = set()

    # -- opening --------------------------------------------------------------------------

    def open(self) -> None:
        """Detect, recover, dump and load.

        Raises:
            PluginError: no Apache configuration or control command, Augeas unusable, or
                an interrupted change could not be undone.
        """
        self._layout = detect(self.server_root)
        self._ctl = ApacheCtl(self._ctl_command(self._layout))
        try:
            recovered = self.backups.recover_interrupted()
        except InstallerError as exc:
            raise PluginError(exc.message, exc.hint) from exc
        for description in recovered:
            self.notify(
                f"Undid an interrupted change to Apache's configuration: {description}",
                warning=True,
            )
        self.reload_view()

    def _ctl_command(self, layout: DistroLayout) -> str:
        command = self.options.apache_ctl
        path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
        if (
            command == "apache2ctl"
            and shutil.which(command, path=path) is None
            and shutil.which(layout.ctl, path=path)
        ):
            return layout.ctl
        return command

    def reload_view(self) -> None:
        """(Re)read Apache's dump and the Augeas tree from disk.

        Raises:
            PluginError: the main configuration cannot be loaded.
        """
        self.dump = self.ctl.dump()
        root = self.server_root
        if self.dump is not None and self.dump.server_root:
            root = Path(self.dump.server_root)
        tree = ConfigTree(root, self.server_root / self.layout.main_config)
        tree.load(self.dump.includes if self.dump else ())
        self._tree = tree
        loaded = set(self.dump.modules) if self.dump else loaded_from_tree(tree)
        self._modules = ModuleEnabler(root, self.layout, tree, loaded)
        self._inactive = set()
        if self.dump is not None:
            for path in tree.sections("/files", "VirtualHost"):
                if self.dump.vhost_at(*tree.location(path)) is None:
                    logger.debug("%s:%s is not active in Apache; ignored", *tree.location(path))
                    self._inactive.add(path)
        self._cross_check()
        for problem in tree.problems.values():
            if problem.file not in _WARNED:
                _WARNED.add(problem.file)
                self.notify(
                    f"Skipping {problem} which Augeas cannot parse; the plugin will not "
                    "change anything in it",
                    warning=True,
                )

    def _cross_check(self) -> None:
        """Log where Apache's own view and the Augeas tree differ."""
        if self.dump is None:
            return
        tree = self.tree
        missed = [f for f in self.dump.includes if f not in tree.files]
        if missed:
            logger.debug("Apache includes files Augeas did not load: %s", ", ".join(missed))
        found = {tree.location(p) for p in tree.sections("/files", "VirtualHost")}
        for vhost in self.dump.vhosts:
            if (vhost.file, vhost.line) not in found and vhost.file not in tree.problems:
                logger.debug(
                    "Apache reports a VirtualHost at %s:%s (%s) that Augeas does not show",
                    vhost.file,
                    vhost.line,
                    " ".join(vhost.names),
                )

    @property
    def layout(self) -> DistroLayout:
        assert self._layout is not None, "open() first"
        return self._layout

    @property
    def ctl(self) -> ApacheCtl:
        assert self._ctl is not None, "open() first"
        return self._ctl

    @property
    def tree(self) -> ConfigTree:
        assert self._tree is not None, "open() first"
        return self._tree

    @property
    def modules(self) -> ModuleEnabler:
        assert self._modules is not None, "open() first"
        return self._modules

    @property
    def pid_file(self) -> str | None:
        return self.dump.pid_file if self.dump else None

    def notify(self, message: str, *, warning: bool = False) -> None:
        """Tell the operator (and the log)."""
        logger.log(logging.WARNING if warning else logging.INFO, "%s", message)
        self.context.display.notify(message)

    # -- VirtualHosts ---------------------------------------------------------------------

    def vhosts(self) -> list[VHost]:
        """The VirtualHosts Apache uses, in configuration order, keyed by Augeas path.

        Activity is what Apache reported when the configuration was read; blocks the plugin
        created since count as active."""
        tree = self.tree
        main = aug_path(tree.main_config)
        global_names = [tree.args(p) for p in tree.directives(main, "ServerName", deep=False)]
        inherited = host_of(global_names[0][0]) if global_names and global_names[0] else None
        found = []
        for path in sorted(tree.sections("/files", "VirtualHost"), key=tree.order_key):
            if path in self._inactive:
                continue
            file, line = tree.location(path)
            names = [tree.args(p) for p in tree.directives(path, "ServerName")]
            aliases = [
                a.lower() for p in tree.directives(path, "ServerAlias") for a in tree.args(p)
            ]
            engines = [tree.args(p) for p in tree.directives(path, "SSLEngine")]
            found.append(
                VHost(
                    key=path,
                    file=file,
                    line=line,
                    addresses=tuple(Address.parse(a) for a in tree.args(path)),
                    server_name=host_of(names[0][0]) if names and names[0] else None,
                    aliases=tuple(aliases),
                    ssl=any(args and args[0].lower() == "on" for args in engines),
                    inherited_name=inherited,
                )
            )
        return found

    def skipped_files_serving(self, names: Iterable[str]) -> list[ParseProblem]:
        """Unparseable files holding a VirtualHost that serves one of *names*."""
        wanted = [n.lower() for n in names]
        needed = []
        for problem in self.tree.problems.values():
            if self.dump is not None:
                blocks = [v for v in self.dump.vhosts if v.file == problem.file]
                serves = any(
                    VHost(
                        "", v.file, v.line, (), v.names[0] if v.names else None, tuple(v.names[1:])
                    ).match(name)
                    for v in blocks
                    for name in wanted
                )
            else:
                try:
                    text = Path(problem.file).read_text(errors="replace").lower()
                except OSError:
                    text = ""
                serves = any(name in text for name in wanted)
            if serves:
                needed.append(problem)
        return needed

    def refuse_skipped(self, names: Iterable[str], error: type[PluginError]) -> None:
        """Stop when a VirtualHost serving one of *names* is in a file Augeas cannot parse.

        Raises:
            PluginError: (of class *error*) naming the file and the parse error.
        """
        needed = self.skipped_files_serving(names)
        if needed:
            raise error(
                f"The VirtualHost for {', '.join(names)} is in {needed[0]}, which Augeas "
                "cannot parse",
                "Fix that line (Apache accepts it, the Augeas Httpd lens does not) or move "
                "the VirtualHost to another file",
            )
