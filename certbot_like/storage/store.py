"""The storage contract: what the services may ask of a certificate store.

Services never see a path under the config directory, a file name or the conf format; they
speak to a :class:`Store`. Two implementations pass the same contract tests
(``tests/unit/test_store_contract.py``):

- :class:`~certbot_like.storage.file_store.FileStore`: certbot's layout (``accounts/``,
  ``archive/``, ``live/``, ``renewal/``), the embedded default, readable by certbot;
- :class:`~certbot_like.storage.memory_store.MemoryStore`: in memory, for fast unit tests of
  the services (and the shape a database store follows).

The rules every implementation keeps (certmagic's "lock, then re-read, then act"):

- a new version of a lineage is stored all-or-nothing, and only if the lineage is still at
  the version the caller read (compare-and-swap, :class:`~certbot_like.errors.StorageError`
  otherwise), so a writer whose lock lapsed never overwrites a newer version;
- private keys are stored readable by the owner only;
- :meth:`Store.change_token` is cheap (no parsing) and changes whenever anything
  :meth:`Store.lineage_facts` reports could have changed.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from certbot_like.storage.renewal_params import RenewalParams
from certbot_like.storage.renewal_state import RenewalState

KINDS = ("cert", "privkey", "chain", "fullchain")


@dataclass(frozen=True)
class CertFiles:
    """The PEM contents of one version of a lineage."""

    privkey: bytes
    cert: bytes
    chain: bytes
    fullchain: bytes

    def by_kind(self) -> dict[str, bytes]:
        return {
            "privkey": self.privkey,
            "cert": self.cert,
            "chain": self.chain,
            "fullchain": self.fullchain,
        }

    def __repr__(self) -> str:  # never print the key
        return "CertFiles(...)"


@dataclass(frozen=True)
class Lineage:
    """A lineage as stored: its typed parameters, its versions and what is wrong with it.

    ``live`` maps each kind to where the current file is visible on this machine (what a
    web server or a deploy hook reads); ``location`` is what to show a person looking for
    the lineage's settings (the renewal conf's path for :class:`FileStore`).
    """

    name: str
    params: RenewalParams
    live: Mapping[str, Path]
    location: str
    version: int | None
    problems: tuple[str, ...] = ()
    # the stored versions, or how to list them (read only when asked: listing certbot's
    # archive/ directory is the most costly part of reading a lineage that `certificates`
    # and `renew` never need)
    version_list: tuple[int, ...] | Callable[[], tuple[int, ...]] = field(
        default=(), compare=False, repr=False
    )

    @functools.cached_property
    def versions(self) -> tuple[int, ...]:
        """Every stored version of the lineage, oldest first."""
        source = self.version_list
        return source() if callable(source) else source

    @property
    def live_dir(self) -> Path:
        return self.live["cert"].parent


# ``[renewalparams]`` key: the serial (hex) of a certificate certbot-like revoked while
# keeping its lineage. certbot 5.8 ignores the key (tests/integration/test_revoked.py).
REVOKED_SERIAL_KEY = "revoked_serial"


def revoked_in(params: RenewalParams, serial: str | None) -> bool:
    """Whether *params* record that the certificate with *serial* was revoked."""
    return serial is not None and str(params.extra.get(REVOKED_SERIAL_KEY) or "") == serial


@dataclass(frozen=True)
class LineageFacts:
    """What the renewal scan needs of a lineage, read from its conf and current certificate.

    ``hint`` is the store's own memo for computing the next change token cheaply.
    """

    names: list[str]
    not_before: datetime.datetime
    not_after: datetime.datetime
    serial: str
    cert_id: str
    server: str | None
    renew_before_expiry: str | None
    hint: str | None = None
    autorenew: bool = True  # False: ``autorenew = False`` in the conf; renew skips it
    revoked: bool = False  # certbot-like revoked this certificate (renew renews it)


def facts_from_pem(
    cert_pem: bytes, params: RenewalParams, source: str, hint: str | None = None
) -> LineageFacts:
    """The scan facts of a lineage from its current certificate and settings.

    Raises:
        StorageError: *cert_pem* is not a readable certificate (*source* names it).
    """
    from certbot_like.crypto.cert_facts import ari_cert_id, certificate_facts
    from certbot_like.errors import StorageError

    cert = certificate_facts(cert_pem)  # cryptography only when the DER walker is unsure
    if cert is None:
        raise StorageError(
            f"{source} is not a readable certificate", "Restore it or delete the lineage"
        )
    serial = format(cert.serial, "x")
    return LineageFacts(
        names=[value for _, value in cert.identifiers],
        not_before=cert.not_before,
        not_after=cert.not_after,
        serial=serial,
        cert_id=ari_cert_id(cert),
        server=params.server,
        renew_before_expiry=params.renew_before_expiry,
        hint=hint,
        autorenew=params.autorenew is not False,
        revoked=revoked_in(params, serial),
    )


@dataclass
class StoredAccount:
    """An ACME account; ``key_jwk`` is the private JWK as a JSON object (never printed)."""

    account_id: str
    server: str
    uri: str
    key_jwk: dict[str, Any]
    body: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"StoredAccount(id={self.account_id!r}, uri={self.uri!r})"


class LineageLock(Protocol):
    """An exclusive per-lineage lock held by this process (and thread) only."""

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False when another run holds it.

        Raises:
            StorageError: the lock cannot be created.
        """
        ...

    def release(self) -> None: ...


class Store(Protocol):
    """Lineages, accounts, renewal state and locks of one installation."""

    @property
    def description(self) -> str:
        """Where the store is, for messages (``/etc/letsencrypt``, a database URL)."""
        ...

    # -- lineages ----------------------------------------------------------------------------

    def lineage_names(self) -> list[str]:
        """Every lineage's name, sorted.

        Raises:
            ConfigError: the store cannot be listed.
        """
        ...

    def orphan_certificates(self) -> list[str]:
        """Certificates stored without lineage settings (for certbot's layout: a ``live/NAME``
        with no ``renewal/NAME.conf``): nothing renews them. Never raises."""
        ...

    def has_lineage(self, name: str) -> bool:
        """Whether a lineage called *name* exists (invalid names never do)."""
        ...

    def read_lineage(self, name: str) -> Lineage:
        """The lineage *name* with its parameters, versions and problems.

        Raises:
            UsageError: no lineage has that name (or the name is invalid).
            ConfigError: its settings cannot be parsed.
        """
        ...

    def read_files(
        self, name: str, version: int | None = None, *, kinds: Collection[str] = KINDS
    ) -> CertFiles:
        """The PEM files of the current version (or *version*) of lineage *name*; kinds not
        in *kinds* may be left empty (a caller that needs only the certificate reads less).

        Raises:
            StorageError: a file is missing or unreadable.
        """
        ...

    def change_token(self, name: str, hint: str | None) -> str | None:
        """A cheap token that changes when the lineage's conf or current certificate does.

        *hint* is the ``hint`` of the last :class:`LineageFacts`; None when it is unknown
        or stale, in which case the caller reads the facts again.

        Raises:
            StorageError: the lineage cannot be looked at.
        """
        ...

    def lineage_facts(self, name: str) -> LineageFacts:
        """Parse the lineage's settings and current certificate (the expensive part).

        Raises:
            ConfigError: the settings cannot be parsed.
            StorageError: the certificate is missing or unreadable.
        """
        ...

    def prepare_writes(self) -> None:
        """Prove the store accepts writes and clear what a killed run left, before any CA
        request (call under the run lock).

        Raises:
            StorageError: read-only, full or not permitted.
        """
        ...

    def save_version(
        self,
        name: str,
        files: CertFiles,
        params: RenewalParams,
        *,
        expect_version: int | None,
    ) -> Lineage:
        """Store *files* as the next version of *name* (new or existing), make it current and
        store *params*, all or nothing.

        *expect_version* is the current version the caller read (None for a new lineage):
        when the lineage has moved on meanwhile nothing is written.

        Raises:
            StorageError: the write failed or the lineage changed meanwhile; the previous
                version is still current.
            ConfigError: *params* cannot be stored.
        """
        ...

    def write_params(self, name: str, params: RenewalParams) -> None:
        """Replace the stored parameters of *name* (its certificates are untouched).

        Raises:
            UsageError: no such lineage.
            StorageError, ConfigError: the write failed; the old parameters are intact.
        """
        ...

    def delete_lineage(self, name: str) -> list[str]:
        """Remove the lineage: first what makes it exist, then its files. A lineage whose
        settings cannot be parsed can still be deleted.

        Returns:
            What was removed, for the operator.

        Raises:
            UsageError: no such lineage.
            ConfigError: its settings point outside the store (nothing is removed).
            StorageError: it cannot be removed.
        """
        ...

    def unused_name(self, name: str) -> str:
        """*name*, or *name*-0001, -0002 ... as certbot does when *name* is taken.

        Raises:
            StorageError: all 9,999 suffixes are taken.
        """
        ...

    # -- accounts ----------------------------------------------------------------------------

    def account_ids(self, server: str) -> list[str]:
        """Ids of the complete accounts stored for *server*, oldest first.

        Raises:
            StorageError: the accounts cannot be listed.
        """
        ...

    def load_account(self, server: str, account_id: str) -> StoredAccount:
        """One account of *server*.

        Raises:
            ConfigError: it does not exist or is malformed.
        """
        ...

    def save_account(self, account: StoredAccount) -> None:
        """Store an account (its key owner-only).

        Raises:
            StorageError: the write failed.
        """
        ...

    def save_registration(self, account: StoredAccount) -> None:
        """Store the account's registration (contact, status) after a change at the CA.

        Raises:
            StorageError: the write failed.
        """
        ...

    def pending_account_key(self, server: str, account_id: str) -> dict[str, Any] | None:
        """The new key of an unfinished key rollover of the account, if one is stored.

        Raises:
            ConfigError: it is stored but unreadable.
        """
        ...

    def save_pending_account_key(self, server: str, account_id: str, jwk: dict[str, Any]) -> str:
        """Store the rollover's new key durably beside the account's key.

        Returns:
            Where it is, for a message that tells the operator.

        Raises:
            StorageError: the write failed.
        """
        ...

    def drop_pending_account_key(self, server: str, account_id: str) -> None:
        """Forget the pending key (and the emptied account entry, once moved).

        Raises:
            StorageError: it cannot be removed.
        """
        ...

    def moved_pending_keys(self, server: str) -> list[tuple[str, dict[str, Any]]]:
        """(old id, new key) of rollovers that stopped after the account was stored under its
        new id, and before the pending key was dropped.

        Raises:
            ConfigError: a pending key is unreadable.
        """
        ...

    def replace_account_key(
        self, account: StoredAccount, new_id: str, new_key: dict[str, Any]
    ) -> None:
        """Store *account* under *new_id* with *new_key*, then remove the old entry's key
        and registration (the pending key stays until dropped).

        Raises:
            StorageError: the new entry could not be written (the old one is kept).
        """
        ...

    # -- renewal state and locks -------------------------------------------------------------

    def load_state(self) -> RenewalState:
        """The renewal state (empty when none or unreadable: it only costs a full scan)."""
        ...

    def save_state(self, state: RenewalState, keep: set[str] | None = None) -> None:
        """Store *state* if it changed, keeping only the lineages in *keep* when given.

        Raises:
            StorageError: the write failed.
        """
        ...

    def run_lock(self) -> contextlib.AbstractContextManager[object]:
        """The installation-wide lock of one run (shared with certbot for FileStore).

        Raises:
            LockError: another run holds it (on entering).
        """
        ...

    def lineage_lock(self, name: str) -> LineageLock:
        """The lock that one renewal of *name* holds."""
        ...

    def hook_dir(self, stage: str) -> Path:
        """The directory of executables run at *stage* (``pre``, ``deploy``, ``post``)."""
        ...
