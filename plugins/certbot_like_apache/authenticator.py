"""HTTP-01 through the running Apache: a temporary configuration, a graceful restart, removal.

For each name, the VirtualHosts Apache answers it with on ``--http-01-port`` (one per
address, defaults included, :func:`~certbot_like_apache.selection.serving`) get ``Include
<work_dir>/apache-challenge/challenge.conf`` as their first line. That file maps
``/.well-known/acme-challenge/TOKEN`` to ``<work_dir>/apache-challenge/tokens/TOKEN`` with a
``RewriteRule ... [END]`` (first in the block, so the site's own rewrites and redirects,
including ours, never see the request) and an ``Alias`` as a fallback, and grants access to
that folder. mod_rewrite is enabled for the duration when it is not loaded.

The edits live in a ``temporary`` checkpoint: after the configuration test and the graceful
restart, the plugin requests each challenge URL from Apache itself until it answers with
the key authorization; :meth:`cleanup` restores every file byte for byte and restarts
Apache again.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import time
from collections.abc import Sequence

from certbot_like.errors import CertbotLikeError, PluginError
from certbot_like.interfaces import HTTP01, ChallengeTask, Identifier
from certbot_like_apache.augeas_tree import aug_path
from certbot_like_apache.backup import TEMPORARY, Checkpoint
from certbot_like_apache.config import ApacheConfig
from certbot_like_apache.selection import VHost, serving

logger = logging.getLogger(__name__)

CHALLENGE_DIR = "apache-challenge"
SELF_CHECK_TIMEOUT = 10.0
_TOKEN_PATTERN = "[A-Za-z0-9_-]+"  # noqa: S105 (a regular expression)


def challenge_conf(tokens_dir: str) -> bytes:
    """The temporary configuration included at the top of each challenged VirtualHost."""
    return f"""\
# Temporary configuration of certbot-like's apache plugin (HTTP-01); removed after validation.
<IfModule mod_rewrite.c>
    RewriteEngine on
    RewriteRule "^/\\.well-known/acme-challenge/({_TOKEN_PATTERN})$" "{tokens_dir}/$1" [END]
</IfModule>
<IfModule mod_alias.c>
    Alias /.well-known/acme-challenge "{tokens_dir}"
</IfModule>
<Directory "{tokens_dir}">
    Options None
    AllowOverride None
    ForceType text/plain
    <IfModule mod_authz_core.c>
        Require all granted
    </IfModule>
</Directory>
""".encode()


class ApacheAuthenticator:
    """The authenticator half of the plugin."""

    def __init__(self, cfg: ApacheConfig) -> None:
        self.cfg = cfg
        self.base = cfg.context.work_dir / CHALLENGE_DIR
        self.tokens = self.base / "tokens"
        self._checkpoint: Checkpoint | None = None
        self._active: dict[ChallengeTask, str] = {}
        self._address: dict[ChallengeTask, str] = {}
        self._included: set[str] = set()
        self._reloaded = False
        self._stale = False

    def preferred_challenges(self, identifier: Identifier) -> Sequence[str]:
        """``["http-01"]``; nothing for a wildcard, which HTTP-01 cannot prove."""
        return [] if identifier.wildcard else [HTTP01]

    def perform(self, tasks: Sequence[ChallengeTask]) -> None:
        """Serve every task's key authorization through Apache and wait until it does.

        Raises:
            PluginError: not HTTP-01, a needed file cannot be parsed, Apache rejects the
                temporary configuration or does not serve it (cleanup undoes everything).
        """
        if not tasks:
            return
        for task in tasks:
            if task.kind != HTTP01:
                raise PluginError(
                    f"The apache plugin cannot answer {task.kind} for {task.identifier}",
                    "Use --preferred-challenges http-01 or another authenticator",
                )
        if self._stale:
            self.cfg.reload_view()
            self._stale = False
        self._write_tokens(tasks)
        keys = self._vhosts_for(tasks)
        self._configure(keys)
        self._self_check(tasks)

    def _write_tokens(self, tasks: Sequence[ChallengeTask]) -> None:
        try:
            self.base.mkdir(mode=0o755, exist_ok=True)
            self.tokens.mkdir(mode=0o755, exist_ok=True)
            for task in tasks:
                path = self.tokens / task.token
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(task.key_authorization.encode("ascii"))
                os.chmod(path, 0o644)
                self._active[task] = str(path)
        except OSError as exc:
            raise PluginError(f"Could not write the challenge file: {exc}") from exc

    def _vhosts_for(self, tasks: Sequence[ChallengeTask]) -> list[str]:
        port = self.cfg.options.http01_port
        vhosts = self.cfg.vhosts()
        keys: list[str] = []
        for task in tasks:
            self.cfg.refuse_skipped([task.identifier.value], PluginError)
            found = serving(task.identifier.value, port, vhosts)
            self._address[task] = _check_address(found, port)
            for vhost in found:
                if vhost.key not in keys:
                    keys.append(vhost.key)
            if not found and "main" not in keys:
                keys.append("main")
        return [k for k in keys if k not in self._included]

    def _configure(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        tree = self.cfg.tree
        if self._checkpoint is None:
            self._checkpoint = self.cfg.backups.begin(TEMPORARY, "HTTP-01 challenges")
        checkpoint = self._checkpoint
        conf = self.base / "challenge.conf"
        if not conf.exists():
            checkpoint.write_file(str(conf), challenge_conf(str(self.tokens)), 0o644)
        self.cfg.modules.enable("rewrite", checkpoint, lambda message: logger.info("%s", message))
        for key in keys:
            if key == "main":
                tree.add_directive(aug_path(tree.main_config), "Include", [str(conf)])
            else:
                tree.add_directive(key, "Include", [str(conf)], first=True)
            self._included.add(key)

        def backup(files: list[str]) -> None:
            for file in files:
                checkpoint.backup(file)

        try:
            tree.save(backup)
            self.cfg.ctl.config_test()
        except CertbotLikeError as exc:
            raise PluginError(
                f"Apache rejects the temporary challenge configuration: {exc.message}",
                exc.hint,
            ) from exc
        self._reloaded = True
        try:
            self.cfg.ctl.graceful(self.cfg.pid_file)
        except CertbotLikeError as exc:
            raise PluginError(exc.message, exc.hint) from exc

    def _self_check(self, tasks: Sequence[ChallengeTask]) -> None:
        """Ask Apache for each challenge until it answers with the key authorization.

        Raises:
            PluginError: Apache answers something else for SELF_CHECK_TIMEOUT seconds.
        """
        port = self.cfg.options.http01_port
        deadline = time.monotonic() + SELF_CHECK_TIMEOUT
        for task in tasks:
            last = ""
            while True:
                try:
                    address = self._address.get(task, "127.0.0.1")
                    status, body = _fetch(address, port, task.identifier.value, task.http_path)
                    if status == 200 and body.strip() == task.key_authorization.encode():
                        break
                    last = f"HTTP {status}"
                except ConnectionRefusedError:
                    logger.info("Apache does not listen on %s:%s; not checking", address, port)
                    break
                except OSError as exc:
                    last = str(exc)
                if time.monotonic() > deadline:
                    raise PluginError(
                        f"Apache answers {last} for http://{task.identifier.value}:{port}"
                        f"{task.http_path} instead of the challenge",
                        f"Check that the Apache user can read {self.tokens} and that nothing "
                        "in the VirtualHost intercepts /.well-known/acme-challenge/",
                    )
                time.sleep(0.05)

    def cleanup(self, tasks: Sequence[ChallengeTask]) -> None:
        """Remove the tasks' files; once none is left, restore the configuration and
        restart Apache gracefully. Never raises."""
        for task in tasks:
            self._address.pop(task, None)
            path = self._active.pop(task, None)
            if path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(path)
        if self._active:
            return
        if self._checkpoint is not None:
            self._undo_configuration(self._checkpoint)
            self._checkpoint = None
        with contextlib.suppress(OSError):
            self.tokens.rmdir()
            self.base.rmdir()

    def _undo_configuration(self, checkpoint: Checkpoint) -> None:
        """Restore the files of *checkpoint* and restart Apache if it was restarted with
        them. Never raises (a checkpoint that cannot be restored stays on disk and the next
        run undoes it)."""
        self._included.clear()
        self._stale = True
        try:
            checkpoint.restore()
        except CertbotLikeError:
            logger.warning(
                "Restoring Apache's configuration after the challenges failed", exc_info=True
            )
            return
        if self._reloaded:
            self._reloaded = False
            try:
                self.cfg.ctl.graceful(self.cfg.pid_file)
            except CertbotLikeError:
                logger.warning("Restarting Apache after the challenges failed", exc_info=True)


def _check_address(vhosts: Sequence[VHost], port: int) -> str:
    """Where to ask Apache for a challenge: loopback, unless the VirtualHost answering the
    name is bound to specific addresses only (then the first of them)."""
    addresses = [a for v in vhosts for a in v.addresses if a.serves_port(port)]
    if not addresses or any(a.wildcard for a in addresses):
        return "127.0.0.1"
    return addresses[0].host.strip("[]")


def _fetch(address: str, port: int, host: str, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(address, port, timeout=2)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read(4096)
    finally:
        connection.close()
