"""The seam between the services and a CA: :class:`CertificateAuthority`.

Services never see JWS, nonces, HTTP or the directory object; they ask a
:class:`CertificateAuthority` for what RFC 8555 offers (accounts, an issued certificate,
renewal information, revocation, key change). :class:`AcmeCa` is the real one, on top of
:class:`~certbot_like.protocol.client.AcmeClient` and
:class:`~certbot_like.protocol.issuance.Issuer`; the service unit tests use an in-memory one.

A :class:`CaConnector` makes the connections of one run: it shares each CA's directory
between them (fetched once per run) and one request rate limit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

    from certbot_like.interfaces import Authenticator
    from certbot_like.protocol.ari import RenewalInfo
    from certbot_like.protocol.client import AcmeClient, Directory
    from certbot_like.protocol.http import RateLimiter
    from certbot_like.protocol.issuance import IssuedCertificate, OrderRequest
    from certbot_like.settings import CaSettings


@dataclass(frozen=True)
class CaMeta:
    """What the CA's directory says that the services decide on."""

    terms_of_service: str | None
    eab_required: bool
    ari: bool


class CertificateAuthority(Protocol):
    """One connection to one CA, holding at most one account key.

    Account keys are opaque to the services (josepy JWKs from
    :mod:`certbot_like.protocol.account_keys`).
    """

    @property
    def server(self) -> str:
        """The directory URL."""
        ...

    @property
    def account_uri(self) -> str | None:
        """The loaded account's URL (None before registration)."""
        ...

    def meta(self) -> CaMeta:
        """The directory's facts (fetched once per run).

        Raises:
            AcmeError, TemporaryAcmeError: the directory cannot be read.
        """
        ...

    def use_account(self, key: Any, uri: str | None) -> None:
        """Sign with *key* from now on, as account *uri* (None: not yet registered)."""
        ...

    def new_account(
        self, contact: list[str], *, eab: tuple[str, str, str] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Register the loaded key (terms of service agreed); returns (URL, account object).

        Raises:
            AcmeError: the CA refused.
        """
        ...

    def account_of_key(self, key: Any) -> str | None:
        """The URL of the account *key* belongs to, or None (``onlyReturnExisting``).

        Raises:
            AcmeError: the CA could not answer.
        """
        ...

    def fetch_account(self) -> dict[str, Any]:
        """The loaded account as the CA reports it now.

        Raises:
            AcmeError: unknown or deactivated account.
        """
        ...

    def update_account(self, payload: Mapping[str, Any], what: str) -> dict[str, Any]:
        """Change the account (contact, status); returns the new account object.

        Raises:
            AcmeError: the CA refused.
        """
        ...

    def key_change(self, new_key: Any) -> None:
        """Replace the account key (RFC 8555 section 7.3.5); signs with *new_key* after.

        Raises:
            AcmeError: refused; TemporaryAcmeError: no answer (the CA may have switched).
        """
        ...

    def issue(self, request: OrderRequest, authenticator: Authenticator) -> IssuedCertificate:
        """Order, validate with *authenticator*, finalize and download.

        Raises:
            UsageError, ValidationFailed, AcmeError, ProtocolViolation, TemporaryAcmeError:
            see :meth:`certbot_like.protocol.issuance.Issuer.issue`.
        """
        ...

    def renewal_info(self, cert_id: str) -> RenewalInfo | None:
        """ARI for *cert_id*; None when the CA offers none.

        Raises:
            AcmeError, ProtocolViolation: a bad answer.
        """
        ...

    def revoke(self, cert_der: bytes, reason: int, *, cert_key: Any | None = None) -> None:
        """Revoke, signed by the account or by *cert_key* (the certificate's own key).

        Raises:
            AcmeError: the CA refused.
        """
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class CaConnector(Protocol):
    """Makes the CA connections of one run."""

    def connect(self, ca: CaSettings) -> CertificateAuthority:
        """A connection to *ca* with no account loaded (nothing is sent yet).

        Raises:
            UsageError: the server URL is not HTTPS.
        """
        ...


class AcmeCa:
    """:class:`CertificateAuthority` over RFC 8555 with :class:`AcmeClient`."""

    def __init__(self, client: AcmeClient, shared: AcmeConnector | None = None) -> None:
        self.client = client
        self._shared = shared
        self._ready = shared is None

    @property
    def server(self) -> str:
        return self.client.directory_url

    @property
    def account_uri(self) -> str | None:
        return self.client.kid

    def _directory(self) -> Directory:
        if not self._ready and self._shared is not None:
            self._shared.share_directory(self.client)
            self._ready = True
        return self.client.directory

    def meta(self) -> CaMeta:
        directory = self._directory()
        return CaMeta(
            terms_of_service=directory.terms_of_service,
            eab_required=directory.eab_required,
            ari=directory.renewal_info is not None,
        )

    def use_account(self, key: Any, uri: str | None) -> None:
        self.client.set_account(key, uri)

    def new_account(
        self, contact: list[str], *, eab: tuple[str, str, str] | None = None
    ) -> tuple[str, dict[str, Any]]:
        self._directory()
        return self.client.new_account(contact, tos_agreed=True, eab=eab)

    def account_of_key(self, key: Any) -> str | None:
        from certbot_like.errors import AcmeError
        from certbot_like.protocol.client import AcmeClient

        probe = AcmeClient(
            self.client.transport, self.client.directory_url, self.client.allow_origins
        )
        probe.use_directory(self._directory())
        probe.set_account(key, None)
        try:
            uri, _ = probe.new_account([], tos_agreed=False, only_existing=True)
        except AcmeError as exc:
            if exc.problem_type == "accountDoesNotExist":
                return None
            raise
        return uri

    def fetch_account(self) -> dict[str, Any]:
        from certbot_like.errors import UsageError

        kid = self.client.kid
        if kid is None:
            raise UsageError("No account is registered with this CA", "Run `certbot-like register`")
        self._directory()
        return self.client.post_as_get(kid, what="the account lookup").json_object()

    def update_account(self, payload: Mapping[str, Any], what: str) -> dict[str, Any]:
        self._directory()
        return self.client.update_account(payload, what)

    def key_change(self, new_key: Any) -> None:
        self._directory()
        self.client.key_change(new_key)

    def issue(self, request: OrderRequest, authenticator: Authenticator) -> IssuedCertificate:
        from certbot_like.protocol.issuance import Issuer

        self._directory()
        return Issuer(self.client, authenticator).issue(request)

    def renewal_info(self, cert_id: str) -> RenewalInfo | None:
        from certbot_like.protocol.ari import fetch_renewal_info

        self._directory()
        return fetch_renewal_info(self.client, cert_id)

    def revoke(self, cert_der: bytes, reason: int, *, cert_key: Any | None = None) -> None:
        self._directory()
        self.client.revoke(cert_der, reason, cert_key=cert_key)

    def close(self) -> None:
        self.client.transport.close()


class AcmeConnector:
    """Connections to real CAs: one transport each, one rate limit and one directory fetch
    per CA for the whole run."""

    def __init__(self, limiter: RateLimiter | None = None) -> None:
        self.limiter = limiter
        self._directories: dict[str, Directory] = {}
        self._lock = threading.Lock()

    def connect(self, ca: CaSettings) -> AcmeCa:
        from certbot_like.protocol.client import AcmeClient
        from certbot_like.protocol.http import UNLIMITED, Transport, check_server_url

        check_server_url(ca.server)
        transport = Transport(
            ca.ca_bundle, ca.http_timeout, self.limiter or UNLIMITED, ca.user_agent
        )
        return AcmeCa(AcmeClient(transport, ca.server, ca.allow_origins), self)

    def share_directory(self, client: AcmeClient) -> None:
        """Give *client* its CA's directory, fetching it only once per run.

        Raises:
            AcmeError, TemporaryAcmeError: the directory cannot be fetched.
        """
        with self._lock:
            directory = self._directories.get(client.directory_url)
        if directory is not None:
            client.use_directory(directory)
            return
        fetched = client.directory
        with self._lock:
            self._directories.setdefault(client.directory_url, fetched)
