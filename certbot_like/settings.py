"""Frozen settings the CLI builds once and hands to the services (no global namespace)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certbot_like.deploy.settings import DeploySettings
from certbot_like.interfaces import Identifier, PluginSpec
from certbot_like.keyspec import KeySpec
from certbot_like.storage.layout import Layout

if TYPE_CHECKING:
    from certbot_like.protocol.ca import CaConnector
    from certbot_like.storage.store import Store

LE_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
LE_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"


@dataclass(frozen=True)
class CaSettings:
    """Which CA, how to trust it, and how long to wait for one HTTP answer.

    ``allow_origins``: origins besides the server's that the CA may point the client at
    (``--ca-allow-origin``, normalised ``https://host[:port]``).
    """

    server: str = LE_PRODUCTION
    ca_bundle: Path | None = None
    allow_origins: tuple[str, ...] = ()
    http_timeout: float = 30.0
    issuance_timeout: float = 180.0
    user_agent: str | None = None  # None: certbot-like/VERSION


@dataclass(frozen=True)
class AccountSettings:
    """How to find or register the ACME account."""

    emails: tuple[str, ...] = ()
    register_without_email: bool = False
    agree_tos: bool = False
    eab_kid: str | None = None
    eab_hmac_key: str | None = field(default=None, repr=False)
    eab_hmac_alg: str = "HS256"
    account_id: str | None = None

    @property
    def eab(self) -> tuple[str, str, str] | None:
        if self.eab_kid and self.eab_hmac_key:
            return (self.eab_kid, self.eab_hmac_key, self.eab_hmac_alg)
        return None


@dataclass(frozen=True)
class PluginChoice:
    """A selected plugin with its options; ``user_set`` fields are stored in the renewal conf."""

    spec: PluginSpec
    options: Any
    user_set: frozenset[str] = frozenset()
    debug_challenges: bool = False  # an authenticator that pauses before validation


@dataclass(frozen=True)
class HookSettings:
    """Operator hooks (``--pre-hook``, ``--post-hook``, ``--deploy-hook``) and their timeout."""

    pre_hook: str | None = None
    post_hook: str | None = None
    deploy_hook: str | None = None
    timeout: float = 300.0
    directory_hooks: bool = True  # run renewal-hooks/{pre,deploy,post}/ (--no-directory-hooks)
    run_deploy_hooks: bool = False  # deploy hooks in a dry run too (--run-deploy-hooks)


@dataclass(frozen=True)
class CsrOutput:
    """Where ``--csr`` mode writes the certificate (no lineage is created)."""

    cert_path: Path | None = None
    fullchain_path: Path | None = None
    chain_path: Path | None = None


@dataclass(frozen=True)
class CertRequest:
    """One ``obtain``: the names and everything about the certificate to get."""

    identifiers: tuple[Identifier, ...]
    authenticator: PluginChoice
    installer: PluginChoice | None = None
    cert_name: str | None = None
    key: KeySpec = KeySpec()
    key_user_set: frozenset[str] = frozenset()
    reuse_key: bool = False
    new_key: bool = False
    preferred_challenges: tuple[str, ...] = ()
    preferred_chain: str | None = None
    profile: str | None = None
    profile_required: bool = True
    force_renewal: bool = False
    expand: bool = False
    duplicate: bool = False  # a new lineage even when one has the same names
    allow_subset_of_names: bool = False  # drop names that fail validation (stored)
    autorenew: bool = True  # False: stored as autorenew = False, renew skips the lineage
    csr_der: bytes | None = None
    csr_public_key: bytes | None = None
    csr_output: CsrOutput = CsrOutput()
    hooks: HookSettings = HookSettings()
    renew_before_expiry: str | None = None
    deploy: DeploySettings = DeploySettings()  # --deploy-to targets (stored)
    notify: tuple[str, ...] = ()  # this lineage's own notification URLs (stored)
    install: bool = False  # deploy with the installer after storing (obtain/run, not certonly)
    redirect: bool = False
    hsts: bool = False


@dataclass(frozen=True)
class RunSettings:
    """What every command shares: directories, CA, account, interaction, dry run."""

    layout: Layout
    ca: CaSettings
    account: AccountSettings
    non_interactive: bool = False
    quiet: bool = False
    dry_run: bool = False
    verbosity: int = 0
    store_impl: Store | None = None  # None: certbot's file layout under ``layout``
    ca_impl: CaConnector | None = None  # None: real CAs over RFC 8555
    store_url: str | None = None  # ``--store``: a fleet's PostgreSQL
    store_key_file: Path | None = None  # None: CONFIG_DIR/store.key
    node_name: str = ""  # "": the host name
    store_lease: float = 300.0

    def connector(self, max_requests_per_second: float = 0) -> CaConnector:
        """What connects to the CAs for one run (one rate limit for all its requests)."""
        if self.ca_impl is not None:
            return self.ca_impl
        from certbot_like.protocol.ca import AcmeConnector
        from certbot_like.protocol.http import RateLimiter

        return AcmeConnector(RateLimiter(max_requests_per_second))

    @functools.cached_property
    def store(self) -> Store:
        """Where lineages, accounts and renewal state live (built once per run)."""
        if self.store_impl is not None:
            return self.store_impl
        if self.store_url:
            import socket

            from certbot_like.storage.pg_store import PgStore

            return PgStore(
                self.store_url,
                self.layout,
                self.store_key_file or self.layout.config_dir / "store.key",
                self.node_name or socket.gethostname(),
                lease_seconds=self.store_lease,
            )
        from certbot_like.storage.file_store import FileStore

        return FileStore(self.layout)
