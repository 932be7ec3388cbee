"""Real challenge validation (``auto_valid=False``), all against 127.0.0.1.

* http-01 (RFC 8555 section 8.3): ``GET /.well-known/acme-challenge/<token>`` on the CA's
  ``http_port`` with ``Host: <name>``; the body, whitespace-trimmed, must be the key
  authorization. No redirects are followed.
* tls-alpn-01 (RFC 8737): TLS to ``tls_port`` with SNI *name* and ALPN ``acme-tls/1``; the
  self-signed certificate must name exactly *name* and carry the critical acmeIdentifier
  extension holding SHA-256 of the key authorization.
* dns-01 (section 8.4): there is no resolver; the TXT values are looked up in a dict the test
  fills (``ca.txt_records["_acme-challenge.example.test"] = [...]``).

Each returns None when valid, else the problem document to put into the challenge.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import socket
import ssl
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from tests.harness.fakeca.model import ACME_ERROR

ACME_IDENTIFIER_OID = ObjectIdentifier("1.3.6.1.5.5.7.1.31")
TIMEOUT = 5.0


def _problem(kind: str, detail: str) -> dict[str, Any]:
    return {"type": ACME_ERROR + kind, "detail": detail, "status": 403}


def validate_http01(port: int, name: str, token: str, key_auth: str) -> dict[str, Any] | None:
    path = "/.well-known/acme-challenge/" + quote(token, safe="")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", path, headers={"Host": name, "Accept": "*/*"})
        resp = conn.getresponse()
        body = resp.read(8192)
    except (OSError, http.client.HTTPException) as exc:
        return _problem("connection", f"127.0.0.1:{port}: fetching {path}: {exc}")
    finally:
        conn.close()
    if resp.status != 200:
        return _problem("unauthorized", f"Invalid response from {path}: HTTP {resp.status}")
    if body.strip() != key_auth.encode():
        shown = body[:64].decode("utf-8", "replace")
        return _problem("incorrectResponse", f"The key authorization file holds {shown!r}")
    return None


def validate_tls_alpn01(port: int, name: str, key_auth: str) -> dict[str, Any] | None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["acme-tls/1"])
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw,
            ctx.wrap_socket(raw, server_hostname=name) as tls,
        ):
            alpn = tls.selected_alpn_protocol()
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        return _problem("tls", f"127.0.0.1:{port}: TLS with SNI {name}: {exc}")
    if alpn != "acme-tls/1" or der is None:
        return _problem("unauthorized", f"No acme-tls/1 certificate for {name} (ALPN {alpn})")
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        ext = cert.extensions.get_extension_for_oid(ACME_IDENTIFIER_OID)
    except x509.ExtensionNotFound:
        return _problem("unauthorized", "The acme-tls/1 certificate lacks SAN or acmeIdentifier")
    digest = hashlib.sha256(key_auth.encode()).digest()
    value = ext.value
    raw_value = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
    if san.get_values_for_type(x509.DNSName) != [name] or not ext.critical:
        return _problem("unauthorized", f"The acme-tls/1 certificate does not name only {name}")
    if raw_value != b"\x04\x20" + digest:
        return _problem("incorrectResponse", "The acmeIdentifier extension has the wrong digest")
    return None


def validate_dns01(
    records: Mapping[str, Sequence[str]], name: str, key_auth: str
) -> dict[str, Any] | None:
    expected = (
        base64.urlsafe_b64encode(hashlib.sha256(key_auth.encode()).digest()).decode().rstrip("=")
    )
    qname = "_acme-challenge." + name
    found = list(records.get(qname, ()))
    if expected in found:
        return None
    if not found:
        return _problem("dns", f"No TXT record found at {qname}")
    return _problem("incorrectResponse", f"No TXT record at {qname} matches the key authorization")
