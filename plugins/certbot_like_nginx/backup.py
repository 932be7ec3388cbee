"""Checkpoints: every file backed up before it changes, restored byte for byte.

Layout under the work directory::

    <work_dir>/nginx-backups/<UTC timestamp>-<kind>/
        manifest.json     kind, description, pid, state, and per file: path, backup name,
                          whether it existed, mode, owner, SHA-256 before and after
        files/0, files/1  the bytes of each file before the first change

``kind`` is ``install`` (kept; ``certbot-like rollback`` restores the newest committed one)
or ``challenge`` (temporary HTTP-01 edits, deleted once restored). ``state`` is ``open``
while the change is in progress, then ``committed``, ``restored``, ``rolled-back`` or
``recovered`` (an open checkpoint left by a process that died, restored by the next run).
Files are written through a temporary file in the same directory and renamed into place,
keeping their mode and owner.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certbot_like.errors import InstallerError

logger = logging.getLogger(__name__)

BACKUP_DIR = "nginx-backups"
MANIFEST = "manifest.json"


def _sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def atomic_write(
    path: str, data: bytes, mode: int | None = None, owner: tuple[int, int] | None = None
) -> None:
    """Replace *path* with *data* atomically, keeping (or setting) its mode and owner.

    Raises:
        OSError: the directory is not writable or the disk is full.
    """
    directory = os.path.dirname(path) or "."
    try:
        info = os.stat(path)
        mode = info.st_mode & 0o7777 if mode is None else mode
        owner = (info.st_uid, info.st_gid) if owner is None else owner
    except FileNotFoundError:
        mode = 0o644 if mode is None else mode
    fd, tmp = tempfile.mkstemp(prefix=".certbot-like-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if owner is not None and os.geteuid() == 0:
            os.chown(tmp, *owner)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass
class Checkpoint:
    """One change to the configuration, as a directory of backups and a manifest."""

    directory: Path
    manifest: dict[str, Any]

    @property
    def state(self) -> str:
        return str(self.manifest["state"])

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def description(self) -> str:
        return str(self.manifest["description"])

    @property
    def paths(self) -> list[str]:
        return [str(f["path"]) for f in self.manifest["files"]]

    def _store(self) -> None:
        _private_dir(self.directory)
        atomic_write(
            str(self.directory / MANIFEST),
            json.dumps(self.manifest, indent=2).encode(),
            mode=0o600,
        )

    def save(self, path: str) -> None:
        """Back *path* up unless this checkpoint already holds it.

        Raises:
            InstallerError: the backup cannot be written.
        """
        if path in self.paths:
            return
        data = _read(path)
        entry: dict[str, Any] = {"path": path, "existed": data is not None}
        entry["before"] = _sha256(data)
        if data is not None:
            info = os.stat(path)
            entry.update(mode=info.st_mode & 0o7777, uid=info.st_uid, gid=info.st_gid)
            entry["backup"] = f"files/{len(self.manifest['files'])}"
        try:
            if data is not None:
                _private_dir(self.directory / "files")
                atomic_write(str(self.directory / entry["backup"]), data, mode=0o600)
            self.manifest["files"].append(entry)
            self._store()
        except OSError as exc:
            raise InstallerError(
                f"Cannot back up {path} under {self.directory}: {exc.strerror or exc}",
                "Check that the work directory (--work-dir) is writable; nothing was changed",
            ) from None

    def write(self, path: str, data: bytes) -> None:
        """Back *path* up, then replace it with *data*.

        Raises:
            InstallerError: the backup or the write failed.
        """
        self.save(path)
        try:
            atomic_write(path, data)
        except OSError as exc:
            raise InstallerError(f"Cannot write {path}: {exc.strerror or exc}") from None

    def restore(self, state: str = "restored") -> list[str]:
        """Put every file back as it was (files that did not exist are removed).

        Raises:
            InstallerError: a file could not be restored (the others were).
        """
        failed: list[str] = []
        for entry in reversed(self.manifest["files"]):
            try:
                self._restore_one(entry)
            except OSError as exc:
                failed.append(f"{entry['path']} ({exc.strerror or exc})")
        self.manifest["state"] = state if not failed else "restore-failed"
        with contextlib.suppress(OSError):
            self._store()
        if failed:
            raise InstallerError(
                f"Could not restore {', '.join(failed)}",
                f"Copy the files back by hand from {self.directory}/files (see manifest.json)",
            )
        return self.paths

    def _restore_one(self, entry: dict[str, Any]) -> None:
        path = str(entry["path"])
        if not entry["existed"]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return
        data = (self.directory / str(entry["backup"])).read_bytes()
        if _read(path) == data:
            return
        atomic_write(
            path, data, mode=int(entry["mode"]), owner=(int(entry["uid"]), int(entry["gid"]))
        )

    def commit(self) -> None:
        """Record the files as they are now: the change is done and can be rolled back."""
        for entry in self.manifest["files"]:
            entry["after"] = _sha256(_read(str(entry["path"])))
        self.manifest["state"] = "committed"
        with contextlib.suppress(OSError):
            self._store()

    def changed_since_commit(self) -> list[str]:
        """Files whose content is no longer what this change left."""
        return [
            str(e["path"])
            for e in self.manifest["files"]
            if _sha256(_read(str(e["path"]))) != e.get("after")
        ]

    def discard(self) -> None:
        """Delete the checkpoint directory."""
        shutil.rmtree(self.directory, ignore_errors=True)


class Backups:
    """The checkpoints kept under ``<work_dir>/nginx-backups``."""

    def __init__(self, work_dir: Path) -> None:
        self.base = Path(work_dir) / BACKUP_DIR

    def new(self, kind: str, description: str) -> Checkpoint:
        """A new open checkpoint (its directory appears with the first backup)."""
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        directory = self.base / f"{stamp}-{kind}"
        suffix = 1
        while directory.exists():
            suffix += 1
            directory = self.base / f"{stamp}-{kind}-{suffix}"
        manifest = {
            "version": 1,
            "kind": kind,
            "description": description,
            "created": stamp,
            "pid": os.getpid(),
            "state": "open",
            "files": [],
        }
        return Checkpoint(directory, manifest)

    def all(self) -> list[Checkpoint]:
        """Every readable checkpoint, oldest first."""
        found: list[Checkpoint] = []
        if not self.base.is_dir():
            return found
        for directory in sorted(self.base.iterdir()):
            try:
                manifest = json.loads((directory / MANIFEST).read_text())
            except (OSError, ValueError):
                continue
            found.append(Checkpoint(directory, manifest))
        return found

    def recover(self) -> list[Checkpoint]:
        """Restore the open checkpoints of processes that died mid-change.

        Raises:
            InstallerError: a file could not be restored.
        """
        recovered = []
        for checkpoint in self.all():
            if checkpoint.state != "open" or _alive(int(checkpoint.manifest.get("pid", 0))):
                continue
            logger.warning(
                "Restoring %s left unfinished by process %s: %s",
                checkpoint.directory.name,
                checkpoint.manifest.get("pid"),
                ", ".join(checkpoint.paths),
            )
            checkpoint.restore("recovered")
            recovered.append(checkpoint)
        return recovered

    def latest_committed(self) -> Checkpoint | None:
        """The newest committed installation, the one ``rollback`` undoes."""
        for checkpoint in reversed(self.all()):
            if checkpoint.kind == "install" and checkpoint.state == "committed":
                return checkpoint
        return None


def _private_dir(path: Path) -> None:
    """Create *path* and its parents up to ``nginx-backups`` readable by the owner only
    (the backups are copies of configuration files, which may hold secrets)."""
    path.mkdir(parents=True, exist_ok=True)
    for directory in (path, *path.parents):
        os.chmod(directory, 0o700)
        if directory.name == BACKUP_DIR:
            break


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
