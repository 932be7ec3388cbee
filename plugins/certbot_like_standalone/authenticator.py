"""The standalone authenticator: binds the ports in ``prepare``, serves in ``perform``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from certbot_like.errors import PluginError
from certbot_like.interfaces import (
    HTTP01,
    TLSALPN01,
    Authenticator,
    ChallengeTask,
    Identifier,
    PluginContext,
)

from . import StandaloneOptions
from .binding import Endpoint, bind
from .http01 import Http01Server

if TYPE_CHECKING:
    from .tlsalpn import TlsAlpnServer

logger = logging.getLogger(__name__)

SUPPORTED = (HTTP01, TLSALPN01)


class StandaloneAuthenticator:
    """Answers HTTP-01 and TLS-ALPN-01 challenges with servers of its own.

    The listening sockets are bound by :meth:`prepare` (so a busy port is reported before
    an order is placed) and closed by :meth:`cleanup` once no task is left for them.
    """

    def __init__(self, options: StandaloneOptions, context: PluginContext) -> None:
        self.options = options
        self.context = context
        self._endpoints = {
            HTTP01: Endpoint(
                challenge=HTTP01,
                address=options.http01_address,
                port=options.http01_port,
                flag_port="--http-01-port",
                flag_address="--http-01-address",
                alternative="--webroot",
            ),
            TLSALPN01: Endpoint(
                challenge=TLSALPN01,
                address=options.tls_alpn_01_address,
                port=options.tls_alpn_01_port,
                flag_port="--tls-alpn-01-port",
                flag_address="--tls-alpn-01-address",
                alternative="--preferred-challenges http-01",
            ),
        }
        self._http: Http01Server | None = None
        self._tls: TlsAlpnServer | None = None
        # What each server answers, by task (the same token or name may come twice).
        self._performed: set[ChallengeTask] = set()

    def preferred_challenges(self, identifier: Identifier) -> Sequence[str]:
        """HTTP-01 then TLS-ALPN-01, for DNS names and IP addresses (none for wildcards)."""
        if identifier.wildcard:
            return []
        return [HTTP01, TLSALPN01]

    def prepare(self, challenge_types: Sequence[str]) -> None:
        """Bind the ports of the supported types among *challenge_types* now.

        Raises:
            PluginError: a port is busy, needs root, or is given twice; nothing is left
                bound when this is raised.
        """
        fresh: list[str] = []
        try:
            for kind in SUPPORTED:
                if kind not in challenge_types:
                    continue
                if self._ensure_bound(kind):
                    fresh.append(kind)
        except PluginError:
            for kind in fresh:
                self._close(kind)
            raise

    def perform(self, tasks: Sequence[ChallengeTask]) -> None:
        """Serve every task at once; return when the servers accept connections.

        Raises:
            PluginError: a task has a type this plugin cannot answer, a port cannot be
                bound, or a TLS-ALPN-01 certificate cannot be made (cleanup undoes the rest).
        """
        for task in tasks:
            if task.kind not in SUPPORTED:
                raise PluginError(
                    f"The standalone plugin cannot answer {task.kind} challenges "
                    f"(for {task.identifier})",
                    "Use --preferred-challenges http-01 or tls-alpn-01, or another plugin",
                )
        for task in tasks:
            self._ensure_bound(task.kind)
            if task.kind == HTTP01 and self._http is not None:
                self._http.add(task.token, task.key_authorization)
            elif task.kind == TLSALPN01 and self._tls is not None:
                self._tls.add(task.identifier, task.tls_alpn_digest)
            self._performed.add(task)
        for server in (self._http, self._tls):
            if server is not None:
                server.start()
        for task in tasks:
            logger.info(
                "Serving %s for %s on port %d",
                task.kind,
                task.identifier,
                self._endpoints[task.kind].port,
            )

    def cleanup(self, tasks: Sequence[ChallengeTask]) -> None:
        """Stop answering *tasks*; close each port no remaining task needs.

        Tolerates tasks never performed and repeated calls; ``cleanup([])`` closes the
        ports bound by :meth:`prepare` when nothing is being served.
        """
        for task in tasks:
            if task not in self._performed:
                continue
            self._performed.discard(task)
            still = [t for t in self._performed if t.kind == task.kind]
            if task.kind == HTTP01 and self._http is not None:
                if all(t.token != task.token for t in still):
                    self._http.remove(task.token)
            elif (
                task.kind == TLSALPN01
                and self._tls is not None
                and all(t.identifier != task.identifier for t in still)
            ):
                self._tls.remove(task.identifier)
        for kind in SUPPORTED:
            if not any(t.kind == kind for t in self._performed):
                self._close(kind)

    def _ensure_bound(self, kind: str) -> bool:
        """Bind *kind*'s endpoint unless already bound; True when it was bound now.

        Raises:
            PluginError: the port cannot be bound (see :func:`binding.bind`), or both
                challenge types are configured on the same port.
        """
        if self._bound(kind):
            return False
        other = TLSALPN01 if kind == HTTP01 else HTTP01
        if self._bound(other) and self._endpoints[kind].overlaps(self._endpoints[other]):
            raise PluginError(
                f"HTTP-01 and TLS-ALPN-01 cannot both listen on port {self._endpoints[kind].port}",
                "Choose different ports with --http-01-port and --tls-alpn-01-port",
            )
        if kind == HTTP01 and self._http is None:
            self._http = Http01Server(bind(self._endpoints[HTTP01]))
            return True
        if kind == TLSALPN01 and self._tls is None:
            from .tlsalpn import TlsAlpnServer  # cryptography + ssl only when used

            sock = bind(self._endpoints[TLSALPN01])
            try:
                self._tls = TlsAlpnServer(sock, self.context.work_dir)
            except BaseException:
                sock.close()
                raise
            return True
        return False

    def _bound(self, kind: str) -> bool:
        return (self._http if kind == HTTP01 else self._tls) is not None

    def _close(self, kind: str) -> None:
        if kind == HTTP01 and self._http is not None:
            self._http.stop()
            self._http = None
        elif kind == TLSALPN01 and self._tls is not None:
            self._tls.stop()
            self._tls = None


# The plugin's contract, checked by mypy: instances of StandaloneAuthenticator are authenticators.
_authenticator: type[Authenticator] = StandaloneAuthenticator
