"""Checkpoints (byte-for-byte restore, rollback, crash recovery) and the TLS options file."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from certbot_like_nginx import options_ssl
from certbot_like_nginx.backup import Backups

from certbot_like.errors import InstallerError


def test_files_are_restored_byte_for_byte_with_their_mode_and_new_files_removed(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site"
    site.write_bytes(b"server {\r\n\tlisten 80;\xff\r\n}\r\n")
    site.chmod(0o640)
    checkpoint = Backups(tmp_path / "work").new("install", "deployment of a")
    checkpoint.write(str(site), b"changed")
    checkpoint.write(str(site), b"changed twice")  # backed up once: the original
    checkpoint.write(str(tmp_path / "new.conf"), b"new")

    assert checkpoint.restore() == [str(site), str(tmp_path / "new.conf")]

    assert site.read_bytes() == b"server {\r\n\tlisten 80;\xff\r\n}\r\n"
    assert site.stat().st_mode & 0o777 == 0o640
    assert not (tmp_path / "new.conf").exists()
    manifest = json.loads((checkpoint.directory / "manifest.json").read_text())
    assert manifest["state"] == "restored"
    assert (checkpoint.directory.stat().st_mode & 0o777) == 0o700


def test_nothing_is_written_under_work_dir_until_a_file_changes(tmp_path: Path) -> None:
    Backups(tmp_path / "work").new("install", "nothing")
    assert not (tmp_path / "work").exists()


def test_rollback_takes_the_newest_committed_installation(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.write_text("v1")
    backups = Backups(tmp_path / "work")
    first = backups.new("install", "first")
    first.write(str(site), b"v2")
    first.commit()
    second = backups.new("install", "second")
    second.write(str(site), b"v3")
    second.commit()
    backups.new("challenge", "tmp").write(str(tmp_path / "x"), b"x")

    latest = backups.latest_committed()
    assert latest is not None and latest.description == "second"
    assert latest.changed_since_commit() == []
    latest.restore("rolled-back")
    assert site.read_text() == "v2"
    again = backups.latest_committed()
    assert again is not None and again.description == "first"


def test_a_file_edited_after_the_change_is_noticed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.write_text("v1")
    checkpoint = Backups(tmp_path / "work").new("install", "one")
    checkpoint.write(str(site), b"v2")
    checkpoint.commit()
    site.write_text("edited by the admin")
    assert checkpoint.changed_since_commit() == [str(site)]


def test_an_unfinished_change_of_a_dead_process_is_restored(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.write_text("original")
    backups = Backups(tmp_path / "work")
    checkpoint = backups.new("challenge", "HTTP-01 challenges")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    checkpoint.manifest["pid"] = int(dead.stdout)
    checkpoint.write(str(site), b"with challenge lines")
    mine = backups.new("install", "in progress here")
    mine.write(str(tmp_path / "other"), b"mine")

    recovered = backups.recover()

    assert [c.description for c in recovered] == ["HTTP-01 challenges"]
    assert site.read_text() == "original"
    assert (tmp_path / "other").read_text() == "mine"  # our own open change is left alone


def test_a_failed_restore_says_where_the_backups_are(tmp_path: Path) -> None:
    directory = tmp_path / "conf"
    directory.mkdir()
    site = directory / "site"
    site.write_text("v1")
    checkpoint = Backups(tmp_path / "work").new("install", "one")
    checkpoint.write(str(site), b"v2")
    site.unlink()
    directory.rmdir()
    directory.write_text("not a directory any more")  # even root cannot write below it

    with pytest.raises(InstallerError, match=r"Copy the files back by hand from .*files"):
        checkpoint.restore()
    assert checkpoint.manifest["state"] == "restore-failed"


# -- options-ssl-nginx.conf ---------------------------------------------------------------


def test_the_options_file_is_written_with_its_digest(tmp_path: Path) -> None:
    checkpoint = Backups(tmp_path / "work").new("install", "x")
    assert options_ssl.ensure(tmp_path, checkpoint) is None
    path = tmp_path / "options-ssl-nginx.conf"
    assert path.read_text() == options_ssl.CONTENT
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in options_ssl.CONTENT
    assert "stapling" not in options_ssl.CONTENT
    digest = (tmp_path / ".updated-options-ssl-nginx-conf-digest.txt").read_text()
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_version_certbot_shipped_is_upgraded(tmp_path: Path) -> None:
    certbot = (
        Path(__file__).resolve().parents[1]
        / "data/nginx/certbot-managed/_config/options-ssl-nginx.conf"
    )
    path = tmp_path / "options-ssl-nginx.conf"
    path.write_bytes(certbot.read_bytes())
    assert hashlib.sha256(path.read_bytes()).hexdigest() in options_ssl.CERTBOT_HASHES
    assert options_ssl.ensure(tmp_path, Backups(tmp_path / "work").new("install", "x")) is None
    assert path.read_text() == options_ssl.CONTENT


def test_a_hand_edited_file_is_kept_and_the_warning_given_once(tmp_path: Path) -> None:
    path = tmp_path / "options-ssl-nginx.conf"
    path.write_text("ssl_protocols TLSv1.3;\n")
    backups = Backups(tmp_path / "work")
    warning = options_ssl.ensure(tmp_path, backups.new("install", "x"))
    assert warning is not None and "kept as it is" in warning
    assert path.read_text() == "ssl_protocols TLSv1.3;\n"
    assert options_ssl.ensure(tmp_path, backups.new("install", "y")) is None
