"""A read-only or full config directory, end to end (docs/security.md, invariant 5).

The config directory is a tmpfs mounted for the test, holding a lineage Pebble issued. Made
read-only, or filled up, ``obtain --force-renewal`` and ``renew --force-renewal`` fail with
exit 7 and one line, before any request reaches the CA, and the old lineage stays live. With
room for the writability probe but not for the new version, the failure comes after the
issuance and still leaves the old version live; the next run with space converges.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.servers import Pebble
from tests.integration.checks import assert_lineage
from tests.integration.conftest import Client, Result, unique_name

RENEW = ["renew", "--force-renewal", "--no-random-sleep-on-renew"]
PAGE = 4096


@contextlib.contextmanager
def tmpfs(mount: Path, size: str) -> Iterator[Path]:
    mount.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def remount(mount: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mount)], check=True)


def tree(root: Path) -> dict[str, bytes | str]:
    """Every file's bytes and every link's target under *root* (fillers and probes aside)."""
    out: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = os.readlink(path)
        elif path.is_file() and not rel.startswith("filler") and not is_probe(path):
            out[rel] = path.read_bytes()
    return out


def is_probe(path: Path) -> bool:
    """The empty file ``check_writable`` creates to test a directory."""
    return path.name.startswith(".write-test-")


def fill(mount: Path) -> list[Path]:
    """Fill *mount* with one-page files until the file system is full."""
    fillers: list[Path] = []
    for index in range(100_000):
        path = mount / f"filler-{index}"
        try:
            with path.open("wb") as handle:
                handle.write(b"\0" * PAGE)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
            path.unlink(missing_ok=True)
            return fillers
        fillers.append(path)
    raise AssertionError("the tmpfs never filled up")


def assert_one_line_error(result: Result, code: int, words: str) -> None:
    assert result.returncode == code, result
    lines = result.stderr.strip().splitlines()
    # obtain says "Error: ..."; renew names the lineage that failed: "Failed: NAME: ..."
    assert len(lines) == 1 and lines[0].startswith(("Error: ", "Failed: ")), result
    assert words in lines[0].lower(), result
    assert "Traceback" not in result.stderr


def commands(client: Client, name: str) -> list[list[str]]:
    obtain = ["obtain", "-d", name, *client.standalone_args(), "--force-renewal"]
    return [obtain, RENEW]


def test_read_only_config_dir_fails_at_once_without_asking_the_ca(
    client: Client, pebble: Pebble
) -> None:
    with tmpfs(client.config_dir, "1m"):
        name = unique_name("ro")
        assert client.obtain(name).returncode == 0
        before = tree(client.config_dir)
        remount(client.config_dir, "ro")
        requests = len(pebble.request_lines())
        for command in commands(client, name):
            result = client.run(*command, register=False)
            assert_one_line_error(result, 7, "read-only")
        assert len(pebble.request_lines()) == requests, "a request reached the CA"
        assert tree(client.config_dir) == before
        assert_lineage(client.live(name), {name}, pebble.root_pem(), version=1)


def test_full_config_dir_fails_at_once_and_the_old_lineage_stays_live(
    client: Client, pebble: Pebble
) -> None:
    with tmpfs(client.config_dir, "256k"):
        name = unique_name("full")
        assert client.obtain(name).returncode == 0
        before = tree(client.config_dir)
        fill(client.config_dir)
        requests = len(pebble.request_lines())
        for command in commands(client, name):
            result = client.run(*command, register=False)
            assert_one_line_error(result, 7, "disk is full")
        assert len(pebble.request_lines()) == requests, "a request reached the CA"
        assert tree(client.config_dir) == before
        assert_lineage(client.live(name), {name}, pebble.root_pem(), version=1)


@pytest.mark.parametrize("command", ["obtain", "renew"])
def test_disk_full_after_the_issuance_keeps_the_old_version_and_the_next_run_converges(
    client: Client, pebble: Pebble, command: str
) -> None:
    """One free page: the probe passes, the new key fits, its certificate does not."""
    with tmpfs(client.config_dir, "256k"):
        name = unique_name("nearlyfull")
        assert client.obtain(name).returncode == 0
        old = {k: (client.live(name) / f"{k}.pem").read_bytes() for k in ("cert", "privkey")}
        fillers = fill(client.config_dir)
        fillers.pop().unlink()
        args = commands(client, name)[0 if command == "obtain" else 1]
        result = client.run(*args, register=False)
        assert_one_line_error(result, 7, "disk is full")
        live = client.live(name)
        assert_lineage(live, {name}, pebble.root_pem(), version=1)
        assert {k: (live / f"{k}.pem").read_bytes() for k in ("cert", "privkey")} == old
        assert not [p for p in (client.config_dir / "live").iterdir() if ".new-" in p.name]
        conf = client.config_dir / "renewal" / f"{name}.conf"
        assert not list(conf.parent.glob("*.tmp")), "a failed write leaves no temp file"

        for filler in fillers:
            filler.unlink()
        result = client.run(*RENEW, register=False)
        assert result.returncode == 0, result
        archive = client.config_dir / "archive" / name
        highest = max(int(p.stem[len("cert") :]) for p in archive.glob("cert*.pem"))
        assert highest >= 2
        assert_lineage(live, {name}, pebble.root_pem(), version=highest)


def test_the_writability_probe_leaves_nothing_behind_on_a_full_disk(
    client: Client, pebble: Pebble
) -> None:
    with tmpfs(client.config_dir, "256k"):
        assert client.obtain(unique_name("probe")).returncode == 0
        fill(client.config_dir)
        result = client.run(*RENEW, register=False)
        assert result.returncode == 7, result
        assert [p.name for p in client.config_dir.rglob("*") if is_probe(p)] == []
