"""Installing a certificate into Apache: SSL VirtualHosts, mod_ssl, Listen, redirect, HSTS.

Everything :meth:`ApacheInstaller.deploy` and the enhancements change happens inside one
checkpoint (:mod:`certbot_like_apache.backup`): the core's :meth:`restore` puts every file
back byte for byte, a successful :meth:`reload` commits the checkpoint, and
:meth:`rollback_last` undoes the newest committed one.

For each name of the certificate: an SSL VirtualHost on ``--https-port`` that names it gets
the new certificate in place (after it is split when it also serves names the certificate
does not cover, :mod:`.split`); otherwise the HTTP VirtualHost on ``--http-01-port`` that
serves it (chosen as Apache chooses, :mod:`.selection`) is copied into an SSL one.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence

from certbot_like.errors import InstallerError
from certbot_like.interfaces import DeployTarget
from certbot_like_apache import routing
from certbot_like_apache.augeas_tree import aug_path
from certbot_like_apache.backup import CHANGE, Checkpoint
from certbot_like_apache.config import ApacheConfig
from certbot_like_apache.options_ssl import ensure_options_file
from certbot_like_apache.selection import (
    AmbiguousVhost,
    NoVhost,
    VHost,
    choose,
    pattern_matches,
)
from certbot_like_apache.split import needs_split, split_vhost
from certbot_like_apache.vhost import (
    convert_copy,
    create_ssl_copies,
    https_redirects,
    names_to_add,
    set_certificate,
)

logger = logging.getLogger(__name__)

HSTS_ARGS = ("always", "set", "Strict-Transport-Security", '"max-age=31536000"')


class ApacheInstaller:
    """The installer half of the plugin (see :class:`certbot_like_apache.plugin.ApachePlugin`)."""

    def __init__(self, cfg: ApacheConfig) -> None:
        self.cfg = cfg
        self._checkpoint: Checkpoint | None = None
        self._ssl_vhosts: dict[str, list[str]] = {}
        self._did: list[str] = []

    @property
    def http_port(self) -> int:
        return self.cfg.options.http01_port

    @property
    def https_port(self) -> int:
        return self.cfg.options.https_port

    def names(self) -> set[str]:
        """Every ServerName and ServerAlias (without wildcards) of the VirtualHosts in use."""
        return {n for v in self.cfg.vhosts() for n in v.names if "*" not in n and "?" not in n}

    def _begin(self) -> Checkpoint:
        if self._checkpoint is None:
            self._checkpoint = self.cfg.backups.begin(CHANGE, "installing a certificate")
        return self._checkpoint

    def _save(self, checkpoint: Checkpoint) -> None:
        def backup(files: list[str]) -> None:
            for file in files:
                if os.path.exists(file):
                    checkpoint.backup(file)

        self.cfg.tree.save(backup)

    # -- deploy ---------------------------------------------------------------------------

    def deploy(self, target: DeployTarget) -> None:
        """Create or update the SSL VirtualHosts serving *target*'s names.

        Raises:
            InstallerError: a name has no VirtualHost, the choice is ambiguous, a needed
                file cannot be parsed, a module is missing, or a write failed.
        """
        names = [ident.value for ident in target.names]
        self.cfg.refuse_skipped(names, InstallerError)
        self._split_shared(names)
        vhosts = self.cfg.vhosts()
        to_update, to_copy = self._plan(names, vhosts)
        checkpoint = self._begin()
        tree = self.cfg.tree
        copies = create_ssl_copies(self.cfg, checkpoint, [v for v, _ in to_copy.values()])
        self.cfg.modules.enable("ssl", checkpoint, self.cfg.notify)
        self._ensure_listen()
        options_file = None
        if copies:
            path, warning = ensure_options_file(self.cfg.context.config_dir, checkpoint)
            options_file = str(path)
            if warning:
                self.cfg.notify(warning, warning=True)
        ssl_paths = []
        for key, (vhost, wanted) in to_copy.items():
            copy = copies[key]
            convert_copy(tree, copy, self.http_port, self.https_port, names_to_add(vhost, wanted))
            set_certificate(tree, copy, target, options_file)
            ssl_paths.append(copy)
        for key in to_update:
            set_certificate(tree, key, target, None)
            ssl_paths.append(key)
        self._save(checkpoint)
        self._ssl_vhosts[target.lineage] = ssl_paths
        for ssl_path in ssl_paths:
            file, line = tree.location(ssl_path)
            self.cfg.notify(f"Deployed {target.lineage} to the VirtualHost at {file}:{line}")
        self._did.append(f"installed {target.lineage}")

    def _split_shared(self, names: Sequence[str]) -> None:
        """Give *names* a VirtualHost of their own wherever the SSL VirtualHost serving them
        also serves names the certificate does not cover (:mod:`.split`).

        Raises:
            InstallerError: a VirtualHost cannot be split, or a write failed.
        """
        for _ in range(len(names) + 1):
            shared = self._shared(names)
            if shared is None:
                return
            vhost, served = shared
            done = split_vhost(self.cfg, self._begin(), vhost, served, self.https_port)
            self.cfg.notify(
                f"{vhost.where} also serves names the certificate does not cover; wrote {done}"
            )
            self.cfg.reload_view()
        raise InstallerError(f"Could not give {', '.join(names)} a VirtualHost of their own")

    def _shared(self, names: Sequence[str]) -> tuple[VHost, list[str]] | None:
        """The first SSL VirtualHost serving some of *names* that also serves other names,
        with the names it serves."""
        on_https = [v for v in self.cfg.vhosts() if v.serves_port(self.https_port)]
        served: dict[str, tuple[VHost, list[str]]] = {}
        for name in names:
            try:
                found = _choose_all(name, self.https_port, on_https, fallback=False)
            except NoVhost:
                continue
            for vhost in found:
                served.setdefault(vhost.key, (vhost, []))[1].append(name)
        return next(((v, n) for v, n in served.values() if needs_split(v, names)), None)

    def _plan(
        self, names: Sequence[str], vhosts: Sequence[VHost]
    ) -> tuple[dict[str, VHost], dict[str, tuple[VHost, list[str]]]]:
        """(SSL VirtualHosts to update, HTTP VirtualHosts to copy with the names they take).

        Raises:
            InstallerError: a name has no VirtualHost or the choice is ambiguous.
        """
        on_https = [v for v in vhosts if v.serves_port(self.https_port)]
        on_http = [v for v in vhosts if v.serves_port(self.http_port) and v not in on_https]
        to_update: dict[str, VHost] = {}
        to_copy: dict[str, tuple[VHost, list[str]]] = {}
        skipped: list[str] = []
        for name in names:
            try:
                found = _choose_all(name, self.https_port, on_https, fallback=False)
                for vhost in found:
                    to_update[vhost.key] = vhost
                continue
            except NoVhost:
                pass
            try:
                for vhost in _choose_all(name, self.http_port, on_http, fallback=True):
                    to_copy.setdefault(vhost.key, (vhost, []))[1].append(name)
            except NoVhost as exc:
                if not name.startswith("*."):
                    raise InstallerError(exc.message, exc.hint) from exc
                skipped.append(name)
        if not to_update and not to_copy:
            raise InstallerError(
                f"No VirtualHost serves {', '.join(names)} on port {self.http_port} or "
                f"{self.https_port}",
                "Add a VirtualHost with ServerName/ServerAlias for it",
            )
        for name in skipped:
            self.cfg.notify(f"No VirtualHost serves names under {name}; nothing done for it")
        return to_update, to_copy

    def _ensure_listen(self) -> None:
        tree = self.cfg.tree
        listens = tree.directives("/files", "Listen")
        for path in listens:
            args = tree.args(path)
            address = (tree.expand(args[0]) or args[0]) if args else ""
            if address.rsplit(":", 1)[-1] == str(self.https_port):
                return
        file = tree.file_of(listens[0]) if listens else tree.main_config
        section = tree.add_section(aug_path(file), "IfModule", ["mod_ssl.c"])
        extra = [] if self.https_port == 443 else ["https"]
        tree.add_directive(section, "Listen", [str(self.https_port), *extra])
        self.cfg.notify(f"Added `Listen {self.https_port}` to {file}")

    # -- enhancements ---------------------------------------------------------------------

    def enable_redirect(self, target: DeployTarget) -> None:
        """Append a permanent redirect to HTTPS to each HTTP VirtualHost serving *target*.

        Raises:
            InstallerError: a VirtualHost serves HTTP and HTTPS at once (the redirect would
                loop), turns rewriting off, or the choice is ambiguous.
        """
        checkpoint = self._begin()
        tree = self.cfg.tree
        vhosts = self.cfg.vhosts()
        on_http = [v for v in vhosts if v.serves_port(self.http_port)]
        served: dict[str, tuple[VHost, list[str]]] = {}
        for ident in target.names:
            try:
                for vhost in _choose_all(ident.value, self.http_port, on_http, fallback=True):
                    served.setdefault(vhost.key, (vhost, []))[1].append(ident.value)
            except NoVhost:
                continue
        for vhost, names in served.values():
            if vhost.serves_port(self.https_port):
                raise InstallerError(
                    f"{vhost.where} serves both port {self.http_port} and {self.https_port}; "
                    "a redirect there would loop",
                    "Split it into an HTTP and an HTTPS VirtualHost, or drop --redirect",
                )
            if https_redirects(tree, vhost.key):
                self.cfg.notify(f"{vhost.where} already redirects to HTTPS")
                continue
            engines = tree.directives(vhost.key, "RewriteEngine", deep=False)
            state = [tree.args(p)[:1] for p in engines]
            if state and state[-1] and state[-1][0].lower() == "off":
                raise InstallerError(
                    f"{vhost.where} turns RewriteEngine off",
                    "Remove that line (or drop --redirect) and run the command again",
                )
            self.cfg.modules.enable("rewrite", checkpoint, self.cfg.notify)
            if not state:
                tree.add_directive(vhost.key, "RewriteEngine", ["on"])
            for index, name in enumerate(names):
                flags = "[NC]" if index == len(names) - 1 else "[NC,OR]"
                tree.add_directive(vhost.key, "RewriteCond", ["%{SERVER_NAME}", _cond(name), flags])
            port = "" if self.https_port == 443 else f":{self.https_port}"
            tree.add_directive(
                vhost.key,
                "RewriteRule",
                ["^", f"https://%{{SERVER_NAME}}{port}%{{REQUEST_URI}}", "[END,NE,R=permanent]"],
            )
            self.cfg.notify(f"Redirecting HTTP to HTTPS in {vhost.where}")
        self._save(checkpoint)
        self._did.append("redirect")

    def enable_hsts(self, target: DeployTarget) -> None:
        """Append ``Header always set Strict-Transport-Security "max-age=31536000"`` to the
        SSL VirtualHosts of *target* (unless they already send one).

        Raises:
            InstallerError: mod_headers is missing, or :meth:`deploy` was not run first.
        """
        paths = self._ssl_vhosts.get(target.lineage)
        if not paths:
            raise InstallerError(f"{target.lineage} was not deployed in this run")
        checkpoint = self._begin()
        tree = self.cfg.tree
        for path in paths:
            headers = [" ".join(tree.args(p)).lower() for p in tree.directives(path, "Header")]
            if any("strict-transport-security" in h for h in headers):
                continue
            self.cfg.modules.enable("headers", checkpoint, self.cfg.notify)
            tree.add_directive(path, "Header", list(HSTS_ARGS))
        self._save(checkpoint)
        self._did.append("HSTS")

    def route_challenges(self, names: Sequence[str], upstream: str) -> list[str]:
        """Put ``ProxyPass /.well-known/acme-challenge/ UPSTREAM/...`` first in the
        VirtualHosts answering *names* on the HTTP port (:mod:`.routing`), enabling
        mod_proxy and mod_proxy_http; return one line per VirtualHost changed.

        Raises:
            InstallerError: nothing answers a name there, a VirtualHost maps the path
                elsewhere (nothing written), a module is missing, or a write failed.
        """
        chosen = routing.choose_vhosts(self.cfg, names, self.http_port)
        routed = {v.key for v in chosen if routing.already_routed(self.cfg, v, upstream)}
        exempt = {v.key for v in chosen if routing.needs_exemption(self.cfg, v)}
        todo = [v for v in chosen if v.key not in routed or v.key in exempt]
        if not todo:
            return []
        checkpoint = self._begin()
        for module in routing.MODULES:
            self.cfg.modules.enable(module, checkpoint, self.cfg.notify)
        tree = self.cfg.tree
        for vhost in todo:  # each added first: ProxyPass, then the exemption, then the rest
            if vhost.key in exempt:
                tree.add_directive(vhost.key, "RewriteRule", routing.EXEMPTION, first=True)
            if vhost.key not in routed:
                args = routing.proxy_args(upstream)
                tree.add_directive(vhost.key, "ProxyPass", args, first=True)
        self._save(checkpoint)
        self._did.append(f"challenge route to {upstream}")
        return [f"{v.where}: {routing.PATH} -> {upstream}" for v in todo]

    # -- test, reload, undo ---------------------------------------------------------------

    def config_test(self) -> None:
        """``<ctl> -t``; after a deployment, also ask Apache (``-S``) whether it builds every
        SSL VirtualHost we wrote (a block Apache skips, say inside an ``<IfModule>`` for a
        module that did not load, would leave the names without HTTPS).

        Raises:
            InstallerError: Apache rejects the configuration or ignores a new block.
        """
        self.cfg.ctl.config_test()
        paths = [path for paths in self._ssl_vhosts.values() for path in paths]
        dump = self.cfg.ctl.dump() if paths else None
        if dump is None:
            return
        for path in paths:
            file, line = self.cfg.tree.location(path)
            if dump.vhost_at(file, line) is None:
                raise InstallerError(
                    f"Apache does not use the VirtualHost written at {file}:{line}",
                    f"Check `{self.cfg.ctl.command} -S` and that mod_ssl loads",
                )

    def reload(self) -> None:
        """Graceful restart; a change made in this run then becomes the rollback target.

        Raises:
            InstallerError: the restart failed.
        """
        self.cfg.ctl.graceful(self.cfg.pid_file)
        if self._checkpoint is not None:
            summary = self._checkpoint.summary(self.cfg.server_root)
            self._checkpoint.commit(f"{', '.join(self._did)} ({summary})")
            self._checkpoint = None
            self.cfg.backups.prune()

    def restore(self) -> None:
        """Undo every change of this run, byte for byte (not reloaded here).

        Raises:
            InstallerError: a file could not be restored (its saved copy is kept).
        """
        if self._checkpoint is not None:
            checkpoint, self._checkpoint = self._checkpoint, None
            checkpoint.restore()

    def rollback_last(self) -> str:
        """Restore the files of the newest committed change.

        Raises:
            InstallerError: there is none, or one of its files was edited since.
        """
        checkpoint = self.cfg.backups.latest_committed()
        if checkpoint is None:
            raise InstallerError(
                "There is no Apache change to roll back",
                f"Backups are kept in {self.cfg.backups.root}",
            )
        edited = checkpoint.changed_since_commit()
        if edited:
            raise InstallerError(
                f"{', '.join(edited)} changed after the change being rolled back",
                f"Restore by hand from {checkpoint.path} (manifest.json lists every file)",
            )
        checkpoint.restore()
        return checkpoint.description


def _cond(name: str) -> str:
    if name.startswith("*."):
        return "^[^.]+" + re.escape(name[1:]).replace("\\-", "-") + "$"
    return "=" + name


def _choose_all(name: str, port: int, vhosts: Sequence[VHost], *, fallback: bool) -> list[VHost]:
    """The VirtualHost for *name*; for a wildcard no VirtualHost names, every VirtualHost
    whose ServerName it covers.

    Raises:
        NoVhost: nothing serves *name*.
        InstallerError: the choice is ambiguous.
    """
    try:
        return [choose(name, port, vhosts, fallback=fallback and not name.startswith("*."))]
    except AmbiguousVhost as exc:
        raise InstallerError(exc.message, exc.hint) from exc
    except NoVhost:
        if not name.startswith("*."):
            raise
        covered = [v for v in vhosts if v.server_name and pattern_matches(name, v.server_name)]
        if not covered:
            raise
        return covered
