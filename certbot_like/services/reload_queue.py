"""``--deploy-reload`` commands queued for the end of a ``renew`` run.

Apart from :mod:`certbot_like.services.deploy` so that a renewal without deploy targets
loads none of the deploy modules: every ``renew`` worker pool holds a queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from certbot_like.errors import CertbotLikeError
from certbot_like.interfaces import HookRunner

logger = logging.getLogger(__name__)


class ReloadQueue:
    """``--deploy-reload`` commands of one run: each distinct command runs once, after every
    lineage naming it was deployed, with a deploy hook's environment (``RENEWED_LINEAGE``
    of the first such lineage, ``RENEWED_DOMAINS`` of all of them)."""

    def __init__(self) -> None:
        self._items: dict[str, list[tuple[str, str, Sequence[str]]]] = {}
        self._lock = threading.Lock()

    def add(self, command: str, lineage: str, live_dir: str, names: Sequence[str]) -> None:
        """Remember that *lineage* needs *command* (thread-safe: renew's workers call it)."""
        with self._lock:
            self._items.setdefault(command, []).append((lineage, live_dir, names))

    def run(self, runner: HookRunner) -> dict[str, str]:
        """Run each command once; returns ``lineage -> error`` for the failed ones."""
        failed: dict[str, str] = {}
        with self._lock:
            items, self._items = self._items, {}
        for command, users in items.items():
            env = {
                "RENEWED_LINEAGE": users[0][1],
                "RENEWED_DOMAINS": " ".join(n for _, _, names in users for n in names),
            }
            try:
                runner.run(command, env, what="deploy-reload")
            except CertbotLikeError as exc:  # a deploy hook's rule: reported, the run goes on
                logger.warning("%s", exc.one_line())
                for lineage, _, _ in users:
                    failed[lineage] = exc.one_line()
        return failed
