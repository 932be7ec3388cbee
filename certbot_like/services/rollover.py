"""Account key rollover (RFC 8555 section 7.3.5) that never loses the only key the CA
accepts: the new key is saved as pending before the CA is asked, and a rerun finishes an
interrupted change."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from certbot_like.errors import (
    AcmeError,
    CertbotLikeError,
    ConfigError,
    StorageError,
    TemporaryAcmeError,
)
from certbot_like.protocol.account_keys import key_from_json, key_id, key_to_json, new_account_key
from certbot_like.protocol.client import AcmeClient
from certbot_like.services.accounts import Session
from certbot_like.settings import LE_PRODUCTION
from certbot_like.storage.store import Store, StoredAccount

logger = logging.getLogger(__name__)
PENDING = "The pending account key"

# -- account key rollover --------------------------------------------------------------------


@dataclass(frozen=True)
class RolloverResult:
    """The account (its URL does not change), its old and new ids, the confs repointed."""

    account_uri: str
    old_id: str
    new_id: str
    lineages: tuple[str, ...]
    resumed: bool = False


def pending_rollover(store: Store, server: str) -> str | None:
    """The id of an account of *server* whose key rollover was interrupted before the
    account moved to its new id (it holds both its key and the pending key), if any."""
    for account_id in store.account_ids(server):
        try:
            if store.pending_account_key(server, account_id) is not None:
                return account_id
        except ConfigError:
            return account_id
    return None


def _ca_has_key(client: AcmeClient, key: Any, account_uri: str) -> bool:
    """Whether the CA knows *key* as the key of *account_uri* (``onlyReturnExisting``).

    Raises:
        AcmeError: the CA could not answer.
        ConfigError: the key belongs to another account.
    """
    probe = AcmeClient(client.transport, client.directory_url, client.allow_origins)
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


def _repoint_confs(store: Store, server: str, old_id: str, new_id: str) -> list[str]:
    changed = []
    for name in store.lineage_names():
        try:
            params = store.read_lineage(name).params
        except CertbotLikeError as exc:
            logger.warning("Not updating %s: %s", name, exc.one_line())
            continue
        if params.account != old_id or (params.server or LE_PRODUCTION) != server:
            continue
        store.write_params(name, params.merged({"account": new_id}))
        changed.append(name)
    return changed


def _finish(store: Store, account: StoredAccount, new_key: Any, *, resumed: bool) -> RolloverResult:
    """Steps 3-5 of :func:`rollover` (every one of them safe to repeat)."""
    server, old_id, new_id = account.server, account.account_id, key_id(new_key)
    store.replace_account_key(account, new_id, key_to_json(new_key))
    changed = _repoint_confs(store, server, old_id, new_id)
    store.drop_pending_account_key(server, old_id)
    logger.info("Account %s: key rolled over, id %s -> %s", account.uri, old_id, new_id)
    return RolloverResult(account.uri, old_id, new_id, tuple(changed), resumed)


def _finish_moved(store: Store, server: str) -> list[tuple[str, str, list[str]]]:
    """Finish rollovers that stopped after the account moved (steps 4-5 only).

    Returns:
        ``(old id, new id, lineages repointed)`` for each one finished.

    Raises:
        ConfigError: a pending key is unreadable, or is the only copy of the key.
        StorageError: a renewal conf or the pending key could not be rewritten or removed.
    """
    finished: list[tuple[str, str, list[str]]] = []
    for old_id, jwk in store.moved_pending_keys(server):
        new_id = key_id(key_from_json(jwk, PENDING))
        if new_id not in store.account_ids(server):
            raise ConfigError(
                f"The pending key of account {old_id} in {store.description} is the only "
                "copy of the account key",
                f"Store it as the key of account {new_id} with the old account's "
                "registration, or restore them from a backup",
            )
        changed = _repoint_confs(store, server, old_id, new_id)
        store.drop_pending_account_key(server, old_id)
        logger.info("Finished the interrupted key rollover %s -> %s", old_id, new_id)
        finished.append((old_id, new_id, changed))
    return finished


def rollover(session: Session, store: Store) -> RolloverResult:
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
    server = account.server
    for old_id, new_id, changed in _finish_moved(store, server):
        if new_id == account.account_id:
            return RolloverResult(account.uri, old_id, new_id, tuple(changed), resumed=True)
    stored_pending = store.pending_account_key(server, account.account_id)
    if stored_pending is not None:
        waiting = key_from_json(stored_pending, PENDING)
        if _ca_has_key(client, waiting, account.uri):
            client.set_account(waiting, account.uri)
            return _finish(store, account, waiting, resumed=True)
        logger.info("Discarding the pending key of a key change the CA never made")
        store.drop_pending_account_key(server, account.account_id)
    new_key = new_account_key()
    where = store.save_pending_account_key(server, account.account_id, key_to_json(new_key))
    try:
        client.key_change(new_key)
    except TemporaryAcmeError as exc:
        raise TemporaryAcmeError(
            f"{exc.message}; the CA may or may not have switched to the new key",
            f"The new key is kept in {where}; run `certbot-like account rollover` again "
            "to finish or undo",
            problem_type=exc.problem_type,
            retry_after=exc.retry_after,
            status=exc.status,
        ) from None
    except CertbotLikeError:  # a definite refusal: the old key is still the one
        store.drop_pending_account_key(server, account.account_id)
        raise
    try:
        return _finish(store, account, new_key, resumed=False)
    except CertbotLikeError as exc:
        raise StorageError(
            f"The CA switched to the new account key, but storing it failed: {exc.message}",
            f"The new key is safe in {where}; fix the cause and run "
            "`certbot-like account rollover` again to finish",
        ) from None
