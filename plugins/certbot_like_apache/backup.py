"""Checkpoints of Apache's configuration under ``<work_dir>/apache-backups/``.

Every change runs inside a checkpoint, a directory ``NNNN-<time>-<kind>/`` holding a copy of
each file before its first change (bytes, mode, owner) and ``manifest.json``, which also lists
every file and link the change created. The manifest is written (atomically, fsynced) before
the file it describes is touched, so an interrupted run can always be undone.

- ``restore()`` puts every saved file back byte for byte and removes what was created; the
  checkpoint is then deleted. The installer restores on any failure; the authenticator
  restores its temporary challenge configuration after validation.
- ``commit()`` records a digest of each file as the change left it: the checkpoint becomes
  the target of ``certbot-like rollback``, which refuses to overwrite a file edited since.
- A checkpoint still ``in-progress`` whose process is gone was interrupted (crash, kill):
  :meth:`Backups.recover_interrupted` restores it before the next change.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from certbot_like.errors import InstallerError

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
KEEP_COMMITTED = 20


def _process_token(pid: int) -> str | None:
    """``pid:starttime`` of a live process (so a reused pid is not taken for ours)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            start = handle.read().rsplit(")", 1)[1].split()[19]
        return f"{pid}:{start}"
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return f"{pid}:?"


def digest(path: str) -> str | None:
    """What *path* is now: ``link:<target>``, ``sha256:<hex>`` or ``None`` when missing."""
    if os.path.islink(path):
        return "link:" + os.readlink(path)
    try:
        with open(path, "rb") as handle:
            return "sha256:" + hashlib.sha256(handle.read()).hexdigest()
    except FileNotFoundError:
        return None


def _write_atomic(path: str, data: bytes, mode: int, owner: tuple[int, int] | None) -> None:
    temp = f"{path}.certbot-like-tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
        if owner is not None:
            with contextlib.suppress(PermissionError):
                os.fchown(fd, *owner)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)


class Checkpoint:
    """One change (or one temporary challenge configuration) and how to undo it."""

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest

    @property
    def state(self) -> str:
        return str(self.manifest.get("state"))

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind"))

    @property
    def description(self) -> str:
        return str(self.manifest.get("description") or self.path.name)

    def _save(self) -> None:
        """Write the manifest (atomically).

        Raises:
            InstallerError: it could not be written (nothing it describes was touched yet).
        """
        data = json.dumps(self.manifest, indent=1, sort_keys=True).encode()
        try:
            _write_atomic(str(self.path / MANIFEST), data, 0o600, None)
        except OSError as exc:
            raise InstallerError(
                f"Could not write the backup manifest in {self.path}: {exc}"
            ) from exc

    def _saved_paths(self) -> set[str]:
        return {entry["path"] for entry in self.manifest["files"]}

    def _created_paths(self) -> set[str]:
        return {entry["path"] for entry in self.manifest["created"]}

    def backup(self, path: str) -> None:
        """Save *path* (an existing regular file) before its first change in this checkpoint.

        Raises:
            InstallerError: the copy could not be made (nothing was changed yet).
        """
        path = os.path.realpath(path)
        if path in self._saved_paths() or path in self._created_paths():
            return
        index = len(self.manifest["files"])
        copy = self.path / f"file-{index:04d}"
        try:
            info = os.stat(path)
            with open(path, "rb") as handle:
                data = handle.read()
            _write_atomic(str(copy), data, 0o600, None)
        except OSError as exc:
            raise InstallerError(f"Could not back up {path}: {exc}") from exc
        self.manifest["files"].append(
            {
                "path": path,
                "copy": copy.name,
                "mode": info.st_mode & 0o7777,
                "uid": info.st_uid,
                "gid": info.st_gid,
            }
        )
        self._save()

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Create or replace the regular file *path* with *data* (backed up or recorded
        first).

        Raises:
            InstallerError: the file could not be written.
        """
        path = os.path.abspath(path)
        if os.path.lexists(path):
            self.backup(path)
            info = os.stat(path)
            mode, owner = info.st_mode & 0o7777, (info.st_uid, info.st_gid)
        else:
            self._record_created(path, "file")
            owner = None
        try:
            _write_atomic(os.path.realpath(path), data, mode, owner)
        except OSError as exc:
            raise InstallerError(f"Could not write {path}: {exc}") from exc

    def symlink(self, link: str, target: str) -> None:
        """Create the symbolic link *link* -> *target* (as a2enmod and a2ensite do).

        Raises:
            InstallerError: *link* exists or cannot be created.
        """
        if os.path.lexists(link):
            raise InstallerError(f"{link} already exists", "Remove it or enable it by hand")
        self._record_created(link, "link", target)
        try:
            os.symlink(target, link)
        except OSError as exc:
            raise InstallerError(f"Could not create the link {link}: {exc}") from exc

    def _record_created(self, path: str, kind: str, target: str | None = None) -> None:
        self.manifest["created"].append({"path": path, "type": kind, "target": target})
        self._save()

    def commit(self, description: str) -> None:
        """Mark the change as done: it becomes what ``rollback`` undoes next."""
        paths = self._saved_paths() | self._created_paths()
        self.manifest["after"] = {path: digest(path) for path in sorted(paths)}
        self.manifest["state"] = "committed"
        self.manifest["description"] = description
        self._save()

    def touched(self) -> list[str]:
        """Every file this checkpoint saved or created."""
        return sorted(self._saved_paths() | self._created_paths())

    def summary(self, base: Path) -> str:
        """``created X, Y; changed Z`` with paths under *base* shown relative to it."""

        def shown(path: str) -> str:
            return os.path.relpath(path, base) if path.startswith(f"{base}/") else path

        parts = []
        for verb, paths in (("created", self._created_paths()), ("changed", self._saved_paths())):
            if paths:
                parts.append(f"{verb} {', '.join(shown(p) for p in sorted(paths))}")
        return "; ".join(parts) or "no files"

    def changed_since_commit(self) -> list[str]:
        """Files that are no longer as the committed change left them."""
        after: dict[str, str | None] = self.manifest.get("after", {})
        return [path for path, value in after.items() if digest(path) != value]

    def restore(self) -> None:
        """Put every saved file back byte for byte, remove what was created, forget this
        checkpoint.

        Raises:
            InstallerError: a file could not be restored (the checkpoint is kept, so the
                next run tries again).
        """
        problems = []
        for entry in self.manifest["files"]:
            try:
                data = (self.path / entry["copy"]).read_bytes()
                _write_atomic(entry["path"], data, entry["mode"], (entry["uid"], entry["gid"]))
            except OSError as exc:
                problems.append(f"{entry['path']}: {exc}")
        for entry in reversed(self.manifest["created"]):
            path = entry["path"]
            try:
                if entry["type"] == "link":
                    if os.path.islink(path) and os.readlink(path) == entry["target"]:
                        os.unlink(path)
                elif os.path.isfile(path) and not os.path.islink(path):
                    os.unlink(path)
            except OSError as exc:
                problems.append(f"{path}: {exc}")
        if problems:
            raise InstallerError(
                f"Could not restore {'; '.join(problems)}",
                f"The saved copies are in {self.path}",
            )
        shutil.rmtree(self.path, ignore_errors=True)


class Backups:
    """The checkpoints of one work directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def all(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first (unreadable ones are skipped with a warning)."""
        if not self.root.is_dir():
            return []
        found = []
        for entry in sorted(self.root.iterdir(), key=lambda p: p.name):
            try:
                manifest = json.loads((entry / MANIFEST).read_text())
            except (OSError, ValueError):
                logger.warning("Ignoring %s: no readable %s", entry, MANIFEST)
                continue
            found.append(Checkpoint(entry, manifest))
        return found

    def begin(self, kind: str, description: str) -> Checkpoint:
        """Start a checkpoint (``change`` for the installer, ``temporary`` for challenges).

        Raises:
            InstallerError: the backup directory cannot be written.
        """
        existing = self.all()
        number = int(existing[-1].path.name.split("-", 1)[0]) + 1 if existing else 1
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        path = self.root / f"{number:06d}-{stamp}-{kind}"
        token = _process_token(os.getpid())
        manifest = {
            "version": 1,
            "kind": kind,
            "state": "in-progress",
            "process": token,
            "created_at": stamp,
            "description": description,
            "files": [],
            "created": [],
        }
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.mkdir(mode=0o700)
        except OSError as exc:
            raise InstallerError(f"Could not create the backup directory {path}: {exc}") from exc
        checkpoint = Checkpoint(path, manifest)
        checkpoint._save()
        return checkpoint

    def recover_interrupted(self) -> list[str]:
        """Restore every in-progress checkpoint whose process is gone; their descriptions.

        Raises:
            InstallerError: one could not be restored.
        """
        recovered = []
        for checkpoint in self.all():
            if checkpoint.state != "in-progress":
                continue
            token = str(checkpoint.manifest.get("process") or "")
            pid = token.split(":", 1)[0]
            if pid.isdigit() and _process_token(int(pid)) == token:
                continue  # still running (another thread or process of ours)
            checkpoint.restore()
            recovered.append(checkpoint.description)
        return recovered

    def latest_committed(self) -> Checkpoint | None:
        """The newest committed change (what ``rollback`` undoes)."""
        committed = [c for c in self.all() if c.state == "committed" and c.kind == "change"]
        return committed[-1] if committed else None

    def prune(self, keep: int = KEEP_COMMITTED) -> None:
        """Forget all but the newest *keep* committed changes."""
        committed = [c for c in self.all() if c.state == "committed"]
        for checkpoint in committed[:-keep] if len(committed) > keep else []:
            shutil.rmtree(checkpoint.path, ignore_errors=True)
