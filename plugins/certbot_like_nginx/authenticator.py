"""HTTP-01 through nginx: temporary answers in the blocks that serve the names.

``perform`` finds, for each name, the block nginx uses for it on every plain-HTTP address
of ``--http-01-port`` (by name, or the default server) and inserts at the top of it::

    if ($uri = "/.well-known/acme-challenge/TOKEN") { return 200 "KEY_AUTHORIZATION"; }

Being the block's first rewrite-phase statement, it answers before any redirect, ``return``
or ``location`` of the block. When nothing listens on the port, a temporary server block
in the ``http`` context answers instead. The files are backed up in a ``challenge``
checkpoint, tested, and nginx reloaded; ``cleanup`` of the last task restores them byte for
byte and reloads again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from certbot_like.errors import PluginError
from certbot_like.interfaces import HTTP01, ChallengeTask, Identifier

from . import planner
from .backup import Checkpoint
from .base import NginxBase, explain
from .choice import choose_challenge
from .parser import ServerBlock
from .selection import Ambiguity

logger = logging.getLogger(__name__)


class NginxAuthenticator(NginxBase):
    """The authenticator half of the nginx plugin."""

    _challenge: Checkpoint | None = None
    _performed: frozenset[ChallengeTask] = frozenset()

    def _prepare_authenticator(self, challenge_types: Sequence[str]) -> None:
        """Recover unfinished changes; check nginx and its configuration before any order.

        Raises:
            PluginError: nginx is missing or rejects its configuration.
        """
        self._recover()
        self._load()

    def preferred_challenges(self, identifier: Identifier) -> Sequence[str]:
        """``["http-01"]``; nothing for a wildcard, which HTTP-01 cannot prove."""
        return [] if identifier.wildcard else [HTTP01]

    def perform(self, tasks: Sequence[ChallengeTask]) -> None:
        """Serve every task through nginx; return once nginx runs the new configuration.

        Raises:
            PluginError: a task is not HTTP-01, nginx's choice of block is ambiguous, or the
                test or reload failed (``cleanup`` restores the files).
        """
        for task in tasks:
            if task.kind != HTTP01:
                raise PluginError(
                    f"The nginx plugin cannot answer {task.kind} for {task.identifier}",
                    "Use --preferred-challenges http-01 or another authenticator",
                )
        if not tasks:
            return
        config = self._load([t.identifier.value for t in tasks])
        servers = config.selection_servers()
        by_block: dict[int, tuple[ServerBlock, list[ChallengeTask]]] = {}
        homeless: list[ChallengeTask] = []
        for task in tasks:
            try:
                chosen = choose_challenge(servers, task.identifier.value, self.options.http01_port)
            except Ambiguity as exc:
                raise explain(exc, PluginError) from None
            if not chosen:
                homeless.append(task)
            for server in chosen:
                entry = by_block.setdefault(server.index, (config.block(server.index), []))
                entry[1].append(task)
        plan = planner.plan_challenges(list(by_block.values()))
        if homeless:
            ipv6 = any(i.address.ipv6 for s in servers for i in s.listens)
            extra = planner.plan_challenge_server(config, homeless, self.options.http01_port, ipv6)
            for path, changes in extra.changes.items():
                for change in changes:
                    plan.add(extra.files[path], change)
        if self._challenge is None:
            self._challenge = self.backups.new("challenge", "HTTP-01 challenges")
        self._performed = self._performed | frozenset(tasks)
        self._apply(plan, self._challenge)
        for block, block_tasks in by_block.values():
            logger.info(
                "Answering HTTP-01 for %s in %s",
                ", ".join(str(t.identifier) for t in block_tasks),
                block.where,
            )
        self.control.reload(self._pid)

    def cleanup(self, tasks: Sequence[ChallengeTask]) -> None:
        """Forget *tasks*; once none is left, restore the files and reload nginx.

        Raises:
            PluginError: the files could not be restored, or nginx not reloaded.
        """
        self._performed = self._performed - frozenset(tasks)
        if self._performed or self._challenge is None:
            return
        checkpoint, self._challenge = self._challenge, None
        restored = checkpoint.restore()
        if not restored:
            checkpoint.discard()
            return
        checkpoint.discard()
        logger.info("Removed the HTTP-01 answers from %s", ", ".join(restored))
        self.control.reload(self._pid)
