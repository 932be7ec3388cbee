"""Deleting a lineage: what makes it exist first, then its files, never anything outside the
store (the store refuses a lineage whose settings point elsewhere)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from certbot_like.errors import UsageError
from certbot_like.names import check_lineage_name
from certbot_like.services.accounts import Prompter
from certbot_like.storage.store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeleteResult:
    """The lineage removed and what is gone."""

    name: str
    removed: tuple[Path, ...]


def delete_lineage(store: Store, name: str, display: Prompter, *, confirmed: bool) -> DeleteResult:
    """Delete lineage *name*: its settings first (it stops existing), then its versions.

    Unless *confirmed*, asks on a terminal (default no) and fails without one.

    Raises:
        UsageError: no such lineage, an invalid name, or the operator said no (or could not
            be asked: pass ``-n``).
        ConfigError: its settings point outside the store (nothing is removed).
        StorageError: it cannot be removed.
    """
    check_lineage_name(name)
    if not store.has_lineage(name):
        raise UsageError(
            f"No certificate named {name} in {store.description}",
            "Run `certbot-like certificates` to see the names",
        )
    if not confirmed and not display.confirm(
        f"Delete certificate {name} (every version, its live links and its renewal settings "
        f"in {store.description})? This cannot be undone.",
        default=False,
        flag_hint="Pass -n to confirm",
    ):
        raise UsageError(f"Cancelled; certificate {name} was not deleted", "Pass -n to confirm")
    removed = store.delete_lineage(name)
    logger.info("Deleted lineage %s", name)
    return DeleteResult(name, tuple(Path(p) for p in removed))
