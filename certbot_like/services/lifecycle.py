"""The lifecycle use cases: revoke, delete, reconfigure a lineage; roll over the account key.

- :func:`revoke` revokes a certificate (RFC 8555 section 7.6) with the account key or the
  certificate's own key, then deletes the lineage that holds it when the operator wants.
- :func:`delete_lineage` removes a lineage: renewal conf first, then ``live/``, ``archive/``.
- :func:`reconfigure` changes how a lineage renews only after a dry run with the new
  settings succeeded against its CA.
- :func:`rollover` changes the account key (RFC 8555 section 7.3.5) without ever losing the
  only key the CA accepts, even when the process dies half-way.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certbot_like import __version__
from certbot_like.errors import (
    AcmeError,
    CertbotLikeError,
    ConfigError,
    StorageError,
    TemporaryAcmeError,
    UsageError,
)
from certbot_like.interfaces import HookRunner
from certbot_like.names import check_lineage_name
from certbot_like.protocol.client import AcmeClient
from certbot_like.services.accounts import Prompter, Session, UserDisplay, key_id
from certbot_like.services.renew_request import RenewOverrides, ca_for, request_from_conf
from certbot_like.settings import (
    LE_PRODUCTION,
    AccountSettings,
    CaSettings,
    PluginChoice,
    RunSettings,
)
from certbot_like.storage.accounts import AccountStore, StoredAccount
from certbot_like.storage.atomic import PRIVATE_MODE, storage_error, write_file
from certbot_like.storage.layout import Layout
from certbot_like.storage.renewal_conf import RenewalConf, read_renewal_conf, update_param

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

PENDING_KEY_NAME = "pending_private_key.json"


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

    from certbot_like.crypto.certs import split_pem_certificates

    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(split_pem_certificates(data, str(source))[0])
        return x509.load_der_x509_certificate(data)
    except (ValueError, IndexError, CertbotLikeError):
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
    conf = _conf_of(layout, name)
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


# -- delete ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeleteResult:
    """The lineage removed and the paths that are gone."""

    name: str
    removed: tuple[Path, ...]


def _conf_of(layout: Layout, name: str) -> RenewalConf:
    path = layout.renewal_conf(check_lineage_name(name))
    if not path.exists():
        raise UsageError(
            f"No certificate named {name} in {layout.renewal_dir}",
            "Run `certbot-like certificates` to see the names",
        )
    return read_renewal_conf(path)


def _inside(path: Path, root: Path) -> bool:
    """True when *path* is a direct child of *root* (compared without following *path*)."""
    parent = Path(os.path.realpath(os.path.dirname(os.path.abspath(path))))
    return parent == Path(os.path.realpath(root)) and path.name not in ("", ".", "..")


def delete_lineage(
    layout: Layout, name: str, display: Prompter, *, confirmed: bool
) -> DeleteResult:
    """Delete lineage *name*: its renewal conf first (it stops existing), then live, archive.

    Unless *confirmed*, asks on a terminal (default no) and fails without one.

    Raises:
        UsageError: no such lineage, an invalid name, or the operator said no (or could not
            be asked: pass ``-n``).
        ConfigError: the conf points outside ``live/`` or ``archive/`` (nothing is removed).
        StorageError: the renewal conf cannot be removed.
    """
    from certbot_like.storage.lineage import LineageStore

    conf_path = layout.renewal_conf(check_lineage_name(name))
    if not conf_path.exists():
        raise UsageError(
            f"No certificate named {name} in {layout.renewal_dir}",
            "Run `certbot-like certificates` to see the names",
        )
    try:
        conf = read_renewal_conf(conf_path)
        live, archive = conf.live["cert"].parent, conf.archive_dir
    except ConfigError:  # a broken conf must not make a lineage undeletable
        live, archive = layout.live_dir(name), layout.archive_dir(name)
    for path, root in ((live, layout.live_root), (archive, layout.archive_root)):
        if not _inside(path, root):
            raise ConfigError(
                f"{conf_path} points at {path}, outside {root}; nothing was deleted",
                "Remove that lineage's files by hand",
            )
    if not confirmed and not display.confirm(
        f"Delete certificate {name} (live/{name}, archive/{name} and renewal/{name}.conf)? "
        "This cannot be undone.",
        default=False,
        flag_hint="Pass -n to confirm",
    ):
        raise UsageError(f"Cancelled; certificate {name} was not deleted", "Pass -n to confirm")
    LineageStore(layout).delete(name, archive_dir=archive, live_dir=live)
    logger.info("Deleted lineage %s", name)
    return DeleteResult(name, (conf_path, live, archive))


# -- reconfigure -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReconfigureResult:
    """The changed ``[renewalparams]`` keys as ``key -> (old, new)`` (None: absent)."""

    name: str
    conf_path: Path
    changes: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)
    dry_run_not_after: datetime.datetime | None = None


def _with_names(choice: PluginChoice, names: list[str]) -> PluginChoice:
    """Let a plugin that maps names (webroot) map the lineage's names, as for ``-d`` flags."""
    from certbot_like.plugin_options import field_kinds

    spec = choice.spec
    if spec.resolve_options is None:
        return choice
    options = spec.resolve_options(choice.options, [("domains", n) for n in names])
    changed = {k.name for k in field_kinds(spec.options) if getattr(options, k.name) != k.default}
    return dataclasses.replace(choice, options=options, user_set=choice.user_set | changed)


def _base_params(conf: RenewalConf, new_authenticator: str) -> dict[str, Any]:
    """The conf's params without the options of an authenticator that is being replaced."""
    from certbot_like.plugin_options import field_kinds
    from certbot_like.plugin_registry import plugins

    base: dict[str, Any] = dict(conf.params)
    old = conf.get_str("authenticator")
    if old and old != new_authenticator:
        specs = plugins()
        old_spec, new_spec = specs.get(old), specs.get(new_authenticator)
        keep = {k.name for k in field_kinds(new_spec.options)} if new_spec else set()
        if old_spec is not None:
            for kind in field_kinds(old_spec.options):
                if kind.name not in keep:
                    base.pop(kind.name, None)
    return base


def _flat(value: Any) -> str | None:
    """A conf value as one comparable string (as it reads back from the file)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} = {v}" for k, v in value.items())
    return str(value)


def reconfigure(
    run: RunSettings,
    name: str,
    overrides: RenewOverrides,
    display: UserDisplay,
    hooks: HookRunner,
    *,
    server_override: str | None = None,
    bundle_override: Path | None = None,
    run_deploy_hooks: bool = False,
) -> ReconfigureResult:
    """Change how lineage *name* renews, after a dry run with the new settings succeeded.

    The new settings are the renewal conf with *overrides* applied (as ``renew`` applies its
    flags). The dry run renews against the lineage's CA (Let's Encrypt staging for a
    production lineage), running the pre- and post-hooks, the deploy hook only with
    *run_deploy_hooks*; nothing is stored from it. Only when it succeeds is the renewal conf
    rewritten (atomically, keeping comments and keys we do not manage).

    Raises:
        UsageError: no such lineage, or bad new settings.
        ConfigError: the lineage's conf or certificate is unreadable.
        PluginError, ValidationFailed, AcmeError, HookError: the dry run failed; the renewal
            conf is unchanged.
        StorageError: the new conf could not be written (the old one is intact).
    """
    from certbot_like.protocol.http import RateLimiter
    from certbot_like.services.issue import (
        Target,
        first_choice_types,
        issue_and_store,
        make_plugin,
        renewal_params,
        run_hook,
    )
    from certbot_like.services.lineages import inspect
    from certbot_like.services.pools import SessionPool
    from certbot_like.storage.renewal_conf import write_renewal_conf

    layout = run.layout
    conf = _conf_of(layout, name)
    info = inspect(conf.path, layout, check_key=False)
    if not info.identifiers:
        raise ConfigError(
            f"The current certificate of {name} cannot be read: "
            f"{'; '.join(info.problems) or 'no names'}",
            f"Obtain it again, or delete it with `certbot-like delete --cert-name {name}`",
        )
    req = request_from_conf(conf, info.names, dataclasses.replace(overrides, force=True))
    if overrides.authenticator is not None:
        req = dataclasses.replace(req, authenticator=_with_names(req.authenticator, info.names))
    dry_ca = ca_for(
        conf, run.ca, server_override=server_override, bundle_override=bundle_override, dry_run=True
    )
    real_ca = ca_for(
        conf,
        run.ca,
        server_override=server_override,
        bundle_override=bundle_override,
        dry_run=False,
    )
    account_id = conf.get_str("account")
    authenticator = make_plugin(req.authenticator, layout, display, hooks, dry_run=True)
    sessions = SessionPool(layout, run.account, display, RateLimiter(0))
    try:
        authenticator.prepare(first_choice_types(req, authenticator))
        session = sessions.get(dry_ca, account_id, register=True)
        run_hook(hooks, req.hooks.pre_hook, {}, "pre-hook")
        try:
            result = issue_and_store(
                layout,
                dry_ca,
                req,
                Target("renew", name, conf),
                session,
                authenticator,
                dry_run=True,
            )
            if run_deploy_hooks:
                env = {
                    "RENEWED_LINEAGE": str(conf.live["cert"].parent),
                    "RENEWED_DOMAINS": " ".join(result.names),
                }
                run_hook(hooks, req.hooks.deploy_hook, env, "deploy-hook")
        finally:
            run_hook(hooks, req.hooks.post_hook, {}, "post-hook", raise_errors=False)
    finally:
        sessions.close()
        authenticator.cleanup([])
    if account_id is None and dry_ca.server == real_ca.server:
        account_id = session.account.account_id  # never a staging account for production
    params = renewal_params(
        real_ca, req, account_id or "", _base_params(conf, req.authenticator.spec.name)
    )
    for key in ("account", "pre_hook", "post_hook", "deploy_hook"):
        if params.get(key) == "":  # `--pre-hook ''` removes a stored hook
            params.pop(key)
    old = {k: _flat(v) for k, v in conf.params.items()}
    if {k: _flat(v) for k, v in params.items() if v is not None} == old:
        return ReconfigureResult(name, conf.path, {}, result.not_after)
    write_renewal_conf(layout, name, params, __version__)
    new = {k: _flat(v) for k, v in read_renewal_conf(conf.path).params.items()}
    changes = {
        k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)
    }
    logger.info("Reconfigured %s: %s", name, ", ".join(changes) or "no changes")
    return ReconfigureResult(name, conf.path, changes, result.not_after)


# -- account key rollover --------------------------------------------------------------------


@dataclass(frozen=True)
class RolloverResult:
    """The account (its URL does not change), its old and new ids, the confs repointed."""

    account_uri: str
    old_id: str
    new_id: str
    lineages: tuple[str, ...]
    resumed: bool = False


def _new_account_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec
    from josepy.jwk import JWKEC

    return JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


def _read_jwk(path: Path) -> Any:
    from josepy.errors import DeserializationError
    from josepy.jwk import JWK

    try:
        return JWK.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError, DeserializationError):
        raise ConfigError(
            f"The pending account key {path} is unreadable",
            "Restore it from a backup; if the old key still works, delete the file",
        ) from None


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise storage_error(exc, "remove", path) from exc


def pending_rollover(layout: Layout, server: str) -> str | None:
    """The id of an account of *server* whose key rollover was interrupted before its files
    moved (it holds both ``private_key.json`` and the pending key), if any."""
    store = AccountStore(layout, server)
    try:
        entries = sorted(os.listdir(store.directory))
    except OSError:
        return None
    for entry in entries:
        adir = store.directory / entry
        if (adir / PENDING_KEY_NAME).is_file() and (adir / "private_key.json").is_file():
            return entry
    return None


def _ca_has_key(client: AcmeClient, key: Any, account_uri: str) -> bool:
    """Whether the CA knows *key* as the key of *account_uri* (``onlyReturnExisting``).

    Raises:
        AcmeError: the CA could not answer.
        ConfigError: the key belongs to another account.
    """
    probe = AcmeClient(client.transport, client.directory_url)
    probe.use_directory(client.directory)
    probe.set_account(key, None)
    try:
        uri, _ = probe.new_account([], tos_agreed=False, only_existing=True)
    except AcmeError as exc:
        if exc.problem_type == "accountDoesNotExist":
            return False
        raise
    if uri != account_uri:
        raise ConfigError(
            f"The pending account key belongs to another account ({uri})",
            "Remove the pending key file by hand",
        )
    return True


def _repoint_confs(layout: Layout, server: str, old_id: str, new_id: str) -> list[str]:
    from certbot_like.services.lineages import conf_paths

    changed = []
    for path in conf_paths(layout):
        try:
            conf = read_renewal_conf(path)
        except ConfigError as exc:
            logger.warning("Not updating %s: %s", path, exc.one_line())
            continue
        if conf.get_str("account") != old_id:
            continue
        if (conf.get_str("server") or LE_PRODUCTION) != server:
            continue
        update_param(path, "account", new_id)
        changed.append(conf.name)
    return changed


def _finish(
    store: AccountStore,
    layout: Layout,
    account: StoredAccount,
    new_key: Any,
    pending: Path,
    *,
    resumed: bool,
) -> RolloverResult:
    """Steps 3-5 of :func:`rollover` (every one of them safe to repeat)."""
    old_id, new_id = account.account_id, key_id(new_key)
    old_dir = store.directory / old_id
    store.replace_key(account, new_id, json.loads(new_key.json_dumps()))
    changed = _repoint_confs(layout, store.server, old_id, new_id)
    _unlink(pending)
    try:
        old_dir.rmdir()
    except OSError:
        pass
    logger.info("Account %s: key rolled over, id %s -> %s", account.uri, old_id, new_id)
    return RolloverResult(account.uri, old_id, new_id, tuple(changed), resumed)


def _finish_moved(store: AccountStore, layout: Layout) -> list[tuple[str, str, list[str]]]:
    """Finish rollovers that stopped after the account files moved (steps 4-5 only).

    Returns:
        ``(old id, new id, lineages repointed)`` for each one finished.

    Raises:
        ConfigError: a pending key is unreadable, or is the only copy of the key.
        StorageError: a renewal conf or the pending key could not be rewritten or removed.
    """
    finished: list[tuple[str, str, list[str]]] = []
    try:
        entries = sorted(os.listdir(store.directory))
    except OSError:
        return finished
    for entry in entries:
        adir = store.directory / entry
        pending = adir / PENDING_KEY_NAME
        if not pending.is_file() or (adir / "private_key.json").exists():
            continue
        new_id = key_id(_read_jwk(pending))
        if not (store.directory / new_id / "private_key.json").is_file():
            raise ConfigError(
                f"{pending} holds the only copy of the account key",
                f"Move it to {store.directory / new_id / 'private_key.json'} with the "
                f"regr.json and meta.json of {adir}, or restore them from a backup",
            )
        changed = _repoint_confs(layout, store.server, entry, new_id)
        _unlink(pending)
        try:
            adir.rmdir()
        except OSError:
            pass
        logger.info("Finished the interrupted key rollover %s -> %s", entry, new_id)
        finished.append((entry, new_id, changed))
    return finished


def rollover(session: Session, layout: Layout) -> RolloverResult:
    """Replace the account key with a new ECDSA P-256 key (RFC 8555 section 7.3.5).

    The sequence, ordered so that a crash at any point never loses the key the CA accepts:

    1. the new key is written as ``pending_private_key.json`` (0600, fsync-ed) into the
       account's directory, beside ``private_key.json``;
    2. the key change is sent to the CA (inner JWS by the new key, outer by the old). If the
       CA refuses, the pending file is removed and nothing changed; if no answer comes, the
       pending file is kept, because the CA may have switched;
    3. the account is stored under its new id (the new directory is written completely
       before the old ``private_key.json``, ``regr.json`` and ``meta.json`` are removed);
    4. ``account = <new id>`` is written into every renewal conf that named the old id;
    5. the pending file and the old directory are removed.

    Run again after a crash, :func:`rollover` first finishes what was interrupted: with the
    old files still in place it asks the CA (``onlyReturnExisting`` signed by the pending
    key) whether the change happened, and completes steps 3-5 or discards the pending key;
    with the files moved it completes steps 4-5. A resumed run does not roll the key again.

    Raises:
        AcmeError: the CA refused the change (nothing changed).
        TemporaryAcmeError: no answer from the CA; run again to finish or undo.
        ConfigError: a pending key is unreadable or belongs to another account.
        StorageError: a local step failed after the CA switched keys; run again to finish.
    """
    client, account = session.client, session.account
    store = AccountStore(layout, account.server)
    for old_id, new_id, changed in _finish_moved(store, layout):
        if new_id == account.account_id:
            return RolloverResult(account.uri, old_id, new_id, tuple(changed), resumed=True)
    pending = store.directory / account.account_id / PENDING_KEY_NAME
    if pending.exists():
        waiting = _read_jwk(pending)
        if _ca_has_key(client, waiting, account.uri):
            client.set_account(waiting, account.uri)
            return _finish(store, layout, account, waiting, pending, resumed=True)
        logger.info("Discarding the pending key of a key change the CA never made")
        _unlink(pending)
    new_key = _new_account_key()
    write_file(pending, new_key.json_dumps().encode(), PRIVATE_MODE)
    try:
        client.key_change(new_key)
    except TemporaryAcmeError as exc:
        raise TemporaryAcmeError(
            f"{exc.message}; the CA may or may not have switched to the new key",
            f"The new key is kept in {pending}; run `certbot-like account rollover` again "
            "to finish or undo",
            problem_type=exc.problem_type,
            retry_after=exc.retry_after,
            status=exc.status,
        ) from None
    except CertbotLikeError:  # a definite refusal: the old key is still the one
        _unlink(pending)
        raise
    try:
        return _finish(store, layout, account, new_key, pending, resumed=False)
    except CertbotLikeError as exc:
        raise StorageError(
            f"The CA switched to the new account key, but storing it failed: {exc.message}",
            f"The new key is safe in {pending}; fix the cause and run "
            "`certbot-like account rollover` again to finish",
        ) from None
