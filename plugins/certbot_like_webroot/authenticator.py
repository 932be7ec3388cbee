"""The webroot authenticator: writes ``<webroot>/.well-known/acme-challenge/<token>``.

The webroot is usually writable by the web application, so anything below it may be a
symbolic link planted to make a root-run client overwrite or delete files elsewhere. The
webroot path itself (chosen by the operator) is resolved once; below it every step goes
through directory file descriptors opened with ``O_NOFOLLOW``, the challenge file is
created with ``O_CREAT | O_EXCL | O_NOFOLLOW``, and cleanup removes only the files and
directories this run created (checked by inode), never anything reached through a link.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from certbot_like.errors import PluginError
from certbot_like.interfaces import HTTP01, Authenticator, ChallengeTask, Identifier, PluginContext
from certbot_like_webroot import WebrootOptions, expand_map

logger = logging.getLogger(__name__)

CHALLENGE_DIRS = (".well-known", "acme-challenge")
DIR_MODE = 0o755
FILE_MODE = 0o644
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_SYMLINK = "is a symbolic link; refusing to write through it"


@dataclass(frozen=True)
class _Created:
    """Something this run created: *parts* below the resolved *root*, with its identity
    (inode; for a file also the content, as a freed inode number is soon reused)."""

    root: str
    parts: tuple[str, ...]
    dev: int
    ino: int
    content: bytes | None = None


class WebrootAuthenticator:
    """HTTP-01 through files in webroots: see :class:`certbot_like_webroot.WebrootOptions`."""

    def __init__(self, options: WebrootOptions, context: PluginContext) -> None:
        self.options = options
        self.context = context
        self._map = expand_map(options.webroot_map)
        self._files: dict[ChallengeTask, _Created] = {}
        self._dirs: list[_Created] = []  # in creation order, parents first

    def preferred_challenges(self, identifier: Identifier) -> Sequence[str]:
        """``["http-01"]``; nothing for a wildcard, which HTTP-01 cannot prove."""
        return [] if identifier.wildcard else [HTTP01]

    def prepare(self, challenge_types: Sequence[str]) -> None:
        """Check that a webroot is configured and every webroot is an existing directory.

        Raises:
            PluginError: no webroot given, or one is missing or not a directory.
        """
        roots = [*self.options.webroot_path, *self._map.values()]
        if not roots:
            raise PluginError(
                "No webroot given for the webroot plugin",
                "Give -w /path/to/webroot before the -d flags, or --webroot-map",
            )
        for root in dict.fromkeys(roots):
            if not os.path.isdir(root):
                problem = "is not a directory" if os.path.exists(root) else "does not exist"
                raise PluginError(f"The webroot {root} {problem}", "Create it or fix -w")

    def webroot_for(self, identifier: Identifier) -> str:
        """The webroot serving *identifier*: its ``--webroot-map`` entry, else the last ``-w``.

        Raises:
            PluginError: neither applies.
        """
        root = self._map.get(identifier.value.lower())
        if root is None and self.options.webroot_path:
            root = self.options.webroot_path[-1]
        if root is None:
            raise PluginError(
                f"No webroot for {identifier.value}",
                "Give -w before -d, or map it with --webroot-map",
            )
        return root

    def perform(self, tasks: Sequence[ChallengeTask]) -> None:
        """Write each task's key authorization to its webroot's challenge directory.

        Raises:
            PluginError: not an HTTP-01 task, no webroot for a name, a symbolic link or a
                non-directory on the way, or the write failed (what was written is cleaned
                up by :meth:`cleanup`).
        """
        for task in tasks:
            if task.kind != HTTP01:
                raise PluginError(
                    f"The webroot plugin cannot answer {task.kind} for {task.identifier.value}",
                    "Use --preferred-challenges http-01 or another authenticator",
                )
            if not task.token or task.token in (".", "..") or "/" in task.token:
                raise PluginError(f"Unusable challenge token {task.token!r}")
            root = os.path.realpath(self.webroot_for(task.identifier))
            try:
                self._write(root, task)
            except OSError as exc:
                path = os.path.join(root, *CHALLENGE_DIRS, task.token)
                raise PluginError(
                    f"Could not write {path}: {exc.strerror or exc}",
                    "Check the webroot's permissions and free space",
                ) from exc
            logger.debug("Wrote %s/%s/%s", root, "/".join(CHALLENGE_DIRS), task.token)

    def _write(self, root: str, task: ChallengeTask) -> None:
        fds = [os.open(root, _DIR_FLAGS)]
        try:
            root_stat = os.fstat(fds[0])
            for depth in range(1, len(CHALLENGE_DIRS) + 1):
                fds.append(self._enter(fds[-1], root, CHALLENGE_DIRS[:depth], root_stat))
            fd, token = fds[-1], task.token
            shown = os.path.join(root, *CHALLENGE_DIRS, token)
            with contextlib.suppress(FileNotFoundError):
                existing = os.stat(token, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISLNK(existing.st_mode):
                    raise PluginError(f"{shown} {_SYMLINK}", "Remove the link")
                if not stat.S_ISREG(existing.st_mode):
                    raise PluginError(f"{shown} exists and is not a regular file", "Remove it")
                os.unlink(token, dir_fd=fd)  # a regular file left over: replace it
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            file_fd = os.open(token, flags, FILE_MODE, dir_fd=fd)
            try:
                info = os.fstat(file_fd)
                content = task.key_authorization.encode("utf-8")
                self._files[task] = _Created(
                    root, (*CHALLENGE_DIRS, token), info.st_dev, info.st_ino, content
                )
                _own(file_fd, root_stat, FILE_MODE)
                data = memoryview(content)
                while data:
                    data = data[os.write(file_fd, data) :]
            finally:
                os.close(file_fd)
        finally:
            for fd in fds:
                os.close(fd)

    def _enter(
        self, parent: int, root: str, parts: tuple[str, ...], root_stat: os.stat_result
    ) -> int:
        """Open directory ``parts[-1]`` under the *parent* fd, creating it if absent."""
        name, shown = parts[-1], os.path.join(root, *parts)
        for _attempt in range(3):  # mkdir/open races with another writer
            try:
                return os.open(name, _DIR_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                info = os.stat(name, dir_fd=parent, follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    raise PluginError(f"{shown} {_SYMLINK}", "Remove the link") from exc
                raise PluginError(f"{shown} exists and is not a directory", "Remove it") from exc
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, DIR_MODE, dir_fd=parent)
                fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
                info = os.fstat(fd)
                self._dirs.append(_Created(root, parts, info.st_dev, info.st_ino))
                _own(fd, root_stat, DIR_MODE)
                return fd
        raise PluginError(f"Could not create {shown}", "Something keeps replacing it")

    def cleanup(self, tasks: Sequence[ChallengeTask]) -> None:
        """Remove the files written for *tasks*, then the directories we created if empty.

        Only a file still being the one we wrote (same inode, our content or part of it) is
        removed, only through ``O_NOFOLLOW`` directory descriptors. Never raises; tolerates
        tasks never performed and repeated calls.
        """
        for task in tasks:
            created = self._files.pop(task, None)
            if created is not None:
                self._remove(created, directory=False)
        for created in reversed(list(self._dirs)):
            if self._remove(created, directory=True):
                self._dirs.remove(created)

    @staticmethod
    def _remove(created: _Created, *, directory: bool) -> bool:
        """Remove *created* if it is still what we made; True when it is gone."""
        shown = os.path.join(created.root, *created.parts)
        fds: list[int] = []
        try:
            fds.append(os.open(created.root, _DIR_FLAGS))
            for name in created.parts[:-1]:
                fds.append(os.open(name, _DIR_FLAGS, dir_fd=fds[-1]))
            name = created.parts[-1]
            found = _identity(name, fds[-1], created.content is not None)
            if (
                found is None
                or found[:2] != (created.dev, created.ino)
                or not (created.content or b"").startswith(found[2] or b"")
            ):
                logger.debug("Not removing %s: it was replaced", shown)
                return True
            if directory:
                os.rmdir(name, dir_fd=fds[-1])
            else:
                os.unlink(name, dir_fd=fds[-1])
            logger.debug("Removed %s", shown)
            return True
        except FileNotFoundError:
            return True
        except OSError as exc:
            if not (directory and exc.errno in (errno.ENOTEMPTY, errno.EEXIST)):
                logger.warning("Could not remove %s: %s", shown, exc.strerror or exc)
            return False
        finally:
            for fd in fds:
                os.close(fd)


def _identity(name: str, dir_fd: int, with_content: bool) -> tuple[int, int, bytes | None] | None:
    """Device, inode and (for a regular file, when asked) content of *name*, or None."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    if not with_content:
        flags |= os.O_DIRECTORY
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENXIO):
            return None
        raise
    try:
        info = os.fstat(fd)
        if not with_content:
            return info.st_dev, info.st_ino, None
        if not stat.S_ISREG(info.st_mode):
            return None
        return info.st_dev, info.st_ino, os.read(fd, 65536)
    finally:
        os.close(fd)


def _own(fd: int, root_stat: os.stat_result, mode: int) -> None:
    """Give *fd* exactly *mode* and, when running as root, the webroot's owner and group."""
    os.fchmod(fd, mode)
    if os.geteuid() == 0:
        with contextlib.suppress(OSError):
            os.fchown(fd, root_stat.st_uid, root_stat.st_gid)


# The plugin's contract, checked by mypy: instances of WebrootAuthenticator are authenticators.
_authenticator: type[Authenticator] = WebrootAuthenticator
