"""Atomic, durable replacement of one file (the kit's :func:`atomic_write`)."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile

DEFAULT_MODE = 0o644
TEMP_SUFFIX = ".certbot-like-tmp"


def _temp_prefix(target: str) -> str:
    return f".{os.path.basename(target)[:100]}."


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    mode: int | None = None,
    owner: tuple[int, int] | None = None,
) -> None:
    """Replace the file *path* with *data*, atomically and durably.

    The bytes go to a temporary dot file in the same directory (which nginx's and Apache's
    wildcard includes skip), are fsynced, and the temporary file is renamed over *path*;
    the directory is fsynced last. A symbolic link at *path* is followed: the file it points
    to is replaced and the link stays. *mode* and *owner* (uid, gid) default to those of the
    file replaced, else 0644 and the current user; an owner we may not set (not root) is
    left as ours.

    Raises:
        OSError: the directory is not writable, the disk is full or the rename failed;
            *path* is then as it was and no temporary file is left.
    """
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    try:
        info: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        info = None
    if mode is None:
        mode = DEFAULT_MODE if info is None else stat.S_IMODE(info.st_mode)
    if owner is None and info is not None:
        owner = (info.st_uid, info.st_gid)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=TEMP_SUFFIX, dir=directory)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if owner is not None:  # before the chmod: a chown may clear setuid/setgid bits
                with contextlib.suppress(PermissionError):
                    os.fchown(fd, *owner)
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename is done; some file systems refuse this
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def remove_stale_temps(path: str) -> None:
    """Delete the temporary files a killed :func:`atomic_write` of *path* left beside it
    (call only when no other process may be writing *path*)."""
    directory, prefix = os.path.dirname(path), _temp_prefix(path)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix) and name.endswith(TEMP_SUFFIX):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))
