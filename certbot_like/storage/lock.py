"""Kernel file locks that die with their process.

The run lock is a POSIX record lock (``lockf``) on ``<dir>/.certbot.lock``, the same file and
lock type certbot uses, so certbot and certbot-like never run on one directory at once. A
lock left by a killed process is released by the kernel: a stale lock file never blocks.
Per-lineage locks (``flock`` on ``<work-dir>/locks/<name>.lock``) let parallel renewals in one
process, and separate processes, each take a lineage at most once.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from pathlib import Path
from types import TracebackType

from certbot_like.errors import LockError, StorageError

LOCK_NAME = ".certbot.lock"


class DirLock:
    """An exclusive, non-blocking ``lockf`` lock on ``directory/.certbot.lock``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or fail at once.

        Raises:
            LockError: another process holds it.
            StorageError: the lock file cannot be created.
        """
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise StorageError(
                f"Cannot create lock file {self.path}: {os.strerror(exc.errno or 0)}",
                "Check that the directory exists and is writable",
            ) from exc
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                raise LockError(
                    f"Another certbot or certbot-like run is using {self.directory}",
                    "Wait for it to finish (a lock left by a killed run is freed automatically)",
                ) from None
            raise
        self._fd = fd

    def release(self) -> None:
        """Release the lock (closing the descriptor drops it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DirLock:
        self.acquire()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class MultiDirLock:
    """Locks several directories in a fixed order (config, work, logs), all or none."""

    def __init__(self, directories: list[Path]) -> None:
        unique: list[Path] = []
        for directory in directories:
            if directory.resolve() not in [d.resolve() for d in unique]:
                unique.append(directory)
        self._locks = [DirLock(d) for d in unique]

    def __enter__(self) -> MultiDirLock:
        taken: list[DirLock] = []
        try:
            for lock in self._locks:
                lock.acquire()
                taken.append(lock)
        except BaseException:
            for lock in reversed(taken):
                lock.release()
            raise
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        for lock in reversed(self._locks):
            lock.release()


class LineageLock:
    """An exclusive ``flock`` per lineage, safe across threads and processes."""

    _guard = threading.Lock()

    def __init__(self, lock_dir: Path, lineage: str) -> None:
        self.path = lock_dir / f"{lineage}.lock"
        self.lineage = lineage
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False when another run holds it.

        Raises:
            StorageError: the lock file cannot be created.
        """
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise StorageError(
                f"Cannot create lock file {self.path}: {os.strerror(exc.errno or 0)}",
                "Check that the work directory is writable",
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
