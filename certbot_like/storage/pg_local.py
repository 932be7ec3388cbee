"""What a fleet node writes into its own config directory besides certificates: renewal
settings with its own paths, and the store's ACME accounts.

**Settings.** ``[renewalparams]`` may hold the directories of the node that wrote them
(certbot writes ``config_dir``, ``work_dir`` and ``logs_dir`` when they are not its
defaults, and certbot-like carries them over). The database keeps them as that node wrote
them; each node's local renewal conf gets its own directories instead, and any other
setting holding a path inside the writer's directories (a ``ca_bundle`` kept in its config
directory, say) is moved to the same place inside this node's.

**Accounts.** Every account the store holds is written to ``accounts/`` in certbot's layout
(:class:`~certbot_like.storage.accounts.AccountStore`: directories 0700, the key 0600), and
only when the local copy is missing or differs, so certbot itself on a node can renew a
lineage the fleet copied there.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from certbot_like.errors import ConfigError
from certbot_like.storage.layout import Layout
from certbot_like.storage.renewal_params import RenewalParams
from certbot_like.storage.store import StoredAccount

if TYPE_CHECKING:
    from certbot_like.storage.file_store import FileStore
    from certbot_like.storage.pg_accounts import PgAccounts

NODE_DIRS = ("config_dir", "work_dir", "logs_dir")


def for_node(params: RenewalParams, layout: Layout) -> RenewalParams:
    """*params* as the node with *layout* writes them locally: its own ``config_dir``,
    ``work_dir`` and ``logs_dir`` where the stored settings name one, and paths inside the
    stored directories moved into this node's. Keys absent stay absent."""
    moves: list[tuple[str, str]] = []
    changes: dict[str, Any] = {}
    for key in NODE_DIRS:
        theirs = getattr(params, key)
        ours = str(getattr(layout, key))
        if theirs and theirs.rstrip("/") != ours:
            moves.append((theirs.rstrip("/") + "/", ours + "/"))
            changes[key] = ours
    if not moves:
        return params
    params = dataclasses.replace(params, **changes)

    def moved(value: Any) -> Any:
        if isinstance(value, str):
            for old, new in moves:
                if value.startswith(old):
                    return new + value[len(old) :]
        return value

    updates = {
        key: [moved(v) for v in value] if isinstance(value, list) else moved(value)
        for key, value in params.to_conf().items()
        if key not in NODE_DIRS
    }
    return params.merged({k: v for k, v in updates.items() if v != params.get(k)})


def copy_accounts(store: PgAccounts, local: FileStore) -> list[str]:
    """Write every account of *store* into *local* where it is missing or differs.

    Returns:
        The ids written.

    Raises:
        StoreUnavailable, StorageError: the database or a local write failed.
        ConfigError: a stored key cannot be opened with this node's store key.
    """
    written: list[str] = []
    for account in store.all_stored_accounts():
        try:
            mine = local.load_account(account.server, account.account_id)
        except ConfigError:  # missing or unreadable here: write it
            mine = None
        if mine is not None and _same(mine, account):
            continue
        local.save_account(account)
        written.append(account.account_id)
    return written


def _same(one: StoredAccount, other: StoredAccount) -> bool:
    def view(a: StoredAccount) -> str:
        return json.dumps([a.uri, a.key_jwk, a.body, a.meta], sort_keys=True)

    return view(one) == view(other)
