"""Certificate lineages: ``archive/<name>/*N.pem`` versions and the ``live/<name>`` links.

Saving a version is crash-safe:

1. the four archive files of version N (N = highest number present + 1, so ``live/`` never
   moves backwards) are written atomically, the key first, 0600;
2. a complete new ``live`` directory (four relative links and the README) is built beside
   the old one and swapped in with one ``renameat2(RENAME_EXCHANGE)``, so a reader sees the
   old four links or the new four, never a mix (per-link renames where the file system
   cannot exchange; see docs/adr/0004-live-directory-exchange.md);
3. the renewal conf is written last: it is what makes a lineage exist for certbot and us.

A crash before step 3 of a new lineage leaves an orphan that the next ``obtain`` of the same
name adopts; a crash in step 1 or 2 of a renewal leaves the old version live.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Collection, Mapping
from pathlib import Path

from certbot_like.errors import StorageError
from certbot_like.storage.atomic import (
    PRIVATE_MODE,
    PUBLIC_MODE,
    exchange_paths,
    fsync_dir,
    make_dirs,
    remove_stale_temps,
    remove_tree,
    replace_symlink,
    storage_error,
    write_file,
    write_files,
)
from certbot_like.storage.layout import KINDS, Layout
from certbot_like.storage.store import CertFiles

_PUBLIC = ("cert", "chain", "fullchain")  # the kinds written world-readable

_VERSIONED = re.compile(r"^(cert|privkey|chain|fullchain)(\d+)\.pem$")
README_NAME = "README"
LIVE_README = (
    "This directory contains your keys and certificates.\n\n"
    "`privkey.pem`  : the private key for your certificate.\n"
    "`fullchain.pem`: the certificate file used in most server software.\n"
    "`chain.pem`    : used for OCSP stapling in Nginx >=1.3.7.\n"
    "`cert.pem`     : will break many server configurations, and should not be used\n"
    "                 without reading further documentation (see link below).\n\n"
    "WARNING: DO NOT MOVE OR RENAME THESE FILES!\n"
    "         Certbot and certbot-like expect these files to remain in this location in\n"
    "         order to function properly!\n\n"
    "We recommend not moving these files. For more information, see the Certbot\n"
    "User Guide at https://certbot.eff.org/docs/using.html#where-are-my-certificates.\n"
)
ROOT_README = (
    LIVE_README.replace("`privkey", "`[cert name]/privkey")
    .replace("`fullchain", "`[cert name]/fullchain")
    .replace("`chain", "`[cert name]/chain")
    .replace("`cert.pem", "`[cert name]/cert.pem")
)


def archive_versions(archive_dir: Path) -> dict[int, set[str]]:
    """Version number -> kinds present in *archive_dir*."""
    versions: dict[int, set[str]] = {}
    try:
        entries = os.listdir(archive_dir)
    except FileNotFoundError:
        return versions
    except OSError as exc:
        raise storage_error(exc, "read", archive_dir) from exc
    for entry in entries:
        match = _VERSIONED.match(entry)
        if match:
            versions.setdefault(int(match.group(2)), set()).add(match.group(1))
    return versions


def link_version(link: Path) -> int | None:
    """The version a ``live/<name>/<kind>.pem`` link points at, or None if not a versioned link."""
    try:
        target = os.readlink(link)
    except OSError:
        return None
    return version_of_target(target)


def version_of_target(target: str) -> int | None:
    """The version of a link target such as ``../../archive/x/cert3.pem`` (None if none)."""
    match = _VERSIONED.match(os.path.basename(target))
    return int(match.group(2)) if match else None


def read_small(path: str) -> bytes:
    """A small file's bytes with the fewest system calls (``certificates`` reads two files
    per lineage; ``Path.read_bytes`` costs three times as much).

    Raises:
        OSError: it cannot be opened or read.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = [os.read(fd, 1 << 16)]
        while chunks[-1]:
            chunks.append(os.read(fd, 1 << 16))
    finally:
        os.close(fd)
    return b"".join(chunks)


class LineageStore:
    """Creates and updates lineages under one :class:`Layout`."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    # -- preparation ----------------------------------------------------------------------

    def ensure_roots(self) -> None:
        """Create ``archive/``, ``live/`` (0700), ``renewal/`` and the hook directories.

        Raises:
            StorageError: a directory cannot be created.
        """
        make_dirs(self.layout.config_dir, 0o755)
        for directory, mode in (
            (self.layout.archive_root, 0o700),
            (self.layout.live_root, 0o700),
            (self.layout.renewal_dir, 0o755),
        ):
            make_dirs(directory, mode)
        for sub in ("pre", "deploy", "post"):
            make_dirs(self.layout.hooks_dir / sub, 0o755)
        readme = self.layout.live_root / README_NAME
        if not readme.exists():
            write_file(readme, ROOT_README.encode(), PUBLIC_MODE)

    def check_writable(self) -> None:
        """Prove the config directory accepts writes, before any request to a CA.

        Raises:
            StorageError: read-only file system, full disk or permission problem.
        """
        self.ensure_roots()
        for directory in (self.layout.archive_root, self.layout.renewal_dir):
            probe = directory / f".write-test-{os.urandom(4).hex()}"
            try:
                fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    os.write(fd, b"x")
                    os.fsync(fd)
                finally:
                    os.close(fd)
                    with contextlib.suppress(OSError):
                        os.unlink(probe)
            except OSError as exc:
                raise storage_error(exc, "write to", directory) from exc

    # -- saving ---------------------------------------------------------------------------

    def save_version(
        self,
        name: str,
        files: CertFiles,
        archive_dir: Path | None = None,
        live_dir: Path | None = None,
    ) -> int:
        """Store *files* as the next version of lineage *name* and point ``live/`` at it.

        Works for a new lineage (creating the directories) and for a renewal.

        Returns:
            The new version number.

        Raises:
            StorageError: anything failed; the previous live version is still in place.
        """
        self.ensure_roots()
        archive = archive_dir or self.layout.archive_dir(name)
        live = live_dir or self.layout.live_dir(name)
        make_dirs(archive, 0o755)
        remove_stale_temps(archive)  # half-written files of a killed run (we hold the lock)
        existing = archive_versions(archive)
        version = max(existing, default=0) + 1
        previous_key = live / "privkey.pem"
        key_mode = PRIVATE_MODE
        group_of: Path | None = None
        if previous_key.exists():
            group_of = previous_key
            key_mode |= previous_key.stat().st_mode & stat.S_IRGRP
        by_kind = files.by_kind()
        write_files(  # the key first, as before; one fsync of archive/NAME for the four
            [(archive / f"privkey{version}.pem", files.privkey, key_mode, group_of)]
            + [(archive / f"{k}{version}.pem", by_kind[k], PUBLIC_MODE, None) for k in _PUBLIC]
        )
        self._point_live(live, archive, version)
        return version

    def _point_live(self, live: Path, archive: Path, version: int) -> None:
        relative = os.path.relpath(archive, live)
        targets = {kind: os.path.join(relative, f"{kind}{version}.pem") for kind in KINDS}
        parent = live.parent
        make_dirs(parent, 0o700)
        staging = parent / f".{live.name}.new-{os.urandom(4).hex()}"
        try:
            os.mkdir(staging, 0o755)
            os.chmod(staging, 0o755)
            for kind, target in targets.items():
                os.symlink(target, staging / f"{kind}.pem")
            fd = os.open(staging / README_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, LIVE_README.encode())
            finally:
                os.close(fd)
            fsync_dir(staging)
        except OSError as exc:
            remove_tree(staging)
            raise storage_error(exc, "prepare links in", live) from exc
        if not live.exists() and not live.is_symlink():
            try:
                os.rename(staging, live)
                fsync_dir(parent)
            except OSError as exc:
                remove_tree(staging)
                raise storage_error(exc, "create", live) from exc
            return
        if live.is_dir() and not live.is_symlink() and exchange_paths(staging, live):
            fsync_dir(parent)
            remove_tree(staging)  # now holds the previous links
            return
        remove_tree(staging)
        # Fallback: one atomic rename per link; privkey and fullchain last-but-one/last.
        for kind in ("cert", "chain", "privkey", "fullchain"):
            replace_symlink(live / f"{kind}.pem", targets[kind])
        fsync_dir(live)

    # -- reading --------------------------------------------------------------------------

    def current_version(self, live: Path) -> int | None:
        """The version all four links agree on, or None when they disagree or are missing."""
        versions = {link_version(live / f"{kind}.pem") for kind in KINDS}
        if len(versions) == 1:
            return versions.pop()
        return None

    def read_live(
        self,
        live: Path,
        paths: Mapping[str, Path] | None = None,
        kinds: Collection[str] = KINDS,
    ) -> CertFiles:
        """Read the current files of a lineage (at *paths*, else in *live*); the kinds not
        in *kinds* are left empty.

        Raises:
            StorageError: a file or link is missing or unreadable.
        """
        data: dict[str, bytes] = dict.fromkeys(KINDS, b"")
        for kind in kinds:
            path = paths[kind] if paths is not None else live / f"{kind}.pem"
            try:
                data[kind] = read_small(os.fspath(path))
            except OSError as exc:
                raise storage_error(exc, "read", path) from exc
        return CertFiles(**data)

    def read_archive(
        self, archive: Path, version: int, kinds: Collection[str] = KINDS
    ) -> CertFiles:
        """Read the files of one archived *version* (the kinds not in *kinds* left empty).

        Raises:
            StorageError: a file is missing or unreadable.
        """
        data: dict[str, bytes] = dict.fromkeys(KINDS, b"")
        for kind in kinds:
            path = archive / f"{kind}{version}.pem"
            try:
                data[kind] = path.read_bytes()
            except OSError as exc:
                raise storage_error(exc, "read", path) from exc
        return CertFiles(**data)

    def cleanup_staging(self) -> None:
        """Remove what a killed run left: staging directories in ``live/``, temp files in
        ``renewal/`` (call under the run lock)."""
        remove_stale_temps(self.layout.renewal_dir)
        try:
            entries = os.listdir(self.layout.live_root)
        except OSError:
            return
        for entry in entries:
            if entry.startswith(".") and ".new-" in entry:
                remove_tree(self.layout.live_root / entry)

    def delete(
        self, name: str, archive_dir: Path | None = None, live_dir: Path | None = None
    ) -> None:
        """Remove a lineage: renewal conf first (so it stops existing), then live, archive.

        Raises:
            StorageError: the renewal conf cannot be removed.
        """
        conf = self.layout.renewal_conf(name)
        try:
            conf.unlink(missing_ok=True)
        except OSError as exc:
            raise storage_error(exc, "delete", conf) from exc
        remove_tree(live_dir or self.layout.live_dir(name))
        remove_tree(archive_dir or self.layout.archive_dir(name))

    def unused_name(self, name: str) -> str:
        """*name*, or *name*-0001, -0002 ... as certbot does when a lineage exists already."""
        if not self.layout.renewal_conf(name).exists():
            return name
        for counter in range(1, 10000):
            candidate = f"{name}-{counter:04d}"
            if not self.layout.renewal_conf(candidate).exists():
                return candidate
        raise StorageError(f"Too many lineages named {name}-NNNN", "Delete unused ones")
