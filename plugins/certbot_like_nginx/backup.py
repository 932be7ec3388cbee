"""nginx's checkpoints: :mod:`certbot_like.plugin_kit` under ``<work_dir>/nginx-backups``.

Kinds: ``install`` (kept; ``certbot-like rollback`` restores the newest committed one) and
``challenge`` (the temporary HTTP-01 edits, deleted once restored). Restored checkpoints stay
on disk, marked ``restored``, ``rolled-back`` or ``recovered``. The layout of a checkpoint
and its states are described in :mod:`certbot_like.plugin_kit`.
"""

from __future__ import annotations

from pathlib import Path

from certbot_like import plugin_kit
from certbot_like.plugin_kit import Checkpoint

__all__ = ["BACKUP_DIR", "INSTALL", "Backups", "Checkpoint"]

BACKUP_DIR = "nginx-backups"
INSTALL = "install"


class Backups(plugin_kit.Backups):
    """The checkpoints kept under ``<work_dir>/nginx-backups``."""

    def __init__(self, work_dir: Path) -> None:
        super().__init__(Path(work_dir) / BACKUP_DIR)

    def latest_committed(self, kind: str | None = INSTALL) -> Checkpoint | None:
        """The newest committed installation, the one ``rollback`` undoes."""
        return super().latest_committed(kind)
