"""An in-memory CA behind the services' :class:`~certbot_like.protocol.ca.CaConnector` seam.

It keeps accounts, orders and issued certificates, signs real X.509 certificates from the
CSR (so the services' certificate checks run for real), hands the authenticator real
challenge tasks and validates HTTP-01 by reading the file the authenticator wrote under the
webroot (no network). Failures are scripted per name; ARI windows per certificate id.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certbot_like.crypto.certs import ari_cert_id
from certbot_like.errors import AcmeError, TemporaryAcmeError, ValidationFailed
from certbot_like.interfaces import HTTP01, Authenticator, ChallengeTask
from certbot_like.protocol.ari import RenewalInfo
from certbot_like.protocol.ca import CaConnector, CaMeta, CertificateAuthority
from certbot_like.protocol.issuance import IssuedCertificate, OrderRequest, allowed_challenges
from certbot_like.settings import CaSettings

SERVER = "https://ca.test/directory"
UTC = datetime.UTC


@dataclass
class Order:
    """One order as the CA saw it."""

    names: tuple[str, ...]
    account: str
    replaces: str | None
    profile: str | None
    cert_id: str | None = None


@dataclass
class MemoryCa:
    """The CA: its state, shared by every connection a run makes."""

    server: str = SERVER
    ari: bool = True
    lifetime: datetime.timedelta = datetime.timedelta(days=90)
    webroot: Path | None = None  # where HTTP-01 files are read from
    terms_of_service: str | None = "https://ca.test/tos"
    accounts: dict[str, str] = field(default_factory=dict)  # thumbprint -> account URL
    contacts: dict[str, list[str]] = field(default_factory=dict)
    orders: list[Order] = field(default_factory=list)
    revoked: list[tuple[int, int]] = field(default_factory=list)  # (serial, reason)
    fail_names: dict[str, Exception] = field(default_factory=dict)  # order with it fails
    windows: dict[str, tuple[datetime.datetime, datetime.datetime]] = field(default_factory=dict)
    replaced: set[str] = field(default_factory=set)
    connections: int = 0
    ari_queries: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._serials = itertools.count(0x1000)
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Memory CA R1")])
        now = datetime.datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def connect(self, ca: CaSettings) -> MemoryConnection:
        """A connection (the :class:`CaConnector` call the services make)."""
        if ca.server != self.server:
            raise TemporaryAcmeError(f"Cannot reach {ca.server}", "Check --server")
        with self._lock:
            self.connections += 1
        return MemoryConnection(self)

    # -- the CA's own work --------------------------------------------------------------------

    def sign(self, csr_der: bytes) -> bytes:
        csr = x509.load_der_x509_csr(csr_der)
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        now = datetime.datetime.now(UTC)
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.cert.subject)
            .public_key(csr.public_key())
            .serial_number(next(self._serials))
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now - datetime.timedelta(minutes=1) + self.lifetime)
            .add_extension(san, critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return leaf.public_bytes(serialization.Encoding.PEM) + self.cert.public_bytes(
            serialization.Encoding.PEM
        )

    def validate(self, task: ChallengeTask) -> None:
        if task.kind != HTTP01 or self.webroot is None:
            return
        answer = self.webroot / ".well-known" / "acme-challenge" / task.token
        try:
            found = answer.read_text()
        except OSError:
            found = ""
        if found.strip() != task.key_authorization:
            raise ValidationFailed(
                f"The CA could not validate {task.identifier}: 404 at {task.http_path}",
                "Check that the webroot is served",
            )


class MemoryConnection:
    """One connection of a run to :class:`MemoryCa` (the :class:`CertificateAuthority`)."""

    def __init__(self, ca: MemoryCa) -> None:
        self.ca = ca
        self.key: Any = None
        self._uri: str | None = None
        self.closed = False

    @property
    def server(self) -> str:
        return self.ca.server

    @property
    def account_uri(self) -> str | None:
        return self._uri

    def meta(self) -> CaMeta:
        return CaMeta(self.ca.terms_of_service, False, self.ca.ari)

    def use_account(self, key: Any, uri: str | None) -> None:
        self.key, self._uri = key, uri

    def _thumbprint(self, key: Any) -> str:
        return base64.urlsafe_b64encode(key.thumbprint()).decode()

    def new_account(
        self, contact: list[str], *, eab: tuple[str, str, str] | None = None
    ) -> tuple[str, dict[str, Any]]:
        with self.ca._lock:
            uri = f"https://ca.test/acct/{len(self.ca.accounts) + 1}"
            self.ca.accounts[self._thumbprint(self.key)] = uri
            self.ca.contacts[uri] = list(contact)
        self._uri = uri
        return uri, {"status": "valid", "contact": list(contact)}

    def account_of_key(self, key: Any) -> str | None:
        return self.ca.accounts.get(self._thumbprint(key))

    def fetch_account(self) -> dict[str, Any]:
        assert self._uri is not None
        return {"status": "valid", "contact": self.ca.contacts.get(self._uri, [])}

    def update_account(self, payload: Mapping[str, Any], what: str) -> dict[str, Any]:
        assert self._uri is not None
        if "contact" in payload:
            self.ca.contacts[self._uri] = list(payload["contact"])
        return {"status": payload.get("status", "valid"), "contact": self.ca.contacts[self._uri]}

    def key_change(self, new_key: Any) -> None:
        assert self._uri is not None
        with self.ca._lock:
            del self.ca.accounts[self._thumbprint(self.key)]
            self.ca.accounts[self._thumbprint(new_key)] = self._uri
        self.key = new_key

    def issue(self, request: OrderRequest, authenticator: Authenticator) -> IssuedCertificate:
        assert self._uri is not None, "an order needs an account"
        names = tuple(i.value for i in request.identifiers)
        for name in names:
            if name in self.ca.fail_names:
                raise self.ca.fail_names[name]
        replaces = request.replaces
        if replaces is not None and replaces in self.ca.replaced:
            replaces = None  # alreadyReplaced: the client orders again without it
        order = Order(names, self._uri, replaces, request.profile)
        thumbprint = self._thumbprint(self.key)
        tasks = []
        for ident in request.identifiers:
            kind = allowed_challenges(ident, authenticator, request.preferred_challenges)[0]
            token = hashlib.sha256(f"{ident}{len(self.ca.orders)}".encode()).hexdigest()[:43]
            tasks.append(ChallengeTask(ident, kind, token, f"{token}.{thumbprint}"))
        authenticator.perform(tasks)
        try:
            for task in tasks:
                self.ca.validate(task)
        finally:
            authenticator.cleanup(tasks)
        fullchain = self.ca.sign(request.csr_der)
        leaf = x509.load_pem_x509_certificate(fullchain)
        order.cert_id = ari_cert_id(leaf)
        with self.ca._lock:
            self.ca.orders.append(order)
            if replaces:
                self.ca.replaced.add(replaces)
        return IssuedCertificate(fullchain, f"https://ca.test/order/{len(self.ca.orders)}")

    def renewal_info(self, cert_id: str) -> RenewalInfo | None:
        if not self.ca.ari:
            return None
        with self.ca._lock:
            self.ca.ari_queries += 1
        now = datetime.datetime.now(UTC)
        start, end = self.ca.windows.get(
            cert_id, (now + datetime.timedelta(days=60), now + datetime.timedelta(days=61))
        )
        return RenewalInfo(start, end, now + datetime.timedelta(hours=6))

    def revoke(self, cert_der: bytes, reason: int, *, cert_key: Any | None = None) -> None:
        serial = x509.load_der_x509_certificate(cert_der).serial_number
        if any(s == serial for s, _ in self.ca.revoked):
            raise AcmeError("The CA refused the revocation: alreadyRevoked", "Nothing to do")
        self.ca.revoked.append((serial, reason))

    def close(self) -> None:
        self.closed = True


def _contract_check(ca: MemoryCa) -> tuple[CaConnector, CertificateAuthority]:
    """mypy checks here that the fake keeps the seam's contract."""
    return ca, ca.connect(CaSettings(server=ca.server))
