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
    ConfigError,
    StorageError,
    UsageError,
)
from certbot_like.protocol.client import AcmeClient
from certbot_like.services.accounts import Prompter
from certbot_like.services.delete import delete_lineage
from certbot_like.services.lineages import named_conf
from certbot_like.services.renew_request import ca_for
from certbot_like.settings import (
    AccountSettings,
    CaSettings,
)
from certbot_like.storage.accounts import AccountStore
from certbot_like.storage.atomic import storage_error
from certbot_like.storage.layout import Layout
from certbot_like.storage.renewal_conf import RenewalConf, read_renewal_conf

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
    may then be deleted after revocation); ``conf`` is the renewal conf of the lineage that
    holds the certificate in any version (it names the CA and the account).
    """

    cert_der: bytes
    serial: str
    names: tuple[str, ...]
    source: Path
    lineage: str | None = None
    conf: RenewalConf | None = None
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


def target_by_name(layout: Layout, name: str) -> RevocationTarget:
    """The current certificate of lineage *name*.

    Raises:
        UsageError: no lineage of that name, or an invalid name.
        ConfigError: the renewal conf is unreadable.
        StorageError: the certificate cannot be read.
    """
    conf = named_conf(layout, name)
    path = conf.live["cert"]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise storage_error(exc, "read", path) from exc
    return _target_from(_load_certificate(data, path), path, lineage=conf.name, conf=conf)


def target_by_path(layout: Layout, path: Path) -> RevocationTarget:
    """The certificate in *path*, with the lineage holding it found by content.

    A lineage matches when the certificate is its current one (``lineage`` is set) or one of
    its archived versions (only ``conf`` is set: an old version is revoked, the lineage kept).

    Raises:
        UsageError: the file is not a certificate.
        StorageError: the file cannot be read.
    """
    from certbot_like.services.lineages import conf_paths

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise storage_error(exc, "read", path) from exc
    target = _target_from(_load_certificate(data, path), path)
    for conf_path in conf_paths(layout):
        try:
            conf = read_renewal_conf(conf_path)
        except ConfigError:
            continue
        if _same_cert(conf.live["cert"], target.cert_der):
            return dataclasses.replace(target, lineage=conf.name, conf=conf)
        try:
            archived = sorted(conf.archive_dir.glob("cert*.pem"))
        except OSError:
            archived = []
        if any(_same_cert(p, target.cert_der) for p in archived):
            note = f"an earlier version of certificate {conf.name}; the lineage is kept"
            return dataclasses.replace(target, conf=conf, note=note)
    return target


def _same_cert(path: Path, der: bytes) -> bool:
    from cryptography.hazmat.primitives import serialization

    try:
        cert = _load_certificate(path.read_bytes(), path)
    except (OSError, CertbotLikeError):
        return False
    same: bool = cert.public_bytes(serialization.Encoding.DER) == der
    return same


def certificate_key(key_path: Path, target: RevocationTarget) -> Any:
    """The certificate's private key from *key_path* as a josepy JWK, checked to match.

    Raises:
        ConfigError: the file is not an unencrypted RSA or ECDSA PEM key.
        UsageError: the key does not belong to the certificate.
        StorageError: the file cannot be read.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa
    from josepy.jwk import JWKEC, JWKRSA

    from certbot_like.crypto.certs import public_key_der
    from certbot_like.crypto.keys import load_private_key, public_der

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
    if isinstance(key, rsa.RSAPrivateKey):
        return JWKRSA(key=key)
    return JWKEC(key=key)


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
    if target.conf is None:
        return base
    return ca_for(
        target.conf,
        base,
        server_override=server_override,
        bundle_override=bundle_override,
        dry_run=False,
    )


def revocation_account(
    layout: Layout, ca: CaSettings, target: RevocationTarget, settings: AccountSettings
) -> AccountSettings:
    """The lineage's account for signing when it is stored for *ca*, unless ``--account``
    chose one (otherwise the CA's stored account, as for every command)."""
    stored = target.conf.get_str("account") if target.conf is not None else None
    if settings.account_id or not stored:
        return settings
    if stored not in AccountStore(layout, ca.server).ids():
        return settings
    return dataclasses.replace(settings, account_id=stored)


def revoke(
    layout: Layout,
    client: AcmeClient,
    target: RevocationTarget,
    reason: int,
    display: Prompter,
    *,
    cert_key: Any | None = None,
    delete_after: bool | None = None,
) -> RevokeResult:
    """Revoke *target* at the CA of *client*, then maybe delete its lineage.

    Signed by the account loaded in *client*, or by *cert_key* (the certificate's own key, a
    josepy JWK, embedded as ``jwk``). Afterwards, when the certificate is the current one of
    a lineage: *delete_after* True deletes it, False keeps it, None asks on a terminal
    (default yes, as certbot) and keeps it without one.

    Raises:
        AcmeError: the CA refused (already revoked, not authorized, bad reason ...).
        StorageError: revoked, but the lineage could not be deleted.
    """
    client.revoke(target.cert_der, reason, cert_key=cert_key)
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
        return result
    try:
        delete_lineage(layout, target.lineage, display, confirmed=True)
    except CertbotLikeError as exc:
        raise StorageError(
            f"The certificate was revoked, but deleting {target.lineage} failed: {exc.message}",
            exc.hint or f"Run `certbot-like delete --cert-name {target.lineage}`",
        ) from None
    return dataclasses.replace(result, deleted=True)
