"""Account key rollover (RFC 8555 section 7.3.5) that never loses the only key the CA
accepts: the new key is saved as pending before the CA is asked, and a rerun finishes an
interrupted change."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certbot_like.errors import (
    AcmeError,
    CertbotLikeError,
    ConfigError,
    StorageError,
    TemporaryAcmeError,
)
from certbot_like.protocol.client import AcmeClient
from certbot_like.services.accounts import Session, key_id
from certbot_like.settings import (
    LE_PRODUCTION,
)
from certbot_like.storage.accounts import AccountStore, StoredAccount
from certbot_like.storage.atomic import PRIVATE_MODE, storage_error, write_file
from certbot_like.storage.layout import Layout
from certbot_like.storage.renewal_conf import read_renewal_conf, update_param

logger = logging.getLogger(__name__)

PENDING_KEY_NAME = "pending_private_key.json"

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
