"""Apache's checkpoints: :mod:`certbot_like.plugin_kit` under ``<work_dir>/apache-backups/``.

Every change runs inside a checkpoint: ``change`` for the installer (committed after a
successful graceful restart, the target of ``certbot-like rollback``, which refuses to
overwrite a file edited since), ``temporary`` for the authenticator's challenge
configuration. A restored checkpoint is deleted; the newest :data:`KEEP_COMMITTED` committed
changes are kept. The layout and the states are described in :mod:`certbot_like.plugin_kit`.
"""

from __future__ import annotations

from pathlib import Path

from certbot_like import plugin_kit

__all__ = ["CHANGE", "KEEP_COMMITTED", "TEMPORARY", "Backups", "Checkpoint"]

CHANGE = "change"
TEMPORARY = "temporary"
KEEP_COMMITTED = 20


class Checkpoint(plugin_kit.Checkpoint):
    """A kit checkpoint, with the names the Apache code uses."""

    @property
    def path(self) -> Path:
        """The checkpoint's directory."""
        return self.directory

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Create or replace the regular file *path* with *data* (backed up or recorded
        first); a new file gets *mode*, an existing one keeps its mode and owner.

        Raises:
            InstallerError: the backup or the write failed.
        """
        self.write(path, data, mode=mode)


class Backups(plugin_kit.Backups):
    """The checkpoints of one work directory (restored ones are deleted)."""

    checkpoint_type = Checkpoint

    def __init__(self, root: Path) -> None:
        super().__init__(root, keep_restored=False)

    @property
    def root(self) -> Path:
        return self.base

    def begin(self, kind: str, description: str) -> Checkpoint:
        """Start a checkpoint (:data:`CHANGE` or :data:`TEMPORARY`); nothing is written
        before the first file is recorded."""
        checkpoint = self.new(kind, description)
        assert isinstance(checkpoint, Checkpoint)
        return checkpoint

    def recover_interrupted(self) -> list[str]:
        """Restore every change a process that is gone left unfinished; their descriptions.

        Raises:
            InstallerError: one could not be restored (the next run tries again).
        """
        return [checkpoint.description for checkpoint in self.recover()]

    def latest_committed(self, kind: str | None = CHANGE) -> Checkpoint | None:
        """The newest committed change (what ``rollback`` undoes)."""
        checkpoint = super().latest_committed(kind)
        assert checkpoint is None or isinstance(checkpoint, Checkpoint)
        return checkpoint

    def prune(self, keep: int = KEEP_COMMITTED) -> None:
        """Forget all but the newest *keep* committed changes."""
        super().prune(keep)
