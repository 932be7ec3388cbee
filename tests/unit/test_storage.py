"""Storage: atomic writes, modes whatever the umask, lineage versions and live links, locks."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from certbot_like.errors import LockError, StorageError
from certbot_like.storage import atomic
from certbot_like.storage.atomic import PRIVATE_MODE, write_file
from certbot_like.storage.layout import Layout
from certbot_like.storage.lineage import CertFiles, LineageStore, archive_versions
from certbot_like.storage.lock import DirLock, LineageLock


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / "etc", tmp_path / "work", tmp_path / "logs")


def files(tag: str) -> CertFiles:
    return CertFiles(
        privkey=f"key {tag}".encode(),
        cert=f"cert {tag}".encode(),
        chain=f"chain {tag}".encode(),
        fullchain=f"fullchain {tag}".encode(),
    )


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077, 0o777])
def test_private_files_are_0600_whatever_the_umask(tmp_path: Path, mask: int) -> None:
    old = os.umask(mask)
    try:
        write_file(tmp_path / "key.pem", b"secret", PRIVATE_MODE)
        write_file(tmp_path / "cert.pem", b"public", 0o644)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "cert.pem").stat().st_mode) == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "renewal.conf"
    target.write_bytes(b"old content")

    def failing_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(StorageError, match="disk is full"):
        write_file(target, b"new content")
    assert target.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["renewal.conf"]


def test_write_replaces_a_planted_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"untouched")
    target = tmp_path / "file"
    target.symlink_to(outside)
    write_file(target, b"data")
    assert outside.read_bytes() == b"untouched"
    assert not target.is_symlink() and target.read_bytes() == b"data"


def test_new_lineage_gets_version_one_with_relative_links(layout: Layout) -> None:
    store = LineageStore(layout)
    assert store.save_version("example.com", files("1")) == 1
    live = layout.live_dir("example.com")
    for kind in ("cert", "chain", "fullchain", "privkey"):
        assert os.readlink(live / f"{kind}.pem") == f"../../archive/example.com/{kind}1.pem"
    assert (live / "privkey.pem").read_bytes() == b"key 1"
    assert (
        stat.S_IMODE((layout.archive_dir("example.com") / "privkey1.pem").stat().st_mode) == 0o600
    )
    assert stat.S_IMODE(layout.live_root.stat().st_mode) == 0o700
    assert stat.S_IMODE(layout.archive_root.stat().st_mode) == 0o700
    assert (live / "README").exists()


def test_successor_moves_all_links_forward_and_keeps_the_old_archive(layout: Layout) -> None:
    store = LineageStore(layout)
    store.save_version("example.com", files("1"))
    inode_before = layout.live_dir("example.com").stat().st_ino
    assert store.save_version("example.com", files("2")) == 2
    live = layout.live_dir("example.com")
    assert store.current_version(live) == 2
    assert (live / "fullchain.pem").read_bytes() == b"fullchain 2"
    assert (layout.archive_dir("example.com") / "cert1.pem").read_bytes() == b"cert 1"
    assert live.stat().st_ino != inode_before, "the live directory was exchanged, not edited"
    assert not [p for p in layout.live_root.iterdir() if p.name.startswith(".")]


def test_version_numbers_never_go_backwards_after_a_partial_write(layout: Layout) -> None:
    store = LineageStore(layout)
    store.save_version("example.com", files("1"))
    # a crash left privkey2.pem behind without the other files or the link swap
    (layout.archive_dir("example.com") / "privkey2.pem").write_bytes(b"orphan")
    assert store.save_version("example.com", files("3")) == 3
    assert store.current_version(layout.live_dir("example.com")) == 3
    assert set(archive_versions(layout.archive_dir("example.com"))) == {1, 2, 3}


def test_renewed_key_keeps_the_group_and_group_read_bit_of_the_previous_key(layout: Layout) -> None:
    store = LineageStore(layout)
    store.save_version("example.com", files("1"))
    old_key = layout.archive_dir("example.com") / "privkey1.pem"
    os.chown(old_key, -1, 4)  # adm, as an administrator might
    os.chmod(old_key, 0o640)
    store.save_version("example.com", files("2"))
    new_key = layout.archive_dir("example.com") / "privkey2.pem"
    assert new_key.stat().st_gid == 4
    assert stat.S_IMODE(new_key.stat().st_mode) == 0o640


def test_fallback_without_exchange_still_points_every_link_at_the_new_version(
    layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LineageStore(layout)
    store.save_version("example.com", files("1"))
    monkeypatch.setattr("certbot_like.storage.lineage.exchange_paths", lambda a, b: False)
    store.save_version("example.com", files("2"))
    assert store.current_version(layout.live_dir("example.com")) == 2


def test_staging_directories_left_by_a_crash_are_cleaned(layout: Layout) -> None:
    store = LineageStore(layout)
    store.save_version("example.com", files("1"))
    leftover = layout.live_root / ".example.com.new-deadbeef"
    leftover.mkdir()
    store.cleanup_staging()
    assert not leftover.exists()
    assert layout.live_dir("example.com").exists()


def test_unused_name_counts_like_certbot(layout: Layout) -> None:
    store = LineageStore(layout)
    layout.renewal_dir.mkdir(parents=True)
    assert store.unused_name("a.test") == "a.test"
    (layout.renewal_dir / "a.test.conf").write_text("x")
    (layout.renewal_dir / "a.test-0001.conf").write_text("x")
    assert store.unused_name("a.test") == "a.test-0002"


def test_check_writable_catches_a_read_only_config_dir_before_any_request(tmp_path: Path) -> None:
    mount = tmp_path / "ro"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        layout = Layout(mount / "etc", tmp_path / "work", tmp_path / "logs")
        LineageStore(layout).ensure_roots()
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        with pytest.raises(StorageError, match="read-only"):
            LineageStore(layout).check_writable()
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_full_disk_leaves_the_previous_version_live(tmp_path: Path) -> None:
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        layout = Layout(mount / "etc", tmp_path / "work", tmp_path / "logs")
        store = LineageStore(layout)
        store.save_version("example.com", files("1"))
        big = CertFiles(privkey=b"k" * 200_000, cert=b"c", chain=b"c", fullchain=b"f")
        with pytest.raises(StorageError, match="disk is full"):
            store.save_version("example.com", big)
        live = layout.live_dir("example.com")
        assert store.current_version(live) == 1
        assert (live / "privkey.pem").read_bytes() == b"key 1"
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_dir_lock_excludes_another_process_and_dies_with_it(tmp_path: Path) -> None:
    code = (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(tmp_path / '.certbot.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.lockf(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockError, match="Another certbot"):
            DirLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.communicate()  # reaps it and closes our end of its stdout pipe
    lock = DirLock(tmp_path)
    lock.acquire()  # the kernel released the killed holder's lock
    lock.release()


def test_lineage_lock_is_exclusive_between_two_holders(tmp_path: Path) -> None:
    first, second = LineageLock(tmp_path, "a.test"), LineageLock(tmp_path, "a.test")
    assert first.try_acquire()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


def test_a_version_costs_one_fsync_per_file_and_one_per_directory(
    layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The four archive files are each fsynced, their directory once (not once per file);
    the live links' staging directory and live/ once each."""
    store = LineageStore(layout)
    store.save_version("example.com", files("1"))
    synced: list[str] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    store.save_version("example.com", files("2"))
    archive = str(layout.archive_dir("example.com"))
    temps = sorted(os.path.basename(p).split(".pem.")[0] for p in synced if p.endswith(".tmp"))
    assert temps == [".cert2", ".chain2", ".fullchain2", ".privkey2"]
    assert synced.count(archive) == 1
    assert synced.count(str(layout.live_root)) == 1
    assert len(synced) == 7  # 4 files + archive/NAME + the staging dir + live/
    assert (layout.live_dir("example.com") / "cert.pem").read_bytes() == files("2").cert
