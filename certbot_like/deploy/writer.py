"""Writing one deploy target: atomically, owner and mode set before the file appears, never
through a symlink another user planted, never inside the certificate store.

The content goes to a temporary file created empty with no permission bits in the target's
directory (``O_EXCL|O_NOFOLLOW``); it is given its owner, filled, fsynced, given its mode and
renamed over the target; the directory is fsynced last. A key therefore never exists on
disk, not even for an instant, readable by anyone the operator did not name.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from certbot_like.errors import DeployError

TRUSTED_OWNERS = frozenset({0, os.geteuid()})


@dataclass(frozen=True)
class FileState:
    """What is at a target path now (None: nothing there)."""

    data: bytes | None
    uid: int | None = None
    gid: int | None = None
    mode: int | None = None


def safe_path(path: Path, forbidden: Path) -> Path:
    """*path* with trusted symlinks resolved, after checking every component.

    A symlink (the target or a directory above it) owned by a user other than root or us
    is refused: another user could point it anywhere.

    Raises:
        DeployError: an untrusted symlink, a path inside *forbidden* (the config directory),
            or a parent that is not a directory.
    """
    current = Path(path.anchor)
    for part in path.parts[1:]:
        candidate = current / part
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            current = candidate
            continue
        except OSError as exc:
            raise _error(path, exc) from None
        if stat.S_ISLNK(info.st_mode):
            if info.st_uid not in TRUSTED_OWNERS:
                raise DeployError(
                    f"Deploy target {path}: {candidate} is a symlink owned by uid "
                    f"{info.st_uid}; refusing to follow it",
                    "Remove the link or point --deploy-to at a path only root controls",
                )
            candidate = Path(os.path.realpath(candidate))
        current = candidate
    resolved = current
    base = Path(os.path.realpath(forbidden))
    if resolved == base or base in resolved.parents:
        raise DeployError(
            f"Deploy target {path} is inside the certificate store {forbidden}",
            "Deploy outside it; live/ and archive/ belong to certbot-like and certbot",
        )
    return resolved


def current_state(path: Path) -> FileState:
    """The bytes, owner and mode of *path* (not following a final symlink).

    Raises:
        DeployError: it exists but cannot be read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return FileState(None)
    except OSError as exc:
        raise _error(path, exc) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DeployError(f"Deploy target {path} is not a regular file", "Remove it first")
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read()
        return FileState(data, info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode))
    finally:
        os.close(fd)


def write_target(path: Path, data: bytes, *, mode: int, owner: tuple[int, int] | None) -> None:
    """Replace *path* (already checked by :func:`safe_path`) with *data*.

    Raises:
        DeployError: the directory is missing or not writable, the disk is full, or the
            owner cannot be set (not root); *path* is then as it was.
    """
    directory = path.parent
    if not directory.is_dir():
        raise DeployError(
            f"Deploy target {path}: the directory {directory} does not exist",
            "Create it (with the owner and mode the service needs) or fix --deploy-to",
        )
    tmp = directory / f".{path.name[:80]}.{secrets.token_hex(6)}.certbot-like-tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0)
    except OSError as exc:
        raise _error(path, exc) from None
    try:
        try:
            if owner is not None:
                os.fchown(fd, *owner)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _error(path, exc) from None
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _error(path: Path, exc: OSError) -> DeployError:
    reason = exc.strerror or type(exc).__name__
    if exc.errno in (1, 13):  # EPERM, EACCES
        hint = "Run as root, or give the directory to the user running certbot-like"
    elif exc.errno == 28:  # ENOSPC
        hint = "Free some space"
    else:
        hint = "Fix the path given with --deploy-to"
    return DeployError(f"Cannot write deploy target {path}: {reason}", hint)
