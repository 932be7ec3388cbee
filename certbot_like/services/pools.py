"""Shared resources for renewing many lineages in parallel.

- :class:`SessionPool`: one ACME session per (CA, account) per worker thread, with each CA's
  directory fetched once per run and shared, and one rate limiter for every request.
- :class:`AuthenticatorPool`: one authenticator per (plugin, options), shared by the
  lineages that use it, its calls serialised by a lock. Standalone can therefore serve the
  challenges of eight lineages on one port at once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from typing import Any

from certbot_like.interfaces import ChallengeBoard, ChallengeTask, Display, HookRunner, Identifier
from certbot_like.plugin_options import options_to_conf
from certbot_like.protocol.ca import CaConnector
from certbot_like.services.accounts import Prompter, Session, load_session
from certbot_like.services.issue import make_plugin
from certbot_like.settings import AccountSettings, CaSettings, PluginChoice
from certbot_like.storage.layout import Layout
from certbot_like.storage.store import Store

logger = logging.getLogger(__name__)


class SharedAuthenticator:
    """An authenticator whose prepare/perform/cleanup are serialised across threads."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lock = threading.Lock()

    def prepare(self, challenge_types: Sequence[str]) -> None:
        with self.lock:
            self.inner.prepare(challenge_types)

    def preferred_challenges(self, identifier: Identifier) -> Sequence[str]:
        result: Sequence[str] = self.inner.preferred_challenges(identifier)
        return result

    def perform(self, tasks: Sequence[ChallengeTask]) -> None:
        with self.lock:
            self.inner.perform(tasks)

    def cleanup(self, tasks: Sequence[ChallengeTask]) -> None:
        with self.lock:
            self.inner.cleanup(tasks)


class AuthenticatorPool:
    """Authenticators by (plugin name, options), created on first use."""

    def __init__(
        self,
        layout: Layout,
        display: Display,
        hooks: HookRunner,
        dry_run: bool,
        board: ChallengeBoard | None = None,
    ) -> None:
        self.layout, self.display, self.hooks, self.dry_run = layout, display, hooks, dry_run
        self.board = board
        self._items: dict[str, SharedAuthenticator] = {}
        self._lock = threading.Lock()

    def get(self, choice: PluginChoice) -> SharedAuthenticator:
        """The shared authenticator for *choice*.

        Raises:
            PluginError: the plugin cannot be built.
        """
        key = choice.spec.name + json.dumps(
            options_to_conf(choice.options), sort_keys=True, default=str
        )
        with self._lock:
            item = self._items.get(key)
            if item is None:
                item = SharedAuthenticator(
                    make_plugin(
                        choice, self.layout, self.display, self.hooks, self.dry_run, self.board
                    )
                )
                self._items[key] = item
            return item

    def close(self) -> None:
        """Release whatever the authenticators still hold (ports, files)."""
        for item in self._items.values():
            try:
                item.cleanup([])
            except Exception:  # closing must not hide the run's outcome
                logger.warning("Authenticator cleanup failed", exc_info=True)


class SessionPool:
    """ACME sessions per (server, bundle, account) per thread; *connector* shares each CA's
    directory and the run's rate limit between them."""

    def __init__(
        self, store: Store, account: AccountSettings, display: Prompter, connector: CaConnector
    ) -> None:
        self.store, self.account, self.display = store, account, display
        self.connector = connector
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[Session] = []
        self._register_lock = threading.Lock()

    def get(self, ca: CaSettings, account_id: str | None, *, register: bool) -> Session:
        """A session for *ca* using *account_id* (or the CA's stored account).

        Raises:
            ConfigError: no usable account and *register* is false.
            AcmeError: the CA refused a registration.
        """
        sessions: dict[tuple[object, ...], Session] = self._local.__dict__.setdefault(
            "sessions", {}
        )
        key = (ca.server, str(ca.ca_bundle), ca.allow_origins, account_id)
        session = sessions.get(key)
        if session is not None:
            return session
        settings = AccountSettings(
            emails=self.account.emails,
            register_without_email=True,
            agree_tos=True,
            eab_kid=self.account.eab_kid,
            eab_hmac_key=self.account.eab_hmac_key,
            eab_hmac_alg=self.account.eab_hmac_alg,
            account_id=None,
        )
        if account_id and account_id in self.store.account_ids(ca.server):
            settings = AccountSettings(account_id=account_id)
        with self._register_lock:  # two threads must not register two accounts
            session = load_session(
                self.store,
                ca,
                settings,
                self.display,
                register=register,
                connector=self.connector,
            )
        sessions[key] = session
        with self._lock:
            self._all.append(session)
        return session

    def close(self) -> None:
        for session in self._all:
            session.close()


class Pools:
    """The renewal pools as the :class:`~certbot_like.services.issuance_run.Resources` of
    an issuance."""

    def __init__(self, authenticators: AuthenticatorPool, sessions: SessionPool) -> None:
        self.authenticators, self.sessions = authenticators, sessions

    def authenticator(self, choice: PluginChoice) -> SharedAuthenticator:
        return self.authenticators.get(choice)

    def session(self, ca: CaSettings, account_id: str | None, *, register: bool) -> Session:
        return self.sessions.get(ca, account_id, register=register)

    def close(self) -> None:
        self.authenticators.close()
        self.sessions.close()
