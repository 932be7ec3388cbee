"""The nginx installer: deploy, redirect, HSTS, test, reload, restore and roll back.

Every step parses the configuration afresh (so it sees what the previous step wrote),
chooses blocks by nginx's rules (:mod:`.choice`), writes text changes (:mod:`.planner`)
into files backed up in this run's checkpoint, and after deploying checks, on the new
configuration, that every TLS address where a name is served by name now uses the
certificate. The checkpoint is committed after a successful reload; ``restore`` puts the
files back byte for byte; ``rollback_last`` undoes the newest committed one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from certbot_like.errors import InstallerError
from certbot_like.interfaces import DeployTarget

from . import options_ssl, parser, planner, routing
from .backup import Checkpoint
from .base import NginxBase, explain
from .choice import NothingServes, choose_deploy, choose_redirect
from .parser import NginxConfig, ServerBlock
from .selection import Ambiguity, addresses, host_for, is_ssl, lookup

logger = logging.getLogger(__name__)


def _names(target: DeployTarget) -> list[str]:
    return [identifier.value for identifier in target.names]


class NginxInstaller(NginxBase):
    """The installer half of the nginx plugin (see :class:`certbot_like.interfaces.Installer`)."""

    _checkpoint: Checkpoint | None = None

    def _prepare_installer(self) -> None:
        """Recover unfinished changes and check that nginx accepts its configuration.

        Raises:
            PluginError: nginx is missing, rejects its configuration, or crossplane cannot
                read nginx.conf.
            InstallerError: an unfinished change could not be restored.
        """
        self._recover()
        self._load()

    def names(self) -> set[str]:
        """Exact and wildcard server names of the configuration.

        Raises:
            PluginError: the configuration cannot be read.
        """
        return self._load().names()

    def _change(self, description: str) -> Checkpoint:
        if self._checkpoint is None:
            self._checkpoint = self.backups.new("install", description)
        return self._checkpoint

    def deploy(self, target: DeployTarget) -> None:
        """Point the blocks serving the target's names at its certificate.

        Raises:
            InstallerError: the choice is ambiguous, no block serves a name, a block cannot
                be edited safely, or the result does not serve the certificate.
            PluginError: the configuration cannot be read.
        """
        names = _names(target)
        config = self._load(names)
        servers = config.selection_servers()
        try:
            choice = choose_deploy(
                servers, names, self.options.http01_port, self.options.https_port
            )
        except (Ambiguity, NothingServes) as exc:
            raise explain(exc) from None
        for name, how in choice.how.items():
            logger.info("%s: %s", name, how)
        options = str(options_ssl.options_path(self.context.config_dir))
        plan = planner.plan_deploy_https(
            config, [config.block(s.index) for s in choice.https], target, options
        )
        copies = planner.plan_copies(
            config,
            [(c, config.block(c.server.index)) for c in choice.copies],
            target,
            options,
            self.options.http01_port,
            self.options.https_port,
        )
        for path, changes in copies.changes.items():
            for change in changes:
                plan.add(copies.files[path], change)
        plan.notes += copies.notes
        for split in choice.splits:
            planner.plan_split(split, config.block(split.server.index), target, options, plan)
        checkpoint = self._change(f"deployment of {target.lineage} ({', '.join(names)})")
        warning = options_ssl.ensure(self.context.config_dir, checkpoint)
        if warning:
            self.context.display.notify(warning)
        self._apply(plan, checkpoint)
        self._verify(target)
        self._warn_stapling(target, config, [config.block(s.index) for s in choice.https])

    def _tls_blocks(self, config: NginxConfig, names: Sequence[str]) -> list[ServerBlock]:
        """The blocks serving *names* by name on TLS addresses of the HTTPS port."""
        servers = config.selection_servers()
        found: dict[int, ServerBlock] = {}
        for name in names:
            for address in addresses(servers, self.options.https_port):
                if not is_ssl(servers, address):
                    continue
                match = lookup(servers, address, host_for(name))
                if match.by_name:
                    found.setdefault(match.server.index, config.block(match.server.index))
        return list(found.values())

    def _verify(self, target: DeployTarget) -> None:
        """Check on the new configuration that each name gets the certificate.

        Raises:
            InstallerError: a name is served by name on a TLS address without it.
        """
        config = parser.load(self.root)
        names = _names(target)
        try:
            for name in names:
                blocks = self._tls_blocks(config, [name])
                if not blocks:
                    raise InstallerError(f"After the change no HTTPS server block names {name}")
                for block in blocks:
                    certs = [d.stmt.args[0] for d in block.get("ssl_certificate") if d.stmt.args]
                    if certs != [str(target.fullchain_path)]:
                        raise InstallerError(
                            f"After the change nginx would serve {name} from {block.where}, "
                            "which does not use the new certificate"
                        )
        except Ambiguity as exc:
            raise explain(exc) from None

    def _warn_stapling(
        self, target: DeployTarget, config: NginxConfig, blocks: Sequence[ServerBlock]
    ) -> None:
        stapling = [
            b.where for b in blocks for d in b.get("ssl_stapling") if d.stmt.args == ("on",)
        ]
        if stapling and not _has_ocsp_url(target.cert_path):
            self.context.display.notify(
                f"ssl_stapling is on in {', '.join(stapling)} but the certificate has no OCSP "
                "URL: nginx will not staple (you may remove ssl_stapling there)"
            )

    def enable_redirect(self, target: DeployTarget) -> None:
        """Redirect plain HTTP requests for the target's names to HTTPS (301).

        Raises:
            InstallerError: the choice is ambiguous.
            PluginError: the configuration cannot be read.
        """
        names = _names(target)
        config = self._load(names)
        try:
            chosen = choose_redirect(config.selection_servers(), names, self.options.http01_port)
        except Ambiguity as exc:
            raise explain(exc) from None
        if not chosen:
            self.context.display.notify(
                f"Nothing listens for plain HTTP on port {self.options.http01_port}; "
                "no redirect is needed"
            )
            return
        plan = planner.plan_redirect(
            [(config.block(i), names_) for i, (_, names_) in chosen.items()],
            self.options.https_port,
        )
        self._apply(plan, self._change(f"redirect for {target.lineage}"))

    def enable_hsts(self, target: DeployTarget) -> None:
        """Send Strict-Transport-Security from the HTTPS blocks serving the target's names.

        Raises:
            InstallerError: the choice is ambiguous.
            PluginError: the configuration cannot be read.
        """
        names = _names(target)
        config = self._load(names)
        try:
            blocks = self._tls_blocks(config, names)
        except Ambiguity as exc:
            raise explain(exc) from None
        self._apply(planner.plan_hsts(blocks), self._change(f"HSTS for {target.lineage}"))

    def route_challenges(self, names: Sequence[str], upstream: str) -> list[str]:
        """Send ``/.well-known/acme-challenge/`` of the blocks answering *names* over plain
        HTTP to *upstream* (:mod:`.routing`); return one line per block changed.

        Raises:
            InstallerError: nothing answers a name on the HTTP port, the choice is
                ambiguous, or a block already routes the path elsewhere (nothing written).
            PluginError: the configuration cannot be read.
        """
        config = self._load(names)
        route = routing.plan_route(config, names, self.options.http01_port, upstream)
        if route.changed:
            self._apply(route.plan, self._change(f"challenge route to {upstream}"))
        return [f"{where}: {routing.PATH} -> {upstream}" for where in route.changed]

    def config_test(self) -> None:
        """``nginx -t``.

        Raises:
            InstallerError: nginx rejects the configuration.
        """
        self.control.test()

    def reload(self) -> None:
        """Reload nginx gracefully and wait for the new workers; commit this run's change.

        Raises:
            InstallerError: the reload failed or nginx kept its old configuration.
        """
        self.control.reload(self._pid)
        if self._checkpoint is not None:
            if self._checkpoint.paths:
                self._checkpoint.commit()
            self._checkpoint = None

    def restore(self) -> None:
        """Put back every file this run changed, byte for byte."""
        if self._checkpoint is not None:
            restored = self._checkpoint.restore()
            self._checkpoint = None
            if restored:
                logger.info("Restored %s", ", ".join(restored))

    def rollback_last(self) -> str:
        """Restore the files of the newest committed installation.

        Raises:
            InstallerError: nothing to roll back, or a file changed since (nothing restored).
        """
        checkpoint = self.backups.latest_committed()
        if checkpoint is None:
            raise InstallerError(
                f"Nothing to roll back: no nginx change by certbot-like is recorded in "
                f"{self.backups.base}"
            )
        changed = checkpoint.changed_since_commit()
        if changed:
            raise InstallerError(
                f"{', '.join(changed)} changed after certbot-like's change "
                f"({checkpoint.description}); nothing was rolled back",
                f"Compare with the backups in {checkpoint.directory} and restore by hand",
            )
        paths = checkpoint.restore("rolled-back")
        root = os.path.realpath(self.root)
        shown = ", ".join(os.path.relpath(p, root) if p.startswith(root) else p for p in paths)
        return f"{checkpoint.description} of {checkpoint.created_at}: restored {shown}"


def _has_ocsp_url(cert_path: Path) -> bool:
    from cryptography import x509
    from cryptography.x509.oid import AuthorityInformationAccessOID

    try:
        cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    return any(d.access_method == AuthorityInformationAccessOID.OCSP for d in access.value)
