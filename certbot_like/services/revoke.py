"""Revoking certificates (RFC 8555 section 7.6) with the account key or the certificate's
own key; revocation reasons under certbot's names."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certbot_like.errors import (
    CertbotLikeError,
    StorageError,
    UsageError,
)
from certbot_like.protocol.ca import CertificateAuthority
from certbot_like.services.accounts import Prompter
from certbot_like.services.delete import delete_lineage
from certbot_like.services.renew_request import ca_for
from certbot_like.settings import (
    AccountSettings,
    CaSettings,
    RunSettings,
)
from certbot_like.storage.atomic import storage_error
from certbot_like.storage.renewal_params import RenewalParams
from certbot_like.storage.store import Store

logger = logging.getLogger(__name__)

# RFC 5280 section 5.3.1 codes under certbot's names (the codes ACME CAs accept for --reason).
REVOCATION_REASONS: dict[str, int] = {
    "unspecified": 0,
    "keyCompromise": 1,
    "affiliationChanged": 3,
    "superseded": 4,
    "cessationOfOperation": 5,
}
_REASON_BY_FOLDED = {name.lower(): code for name, code in REVOCATION_REASONS.items()}
REASON_NAMES = {code: name for name, code in REVOCATION_REASONS.items()}


# -- revocation ------------------------------------------------------------------------------


def parse_reason(text: str) -> int:
    """A revocation reason by name, case-insensitively (``keyCompromise``, ``keycompromise``).

    ``-`` and ``_`` are ignored, so ``key-compromise`` works too.

    Raises:
        UsageError: not one of :data:`REVOCATION_REASONS`.
    """
    folded = text.strip().lower().replace("-", "").replace("_", "")
    code = _REASON_BY_FOLDED.get(folded)
    if code is None:
        shown = text if len(text) <= 40 and text.isprintable() else text[:37] + "..."
        raise UsageError(
            f"Unknown revocation reason {shown!r}",
            f"Use one of {', '.join(REVOCATION_REASONS)}",
        )
    return code


@dataclass(frozen=True)
class RevocationTarget:
    """A certificate to revoke and the lineage it belongs to, if any.

    ``lineage`` is set only when the certificate is that lineage's current one (the lineage
    may then be deleted after revocation); ``params`` are the stored settings of the lineage
    that holds the certificate in any version (they name the CA and the account).
    """

    cert_der: bytes
    serial: str
    names: tuple[str, ...]
    source: Path
    lineage: str | None = None
    params: RenewalParams | None = None
    note: str | None = None


def _load_certificate(data: bytes, source: Path) -> Any:
    from cryptography import x509

    from certbot_like.crypto.certs import PARSE_ERRORS, split_pem_certificates

    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(split_pem_certificates(data, str(source))[0])
        return x509.load_der_x509_certificate(data)
    except (*PARSE_ERRORS, IndexError, CertbotLikeError):  # type: ignore[misc]  # see lineages
        raise UsageError(
            f"{source} is not a PEM or DER certificate",
            "Pass the certificate file (cert.pem), not a key or a CSR",
        ) from None


def _target_from(cert: Any, source: Path, **extra: Any) -> RevocationTarget:
    from cryptography.hazmat.primitives import serialization

    from certbot_like.crypto.certs import cert_identifiers

    return RevocationTarget(
        cert_der=cert.public_bytes(serialization.Encoding.DER),
        serial=format(cert.serial_number, "x"),
        names=tuple(i.value for i in cert_identifiers(cert)),
        source=source,
        **extra,
    )


def target_by_name(store: Store, name: str) -> RevocationTarget:
    """The current certificate of lineage *name*.

    Raises:
        UsageError: no lineage of that name, or an invalid name.
        ConfigError: its settings are unreadable.
        StorageError: the certificate cannot be read.
    """
    lineage = store.read_lineage(name)
    data = store.read_files(name).cert
    source = lineage.live["cert"]
    return _target_from(
        _load_certificate(data, source), source, lineage=lineage.name, params=lineage.params
    )


def target_by_path(store: Store, path: Path) -> RevocationTarget:
    """The certificate in *path*, with the lineage holding it found by content.

    A lineage matches when the certificate is its current one (``lineage`` is set) or one of
    its archived versions (only ``params`` is set: an old version is revoked, the lineage
    kept).

    Raises:
        UsageError: the file is not a certificate.
        StorageError: the file cannot be read.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise storage_error(exc, "read", path) from exc
    target = _target_from(_load_certificate(data, path), path)
    for name in store.lineage_names():
        try:
            lineage = store.read_lineage(name)
        except CertbotLikeError:
            continue
        if _same_cert(store, name, None, target.cert_der):
            return dataclasses.replace(target, lineage=name, params=lineage.params)
        if any(_same_cert(store, name, v, target.cert_der) for v in lineage.versions):
            note = f"an earlier version of certificate {name}; the lineage is kept"
            return dataclasses.replace(target, params=lineage.params, note=note)
    return target


def _same_cert(store: Store, name: str, version: int | None, der: bytes) -> bool:
    from cryptography.hazmat.primitives import serialization

    try:
        pem = store.read_files(name, version).cert
        cert = _load_certificate(pem, Path(name))
    except CertbotLikeError:
        return False
    same: bool = cert.public_bytes(serialization.Encoding.DER) == der
    return same


def certificate_key(key_path: Path, target: RevocationTarget) -> Any:
    """The certificate's private key from *key_path* as a JWK, checked to match.

    Raises:
        ConfigError: the file is not an unencrypted RSA or ECDSA PEM key.
        UsageError: the key does not belong to the certificate.
        StorageError: the file cannot be read.
    """
    from cryptography import x509

    from certbot_like.crypto.certs import public_key_der
    from certbot_like.crypto.keys import load_private_key, public_der
    from certbot_like.protocol.account_keys import jwk_for_private_key

    try:
        pem = key_path.read_bytes()
    except OSError as exc:
        raise storage_error(exc, "read", key_path) from exc
    key = load_private_key(pem, str(key_path))
    cert = x509.load_der_x509_certificate(target.cert_der)
    if public_der(key) != public_key_der(cert):
        raise UsageError(
            f"The key in {key_path} does not belong to the certificate {target.source}",
            "Pass the certificate's own private key (privkey.pem of the same version)",
        )
    return jwk_for_private_key(key)


@dataclass(frozen=True)
class RevokeResult:
    """What :func:`revoke` did."""

    serial: str
    names: tuple[str, ...]
    reason: int
    lineage: str | None
    deleted: bool
    note: str | None = None

    @property
    def reason_name(self) -> str:
        return REASON_NAMES.get(self.reason, str(self.reason))


def revocation_ca(
    target: RevocationTarget,
    base: CaSettings,
    *,
    server_override: str | None,
    bundle_override: Path | None,
) -> CaSettings:
    """The CA to revoke at: ``--server`` when given, else the lineage's CA, else *base*."""
    if target.params is None:
        return base
    return ca_for(
        target.params,
        base,
        server_override=server_override,
        bundle_override=bundle_override,
        dry_run=False,
    )


def revocation_account(
    store: Store, ca: CaSettings, target: RevocationTarget, settings: AccountSettings
) -> AccountSettings:
    """The lineage's account for signing when it is stored for *ca*, unless ``--account``
    chose one (otherwise the CA's stored account, as for every command)."""
    stored = target.params.account if target.params is not None else None
    if settings.account_id or not stored:
        return settings
    if stored not in store.account_ids(ca.server):
        return settings
    return dataclasses.replace(settings, account_id=stored)


def revoke(
    store: Store,
    conn: CertificateAuthority,
    target: RevocationTarget,
    reason: int,
    display: Prompter,
    *,
    cert_key: Any | None = None,
    delete_after: bool | None = None,
) -> RevokeResult:
    """Revoke *target* at the CA of *conn*, then maybe delete its lineage.

    Signed by the account loaded in *conn*, or by *cert_key* (the certificate's own key, a
    josepy JWK, embedded as ``jwk``). Afterwards, when the certificate is the current one of
    a lineage: *delete_after* True deletes it, False keeps it, None asks on a terminal
    (default yes, as certbot) and keeps it without one.

    Raises:
        AcmeError: the CA refused (already revoked, not authorized, bad reason ...).
        StorageError: revoked, but the lineage could not be deleted.
    """
    conn.revoke(target.cert_der, reason, cert_key=cert_key)
    logger.info("Revoked certificate %s (reason %d)", target.serial, reason)
    result = RevokeResult(target.serial, target.names, reason, target.lineage, False, target.note)
    if target.lineage is None:
        return result
    if delete_after is None:
        delete_after = display.interactive and display.confirm(
            f"Delete certificate {target.lineage} (every version, its live links and renewal "
            "conf) now that it is revoked?",
            default=True,
            flag_hint="Pass --delete-after-revoke or --no-delete-after-revoke",
        )
    if not delete_after:
        _record_revocation(store, target)
        return result
    try:
        delete_lineage(store, target.lineage, display, confirmed=True)
    except CertbotLikeError as exc:
        raise StorageError(
            f"The certificate was revoked, but deleting {target.lineage} failed: {exc.message}",
            exc.hint or f"Run `certbot-like delete --cert-name {target.lineage}`",
        ) from None
    return dataclasses.replace(result, deleted=True)


def _record_revocation(store: Store, target: RevocationTarget) -> None:
    """Note in the kept lineage's settings that its certificate is revoked (``certificates``
    then says REVOKED, ``renew`` renews it); a failure only costs that note."""
    from certbot_like.storage.store import REVOKED_SERIAL_KEY

    assert target.lineage is not None
    try:
        params = store.read_lineage(target.lineage).params
        store.write_params(target.lineage, params.merged({REVOKED_SERIAL_KEY: target.serial}))
    except CertbotLikeError as exc:
        logger.warning("Revoked, but could not record it in %s: %s", target.lineage, exc)


@dataclass(frozen=True)
class RevokeRequest:
    """What the operator asked to revoke, and how."""

    cert_name: str | None = None
    cert_path: Path | None = None
    key_path: Path | None = None
    reason: int = 0
    server_override: str | None = None
    bundle_override: Path | None = None
    delete_after: bool | None = None


def revoke_certificate(run: RunSettings, request: RevokeRequest, display: Prompter) -> RevokeResult:
    """Find the certificate, choose its CA and signer, revoke it, maybe delete its lineage
    (call under the run lock).

    Signed by the certificate's own key with ``key_path``, else by the lineage's account
    when it is stored for that CA, else by the CA's stored account.

    Raises:
        UsageError: not exactly one of ``cert_name`` and ``cert_path``, or a bad file or key.
        ConfigError: no usable account.
        AcmeError: the CA refused.
        StorageError: revoked, but the lineage could not be deleted.
    """
    from certbot_like.services.accounts import connect, load_session

    if bool(request.cert_name) == bool(request.cert_path):
        raise UsageError(
            "Name the certificate to revoke with exactly one of --cert-name or --cert-path",
            "For example --cert-name example.com",
        )
    store = run.store
    if request.cert_name:
        target = target_by_name(store, request.cert_name)
    else:
        assert request.cert_path is not None
        target = target_by_path(store, request.cert_path.absolute())
    ca = revocation_ca(
        target,
        run.ca,
        server_override=request.server_override,
        bundle_override=request.bundle_override,
    )
    cert_key = None
    if request.key_path is not None:
        cert_key = certificate_key(request.key_path, target)
        conn = connect(ca, run.connector())
    else:
        account = revocation_account(store, ca, target, run.account)
        conn = load_session(
            store, ca, account, display, register=False, connector=run.connector()
        ).ca
    try:
        return revoke(
            store,
            conn,
            target,
            request.reason,
            display,
            cert_key=cert_key,
            delete_after=request.delete_after,
        )
    finally:
        conn.close()
