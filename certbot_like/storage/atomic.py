"""Atomic, durable file operations: every write is temp file + fsync + rename.

A reader (nginx, certbot, another certbot-like) sees either the old or the new content,
never a half-written file, and a crash or a full disk leaves the old file in place.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from certbot_like.errors import StorageError

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")


TMP_NAME = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")


def remove_stale_temps(directory: Path) -> None:
    """Delete temp files a killed writer left in *directory* (call under the run lock)."""
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        if TMP_NAME.match(entry):
            _unlink_quietly(directory / entry)


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry change (rename, create) to disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def storage_error(exc: OSError, action: str, path: Path) -> StorageError:
    """Translate an OSError into a one-line :class:`StorageError` with a hint."""
    hints = {
        errno.ENOSPC: "The disk is full; free some space and run again",
        errno.EDQUOT: "The disk quota is exhausted; free some space and run again",
        errno.EROFS: "The file system is read-only; remount it read-write",
        errno.EACCES: "Permission denied; run as root or fix the directory's ownership",
        errno.EPERM: "Operation not permitted; run as root or fix the directory's ownership",
    }
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return StorageError(
        f"Could not {action} {path}: {reason}", hints.get(exc.errno or 0, "Nothing was changed")
    )


def write_file(
    path: Path,
    data: bytes | Iterable[bytes],
    mode: int = PUBLIC_MODE,
    *,
    group_of: Path | None = None,
) -> None:
    """Atomically replace *path* with *data*, created with exactly *mode* whatever the umask.

    With *group_of*, the new file takes that file's group (a renewed key keeps the group an
    administrator gave the previous one).

    *data* may be an iterable of chunks (large files are then never held in memory whole).

    Raises:
        StorageError: the write, fsync or rename failed; *path* is untouched.
    """
    write_files([(path, data, mode, group_of)])


FileToWrite = tuple[Path, "bytes | Iterable[bytes]", int, "Path | None"]
"""(path, data, mode, group_of) as :func:`write_file` takes them."""


def write_files(files: Iterable[FileToWrite]) -> None:
    """:func:`write_file` for several files, in order, with one fsync per directory.

    Each file is written to a temporary file, fsynced and renamed over its path as
    :func:`write_file` does; the directories are fsynced once each, after the last rename
    (a certificate version's four files cost five fsyncs, not eight).

    Raises:
        StorageError: a write, fsync or rename failed; the files before it are replaced
            (their directory not yet fsynced), it and the ones after it are untouched.
    """
    parents: dict[Path, Path] = {}
    for path, data, mode, group_of in files:
        _replace(path, data, mode, group_of)
        parents[path.parent] = path
    for parent, last in parents.items():
        try:
            fsync_dir(parent)
        except OSError as exc:
            raise storage_error(exc, "write", last) from exc


def _replace(path: Path, data: bytes | Iterable[bytes], mode: int, group_of: Path | None) -> None:
    """Temp file, fsync, rename over *path* (the directory is not fsynced here).

    Raises:
        StorageError: the write, fsync or rename failed; *path* is untouched.
    """
    tmp = _tmp_name(path)
    chunks = [data] if isinstance(data, bytes) else data
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        try:
            os.fchmod(fd, mode)  # the umask may have removed bits from *mode*
            if group_of is not None:
                try:
                    os.fchown(fd, -1, group_of.stat().st_gid)
                except OSError:
                    pass  # not fatal: the file is still private to its owner
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise storage_error(exc, "write", path) from exc


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def make_dirs(path: Path, mode: int = 0o755) -> None:
    """Create *path* and its parents with *mode* (umask-independent for the new ones).

    Raises:
        StorageError: a directory could not be created.
    """
    missing: list[Path] = []
    cur = path
    while not cur.exists():
        missing.append(cur)
        if cur.parent == cur:
            break
        cur = cur.parent
    try:
        for directory in reversed(missing):
            try:
                os.mkdir(directory, mode)
            except FileExistsError:
                continue
            os.chmod(directory, mode)
    except OSError as exc:
        raise storage_error(exc, "create directory", path) from exc


def replace_symlink(link: Path, target: str) -> None:
    """Atomically point *link* at *target* (a new link renamed over the old one).

    Raises:
        StorageError: the link could not be created or renamed.
    """
    tmp = _tmp_name(link)
    try:
        os.symlink(target, tmp)
        os.replace(tmp, link)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise storage_error(exc, "update link", link) from exc


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_libc: Any = None


def _renameat2() -> Any:
    """libc's ``renameat2`` through ctypes (imported here: only renewals need it)."""
    import ctypes
    import ctypes.util

    global _libc  # noqa: PLW0603 - loaded once, on first use
    if _libc is None:
        name = ctypes.util.find_library("c") or "libc.so.6"
        _libc = ctypes.CDLL(name, use_errno=True)
    func = getattr(_libc, "renameat2", None)
    if func is None:
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


def exchange_paths(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False when the kernel or file system cannot do it (the caller falls back).

    Raises:
        StorageError: the exchange failed for another reason.
    """
    import ctypes

    func = _renameat2()
    if func is None:
        return False
    res = func(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if res == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise storage_error(OSError(err, os.strerror(err)), "swap", b)


def remove_tree(path: Path) -> None:
    """Remove a directory tree we own, without following symlinks out of it."""
    if path.is_symlink() or path.is_file():
        _unlink_quietly(path)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
