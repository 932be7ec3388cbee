"""The ``fleet-http`` authenticator (see :mod:`certbot_like_fleet_http`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from certbot_like.errors import CertbotLikeError, PluginError
from certbot_like.interfaces import (
    HTTP01,
    Authenticator,
    ChallengeBoard,
    ChallengeTask,
    Identifier,
    PluginContext,
)
from certbot_like_fleet_http import FleetHttpOptions

logger = logging.getLogger(__name__)


class FleetHttpAuthenticator:
    """Publishes each HTTP-01 key authorization on the fleet's challenge board."""

    def __init__(self, options: FleetHttpOptions, context: PluginContext) -> None:
        self.options = options
        self.context = context
        self._published: set[str] = set()

    def _board(self) -> ChallengeBoard:
        board = self.context.challenge_board
        if board is None:
            raise PluginError(
                "The fleet-http authenticator needs the fleet's store",
                "Give --store postgresql://... (or use --webroot or --standalone)",
            )
        return board

    def preferred_challenges(self, identifier: Identifier) -> Sequence[str]:
        """``["http-01"]``; nothing for a wildcard, which HTTP-01 cannot prove."""
        return [] if identifier.wildcard else [HTTP01]

    def prepare(self, challenge_types: Sequence[str]) -> None:
        """Check that a store was given.

        Raises:
            PluginError: no ``--store``.
        """
        self._board()

    def perform(self, tasks: Sequence[ChallengeTask]) -> None:
        """Publish every task's key authorization.

        Raises:
            PluginError: not an HTTP-01 task, or the store refused (what was published is
                withdrawn by :meth:`cleanup`).
        """
        board = self._board()
        for task in tasks:
            if task.kind != HTTP01:
                raise PluginError(
                    f"fleet-http cannot answer {task.kind} for {task.identifier.value}",
                    "Use --preferred-challenges http-01 or a DNS authenticator",
                )
            try:
                board.publish(task.token, task.key_authorization, self.options.fleet_http_ttl)
            except CertbotLikeError as exc:
                raise PluginError(
                    f"Could not publish the HTTP-01 answer: {exc.one_line()}"
                ) from exc
            self._published.add(task.token)

    def cleanup(self, tasks: Sequence[ChallengeTask]) -> None:
        """Withdraw the answers of *tasks* (all of them when *tasks* is empty)."""
        tokens = {t.token for t in tasks} if tasks else set(self._published)
        for token in sorted(tokens & self._published):
            try:
                self._board().withdraw(token)
            except CertbotLikeError as exc:  # it expires by itself
                logger.warning("Could not withdraw an HTTP-01 answer: %s", exc.one_line())
            self._published.discard(token)


_authenticator: type[Authenticator] = FleetHttpAuthenticator
