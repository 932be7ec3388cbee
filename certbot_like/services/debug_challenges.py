"""``--debug-challenges``: stop after the authenticator has set up the challenges, before
the CA is asked to validate them, so the operator can check what the CA will see.

As certbot does, each challenge is shown (the URL, TXT record or TLS-ALPN-01 name and the
value the CA expects) and the run waits for Enter; without a terminal it only shows them
and goes on (certbot does not pause in non-interactive mode either).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from certbot_like.interfaces import Authenticator, ChallengeTask, Display

logger = logging.getLogger(__name__)


def describe(task: ChallengeTask) -> str:
    """What the CA will check for *task*, on one line (nothing secret: the CA publishes it)."""
    name = task.identifier.value
    if task.kind == "http-01":
        return f"http-01: http://{name}{task.http_path} must answer {task.key_authorization}"
    if task.kind == "dns-01":
        return f"dns-01: TXT {task.dns_name} must hold {task.dns_value}"
    return f"{task.kind}: {name}"


class DebugChallenges:
    """An authenticator that pauses after :meth:`perform` (everything else is delegated)."""

    def __init__(self, inner: Authenticator, display: Display) -> None:
        self.inner = inner
        self.display = display

    def prepare(self, challenge_types: Sequence[str]) -> None:
        self.inner.prepare(challenge_types)

    def preferred_challenges(self, identifier: Any) -> Sequence[str]:
        return self.inner.preferred_challenges(identifier)

    def perform(self, tasks: Sequence[ChallengeTask]) -> None:
        """Set up the challenges, show them, wait for Enter when someone can press it.

        Raises:
            PluginError: the authenticator failed, or input closed while waiting.
        """
        self.inner.perform(tasks)
        lines = [describe(task) for task in tasks]
        for line in lines:
            logger.info("Challenge in place: %s", line)
        self.display.notify("Challenges in place (--debug-challenges):\n  " + "\n  ".join(lines))
        if self.display.interactive:
            self.display.pause("Press Enter to let the CA validate them.")
        else:
            self.display.notify("Not pausing: no terminal to press Enter at.")

    def cleanup(self, tasks: Sequence[ChallengeTask]) -> None:
        self.inner.cleanup(tasks)

    def __getattr__(self, name: str) -> Any:  # anything else the plugin offers
        return getattr(self.inner, name)
