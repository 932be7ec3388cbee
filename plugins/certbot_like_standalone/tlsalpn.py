"""The TLS-ALPN-01 server (RFC 8737, RFC 8738 for IP addresses).

For each identifier being validated the server holds an :class:`ssl.SSLContext` with a
self-signed certificate whose only subjectAltName is the identifier and which carries the
critical acmeIdentifier extension (the SHA-256 of the key authorization). The SNI callback
picks the context by name; unknown or missing names abort the handshake. Only ALPN
``acme-tls/1`` is offered. After the handshake the connection is closed.

Python's :mod:`ssl` loads certificates from files only: each PEM (key and certificate) is
written into a private temporary directory, loaded, and deleted at once.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import secrets
import shutil
import socket
import ssl
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from certbot_like.errors import PluginError
from certbot_like.interfaces import Identifier

from .listener import Listener

logger = logging.getLogger(__name__)

ALPN_PROTOCOL = "acme-tls/1"
ACME_IDENTIFIER_OID = ObjectIdentifier("1.3.6.1.5.5.7.1.31")
_VALIDITY = datetime.timedelta(days=7)


def sni_name(identifier: Identifier) -> str:
    """The SNI name the CA sends for *identifier* (reverse-DNS name for an IP, RFC 8738)."""
    if identifier.kind == "ip":
        return ipaddress.ip_address(identifier.value).reverse_pointer
    return identifier.value.rstrip(".").lower()


def acme_identifier_value(digest: bytes) -> bytes:
    """DER encoding of the acmeIdentifier extension value: OCTET STRING (SIZE (32))."""
    if len(digest) != 32:
        raise ValueError("the acmeIdentifier digest must be 32 bytes (SHA-256)")
    return b"\x04\x20" + digest


def challenge_certificate(
    identifier: Identifier, digest: bytes, key: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    """A self-signed TLS-ALPN-01 certificate for *identifier* carrying *digest*.

    Raises:
        ValueError: *identifier* is not a valid DNS name or IP address, or the digest is
            not 32 bytes.
    """
    san: x509.GeneralName
    if identifier.kind == "ip":
        san = x509.IPAddress(ipaddress.ip_address(identifier.value))
    else:
        san = x509.DNSName(identifier.value.rstrip("."))
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ACME TLS-ALPN-01 challenge")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(
            x509.UnrecognizedExtension(ACME_IDENTIFIER_OID, acme_identifier_value(digest)),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )


def _server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols([ALPN_PROTOCOL])
    context.num_tickets = 0
    return context


class TlsAlpnServer:
    """Serves TLS-ALPN-01 certificates by SNI name on a listening socket it owns.

    *work_dir* is where the private temporary directory for the PEM files is created.
    """

    def __init__(self, sock: socket.socket, work_dir: Path) -> None:
        self._work_dir = work_dir
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._default = _server_context()
        self._default.sni_callback = self._select
        self._listener = Listener(sock, _handshake, name="standalone-tls-alpn-01", wrap=self._wrap)

    @property
    def address(self) -> tuple[Any, ...]:
        """The socket address served (host, port, ...)."""
        return self._listener.address

    def add(self, identifier: Identifier, digest: bytes) -> None:
        """Present a challenge certificate for *identifier* carrying *digest*.

        Raises:
            PluginError: the certificate cannot be made or written under the work dir.
        """
        try:
            cert = challenge_certificate(identifier, digest, self._key)
        except ValueError as exc:
            raise PluginError(
                f"Cannot make a TLS-ALPN-01 certificate for {identifier}: {exc}"
            ) from None
        context = _server_context()
        self._load(context, cert)
        self._contexts = {**self._contexts, sni_name(identifier): context}

    def remove(self, identifier: Identifier) -> None:
        """Stop answering for *identifier* (unknown identifiers are ignored)."""
        name = sni_name(identifier)
        self._contexts = {k: v for k, v in self._contexts.items() if k != name}

    def start(self) -> None:
        """Start serving; return when connections are being accepted (idempotent).

        Raises:
            RuntimeError: the server was already stopped.
        """
        self._listener.start()

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent, fast)."""
        self._listener.stop()

    def _load(self, context: ssl.SSLContext, cert: x509.Certificate) -> None:
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ) + cert.public_bytes(serialization.Encoding.PEM)
        try:
            self._work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = tempfile.mkdtemp(prefix="standalone-tls-alpn-", dir=self._work_dir)
        except OSError as exc:
            raise PluginError(
                f"Cannot create a private directory under {self._work_dir}: {exc.strerror or exc}",
                "Check that the work directory (--work-dir) is writable",
            ) from None
        try:
            path = os.path.join(tmp, "challenge.pem")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
            context.load_cert_chain(path)
        except (OSError, ssl.SSLError) as exc:
            raise PluginError(
                f"Cannot write the TLS-ALPN-01 certificate under {tmp}: {exc}"
            ) from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _wrap(self, conn: socket.socket) -> socket.socket:
        return self._default.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)

    def _select(
        self, ssl_object: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: Any
    ) -> int | None:
        context = self._contexts.get((server_name or "").rstrip(".").lower())
        if context is None:
            logger.debug("tls-alpn-01: no certificate for SNI %r", server_name)
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        ssl_object.context = context
        return None


def _handshake(conn: socket.socket) -> None:
    if not isinstance(conn, ssl.SSLSocket):  # pragma: no cover - the listener wraps
        return
    conn.do_handshake()
    logger.debug(
        "tls-alpn-01: handshake with %s done (ALPN %r)",
        conn.getpeername(),
        conn.selected_alpn_protocol(),
    )
