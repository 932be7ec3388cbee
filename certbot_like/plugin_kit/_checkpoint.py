"""Checkpoints: each file saved before it changes, restored byte for byte on demand."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import threading
from pathlib import Path
from typing import Any, ClassVar

from certbot_like.errors import InstallerError
from certbot_like.plugin_kit._atomic import atomic_write, remove_stale_temps
from certbot_like.plugin_kit._manifest import (
    FORMAT_VERSION,
    MANIFEST,
    digest,
    private_dirs,
    process_token,
    upgrade,
    writer_alive,
)

logger = logging.getLogger(__name__)

_KIND = re.compile(r"^[a-z][a-z0-9-]*$")
_issued: set[Path] = set()  # checkpoint directories handed out by this process
_issued_lock = threading.Lock()


class Checkpoint:
    """One change to a server's configuration, and how to undo it (see the module doc).

    Made by :meth:`Backups.new`; record every file before changing it, with :meth:`write`
    (or :meth:`backup` when something else writes it) and :meth:`symlink`.
    """

    def __init__(
        self,
        directory: Path,
        manifest: dict[str, Any],
        *,
        base: Path | None = None,
        keep_restored: bool = True,
    ) -> None:
        self.directory = directory
        self.manifest = manifest
        self._base = base if base is not None else directory.parent
        self._keep_restored = keep_restored

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind"))

    @property
    def state(self) -> str:
        return str(self.manifest.get("state"))

    @property
    def description(self) -> str:
        return str(self.manifest.get("description") or self.directory.name)

    @property
    def created_at(self) -> str:
        """When the change began, as ``YYYYmmddTHHMMSS[.ffffffZ]`` in UTC."""
        return str(self.manifest.get("created_at", ""))

    @property
    def paths(self) -> list[str]:
        """Every file and link this change saved or created, in the order recorded."""
        return [str(entry["path"]) for entry in self.manifest["files"]]

    @property
    def saved_paths(self) -> list[str]:
        """The files that existed before this change (their copies are kept)."""
        return [str(e["path"]) for e in self.manifest["files"] if e["existed"]]

    @property
    def created_paths(self) -> list[str]:
        """The files and links this change created (removed by :meth:`restore`)."""
        return [str(e["path"]) for e in self.manifest["files"] if not e["existed"]]

    def _store(self) -> None:
        """Write the manifest atomically, creating the checkpoint's directory if need be.

        Raises:
            OSError: it could not be written.
        """
        private_dirs(self.directory, self._base)
        text = json.dumps(self.manifest, indent=2, sort_keys=True)
        atomic_write(self.directory / MANIFEST, text.encode(), mode=0o600)

    def _add(self, entry: dict[str, Any], data: bytes | None = None) -> None:
        """Record *entry* (and the copy *data*) on disk, before its file is touched.

        Raises:
            InstallerError: the copy or the manifest could not be written.
        """
        files: list[dict[str, Any]] = self.manifest["files"]
        try:
            if data is not None:
                private_dirs(self.directory / "files", self._base)
                atomic_write(self.directory / entry["backup"], data, mode=0o600)
            files.append(entry)
            self._store()
        except OSError as exc:
            if files and files[-1] is entry:
                files.pop()
            raise InstallerError(
                f"Cannot back up {entry['path']} under {self.directory}: {exc.strerror or exc}",
                "Check that the work directory (--work-dir) is writable; nothing was changed",
            ) from None

    def backup(self, path: str | os.PathLike[str]) -> None:
        """Save the file *path* before its first change in this checkpoint.

        A symbolic link is followed (the file it points to is saved); a path that does not
        exist yet is recorded as created by this change, so :meth:`restore` removes it.
        Nothing happens for a path this checkpoint already holds.

        Raises:
            InstallerError: *path* is unreadable, or the copy or the manifest could not be
                written (nothing was changed).
        """
        real = os.path.realpath(path)
        if real in self.paths:
            return
        try:
            with open(real, "rb") as handle:
                info, data = os.fstat(handle.fileno()), handle.read()
        except FileNotFoundError:
            self._add({"path": real, "existed": False, "type": "file", "before": None})
            return
        except OSError as exc:
            raise InstallerError(f"Cannot back up {real}: {exc.strerror or exc}") from None
        entry = {
            "path": real,
            "existed": True,
            "backup": f"files/{len(self.manifest['files'])}",
            "mode": stat.S_IMODE(info.st_mode),
            "uid": info.st_uid,
            "gid": info.st_gid,
            "before": "sha256:" + hashlib.sha256(data).hexdigest(),
        }
        self._add(entry, data)

    def write(self, path: str | os.PathLike[str], data: bytes, *, mode: int | None = None) -> None:
        """Back *path* up (or record it as created), then replace it with *data* atomically.

        A symbolic link is written through. An existing file keeps its mode and owner; a new
        one gets *mode* (default 0644).

        Raises:
            InstallerError: the backup or the write failed.
        """
        real = os.path.realpath(path)
        self.backup(real)
        try:
            atomic_write(real, data, mode=None if os.path.exists(real) else mode)
        except OSError as exc:
            raise InstallerError(f"Cannot write {real}: {exc.strerror or exc}") from None

    def symlink(self, link: str | os.PathLike[str], target: str) -> None:
        """Create the symbolic link *link* -> *target* (recorded first, so :meth:`restore`
        removes it).

        Raises:
            InstallerError: *link* exists, or it or the manifest could not be written.
        """
        path = os.path.abspath(link)
        if os.path.lexists(path):
            raise InstallerError(f"{path} already exists", "Remove it, or make the change by hand")
        entry = {"path": path, "existed": False, "type": "link", "target": target}
        self._add(entry | {"before": None})
        try:
            os.symlink(target, path)
        except OSError as exc:
            raise InstallerError(f"Cannot create the link {path}: {exc.strerror or exc}") from None

    def commit(self, description: str | None = None) -> None:
        """Record every file as this change left it: the checkpoint becomes what rollback
        undoes next (optionally with a new *description*). A checkpoint that recorded
        nothing leaves nothing on disk.

        Raises:
            InstallerError: the manifest could not be written (on disk the change is still
                open, so restore it: a later run would).
        """
        if description is not None:
            self.manifest["description"] = description
        for entry in self.manifest["files"]:
            entry["after"] = digest(str(entry["path"]))
        self.manifest["state"] = "committed"
        if not self.manifest["files"]:
            return
        try:
            self._store()
        except OSError as exc:
            raise InstallerError(
                f"Cannot record the change in {self.directory}: {exc.strerror or exc}"
            ) from None

    def changed_since_commit(self) -> list[str]:
        """The files that are no longer as the committed change left them."""
        return [
            str(e["path"])
            for e in self.manifest["files"]
            if digest(str(e["path"])) != e.get("after")
        ]

    def restore(self, state: str = "restored") -> list[str]:
        """Put every saved file back byte for byte (with its mode and owner), remove the
        files and links this change created, mark the checkpoint *state* and return
        :attr:`paths`. Unless its :class:`Backups` keeps restored checkpoints, the directory
        is then deleted.

        Raises:
            InstallerError: a file could not be restored (the others were). The checkpoint
                is kept as ``restore-failed``; one that was still open is tried again by the
                next run's :meth:`Backups.recover`.
        """
        failed: list[str] = []
        for entry in reversed(self.manifest["files"]):
            try:
                self._restore_one(entry)
            except OSError as exc:
                failed.append(f"{entry['path']} ({exc.strerror or exc})")
        if failed:
            if self.state != "restore-failed":
                self.manifest["failed_from"] = self.state
            self.manifest["state"] = "restore-failed"
        else:
            self.manifest["state"] = state
        if self.manifest["files"]:
            with contextlib.suppress(OSError):
                self._store()
        if failed:
            raise InstallerError(
                f"Could not restore {', '.join(failed)}",
                f"Copy the files back by hand from {self.directory}/files (see manifest.json)",
            )
        if not self._keep_restored:
            self.discard()
        return self.paths

    def _restore_one(self, entry: dict[str, Any]) -> None:
        path = str(entry["path"])
        if not entry["existed"]:
            if entry.get("type") == "link":
                if os.path.islink(path) and os.readlink(path) == entry.get("target"):
                    os.unlink(path)
            elif os.path.isfile(path) and not os.path.islink(path):
                os.unlink(path)
            return
        data = (self.directory / str(entry["backup"])).read_bytes()
        mode, owner = int(entry["mode"]), (int(entry["uid"]), int(entry["gid"]))
        try:
            info: os.stat_result | None = os.lstat(path)
        except OSError:
            info = None
        if (
            info is not None
            and stat.S_ISREG(info.st_mode)
            and (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (mode, *owner)
            and Path(path).read_bytes() == data
        ):
            return  # unchanged: keep the file (and its inode) as it is
        atomic_write(path, data, mode=mode, owner=owner)

    def discard(self) -> None:
        """Delete the checkpoint's directory (its copies are gone for good)."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def summary(self, base: str | os.PathLike[str] | None = None) -> str:
        """``created X, Y; changed Z`` (paths under *base* shown relative to it)."""

        def shown(path: str) -> str:
            if base is not None and path.startswith(f"{os.fspath(base)}/"):
                return os.path.relpath(path, base)
            return path

        parts = []
        for verb, paths in (("created", self.created_paths), ("changed", self.saved_paths)):
            if paths:
                parts.append(f"{verb} {', '.join(shown(p) for p in sorted(paths))}")
        return "; ".join(parts) or "no files"


class Backups:
    """The checkpoints of one plugin, kept under the directory *base*.

    With ``keep_restored=False`` a checkpoint's directory is deleted once it is restored;
    by default it stays, marked ``restored``, ``rolled-back`` or ``recovered``. Subclasses
    may set :attr:`checkpoint_type` to a subclass of :class:`Checkpoint`.
    """

    checkpoint_type: ClassVar[type[Checkpoint]] = Checkpoint

    def __init__(self, base: str | os.PathLike[str], *, keep_restored: bool = True) -> None:
        self.base = Path(base)
        self.keep_restored = keep_restored

    def _make(self, directory: Path, manifest: dict[str, Any]) -> Checkpoint:
        return self.checkpoint_type(
            directory, manifest, base=self.base, keep_restored=self.keep_restored
        )

    def new(self, kind: str, description: str) -> Checkpoint:
        """A new open checkpoint of *kind* (a lower-case word, such as ``install``); nothing
        is written until the first file is recorded.

        Raises:
            ValueError: *kind* is not a lower-case word (it is part of a directory name).
        """
        if not _KIND.match(kind):
            raise ValueError(f"checkpoint kind {kind!r} is not a lower-case word")
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        with _issued_lock:
            directory, suffix = self.base / f"{stamp}-{kind}", 1
            while directory in _issued or directory.exists():
                suffix += 1
                directory = self.base / f"{stamp}-{kind}-{suffix}"
            _issued.add(directory)
        pid = os.getpid()
        manifest: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "kind": kind,
            "description": description,
            "created_at": stamp,
            "pid": pid,
            "process": process_token(pid),
            "state": "open",
            "files": [],
        }
        return self._make(directory, manifest)

    def all(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first (one without a readable manifest is skipped with a
        warning)."""
        try:
            directories = [d for d in self.base.iterdir() if d.is_dir()]
        except OSError:
            return []
        found = []
        for directory in directories:
            try:
                manifest = json.loads((directory / MANIFEST).read_text())
                if not isinstance(manifest, dict):
                    raise ValueError("not a JSON object")
                found.append(self._make(directory, upgrade(manifest)))
            except (OSError, ValueError, KeyError, TypeError):
                logger.warning("Ignoring %s: no readable %s", directory, MANIFEST)
        return sorted(found, key=lambda c: (c.created_at, c.directory.name))

    def recover(self, state: str = "recovered") -> list[Checkpoint]:
        """Restore every change left open (or half restored) by a process that is gone, and
        delete the temporary files its writes left; return those checkpoints, marked *state*.

        Raises:
            InstallerError: a file could not be restored (the next run tries again).
        """
        recovered = []
        for checkpoint in self.all():
            manifest = checkpoint.manifest
            interrupted = checkpoint.state == "open" or (
                checkpoint.state == "restore-failed" and manifest.get("failed_from") == "open"
            )
            if not interrupted or writer_alive(manifest):
                continue
            logger.warning(
                "Restoring %s left unfinished by process %s: %s",
                checkpoint.directory.name,
                manifest.get("pid") or manifest.get("process"),
                ", ".join(checkpoint.paths),
            )
            checkpoint.restore(state)
            for path in checkpoint.paths:
                remove_stale_temps(path)
            recovered.append(checkpoint)
        return recovered

    def latest_committed(self, kind: str | None = None) -> Checkpoint | None:
        """The newest committed checkpoint (of *kind* when given): what rollback undoes."""
        for checkpoint in reversed(self.all()):
            if checkpoint.state == "committed" and kind in (None, checkpoint.kind):
                return checkpoint
        return None

    def prune(self, keep: int) -> None:
        """Delete all but the newest *keep* committed checkpoints (older changes can then
        no longer be rolled back)."""
        committed = [c for c in self.all() if c.state == "committed"]
        for checkpoint in committed[: max(len(committed) - keep, 0)]:
            checkpoint.discard()
