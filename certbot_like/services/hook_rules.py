"""When hooks run, as certbot 5.8 runs them (``certbot/_internal/hooks.py``).

- **pre**: the executables of ``renewal-hooks/pre/`` (sorted), then ``--pre-hook``; a command
  already run in this process is skipped (so ``--pre-hook`` naming a directory hook, or
  several lineages sharing one, run it once). ``renew`` runs a lineage's pre-hooks just
  before that lineage is renewed.
- **deploy**: ``renewal-hooks/deploy/`` then ``--deploy-hook``, after each stored certificate
  (not in a dry run unless ``--run-deploy-hooks``), each command once per certificate, with
  ``RENEWED_LINEAGE`` and ``RENEWED_DOMAINS``.
- **post**: ``renewal-hooks/post/`` then ``--post-hook``. ``obtain``/``certonly``/``run`` and
  ``reconfigure`` run them at once, after the attempt whatever its outcome, with
  ``RENEWED_DOMAINS`` (the names, when a certificate was stored) and an empty
  ``FAILED_DOMAINS``; ``renew`` collects them (each command once, in the order first seen) and
  runs them after every lineage, with the names renewed and the names that failed.
- A failing hook is reported (a warning on the terminal and in the log) and the run carries
  on; its exit code is not changed. ``--no-directory-hooks`` skips the directories.

Deliberate differences from certbot (docs/renewal.md): hooks have a timeout
(``--hook-timeout``); backups in a hook directory (``*.bak``, ``*.dpkg-*``) are not run; a
deploy hook's variables do not leak into later hooks' environment.
"""

from __future__ import annotations

import logging
import shlex
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from certbot_like.errors import HookError
from certbot_like.interfaces import HookRunner

logger = logging.getLogger(__name__)


class HookRules:
    """The hooks of one command run (one process, as certbot's module-level state)."""

    def __init__(
        self,
        runner: HookRunner,
        hook_dir: Callable[[str], Path] | None,
        *,
        collect_posts: bool = False,
        dry_run: bool = False,
        run_deploy_hooks: bool = False,
    ) -> None:
        """*hook_dir* maps ``pre``/``deploy``/``post`` to a directory (None: no directory
        hooks); *collect_posts* is ``renew``'s rule (post hooks once, at the end)."""
        self.runner, self.hook_dir = runner, hook_dir
        self.collect_posts, self.dry_run = collect_posts, dry_run
        self.run_deploy_hooks = run_deploy_hooks
        self.failures: list[str] = []  # one line per failed hook, for reports
        self._pre_done: set[str] = set()
        self._posts: list[tuple[str, str]] = []  # renew's post-hooks: (key, shell text)
        self._lock = threading.RLock()

    def _commands(self, stage: str, command: str | None) -> list[tuple[str, str]]:
        """(key, shell text): the directory's executables, then *command*."""
        from certbot_like.hooks import hook_dir_commands

        found: list[tuple[str, str]] = []
        if self.hook_dir is not None:
            try:
                found = [(p, shlex.quote(p)) for p in hook_dir_commands(self.hook_dir(stage))]
            except HookError as exc:
                self._failed(exc)
        if command:
            found.append((command, command))
        return found

    def _failed(self, exc: HookError) -> None:
        logger.warning("%s", exc.one_line())
        self.failures.append(exc.one_line())

    def _run(self, what: str, text: str, env: dict[str, str]) -> None:
        try:
            self.runner.run(text, env, what=what)
        except HookError as exc:
            self._failed(exc)

    def pre(self, command: str | None) -> None:
        """Run the pre-hooks not run yet in this process (they hold up other lineages)."""
        with self._lock:
            for key, text in self._commands("pre", command):
                if key in self._pre_done:
                    logger.info("Pre-hook command already run, skipping: %s", key)
                    continue
                self._pre_done.add(key)
                self._run("pre-hook", text, {})

    def deploy(self, command: str | None, lineage_dir: str, names: Sequence[str]) -> None:
        """Run the deploy hooks for one stored certificate."""
        if self.dry_run and not self.run_deploy_hooks:
            logger.info("Dry run: skipping deploy hooks")
            return
        env = {"RENEWED_LINEAGE": lineage_dir, "RENEWED_DOMAINS": " ".join(names)}
        done: set[str] = set()
        for key, text in self._commands("deploy", command):
            if key in done:
                logger.info("Skipping deploy-hook %r as it was already run", key)
                continue
            done.add(key)
            self._run("deploy-hook", text, env)

    def post(self, command: str | None, renewed: Sequence[str]) -> None:
        """After one attempt: run the post-hooks now, or (renew) keep them for the end."""
        commands = self._commands("post", command)
        if self.collect_posts:
            with self._lock:
                for key, text in commands:
                    if all(key != saved for saved, _ in self._posts):
                        self._posts.append((key, text))
            return
        env = {"RENEWED_DOMAINS": " ".join(renewed), "FAILED_DOMAINS": ""}
        for _, text in commands:
            self._run("post-hook", text, env)

    def run_collected_posts(self, renewed: Sequence[str], failed: Sequence[str]) -> None:
        """``renew``'s post-hooks, each once, after every lineage."""
        env = {"RENEWED_DOMAINS": " ".join(renewed), "FAILED_DOMAINS": " ".join(failed)}
        with self._lock:
            saved, self._posts = self._posts, []
        for _, text in saved:
            self._run("post-hook", text, env)
