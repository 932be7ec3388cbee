"""The plugin support kit: checkpoints (restore, rollback, crash recovery, the manifests of
earlier versions), atomic writes, the public surface plugins may use, and each plugin's
contract."""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from certbot_like import interfaces, plugin_kit
from certbot_like.errors import InstallerError
from certbot_like.interfaces import (
    Authenticator,
    HstsEnhancement,
    Installer,
    PluginSpec,
    RedirectEnhancement,
    RollbackCapable,
)
from certbot_like.plugin_kit import Backups, atomic_write

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if p.name.startswith("certbot_like_"))


# -- the public surface --------------------------------------------------------------------


def test_the_kit_exports_exactly_its_public_names() -> None:
    assert plugin_kit.__all__ == ["EXTRAS", "Backups", "Checkpoint", "ascii_name", "atomic_write"]
    for name in plugin_kit.__all__:
        assert getattr(plugin_kit, name).__doc__


def test_the_interfaces_export_exactly_their_public_names() -> None:
    assert interfaces.__all__ == [
        "CHALLENGE_TYPES",
        "DNS01",
        "ENTRY_POINT_GROUP",
        "HTTP01",
        "TLSALPN01",
        "Authenticator",
        "ChallengeBoard",
        "ChallengeRouting",
        "ChallengeTask",
        "DeployTarget",
        "Display",
        "HookResult",
        "HookRunner",
        "HstsEnhancement",
        "Identifier",
        "Installer",
        "NoOptions",
        "PluginContext",
        "PluginSpec",
        "RedirectEnhancement",
        "RollbackCapable",
        "option",
    ]
    tree = ast.parse(Path(interfaces.__file__).read_text())
    defined = {n.name for n in tree.body if isinstance(n, ast.ClassDef | ast.FunctionDef)}
    defined |= {
        t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
        if isinstance(t, ast.Name) and t.id != "__all__"
    }  # fmt: skip
    assert {name for name in defined if not name.startswith("_")} == set(interfaces.__all__)


def _core_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "certbot_like"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == (
            "certbot_like"
        ):
            if node.module == "certbot_like":
                found |= {f"certbot_like.{a.name}" for a in node.names}
            else:
                found.add(str(node.module))
    return found


def test_plugins_import_only_the_public_surface_of_certbot_like() -> None:
    allowed = {"certbot_like.interfaces", "certbot_like.errors", "certbot_like.plugin_kit"}
    offending = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in (ROOT / "plugins").rglob("*.py")
        for module in _core_imports(path) - allowed
    }
    assert offending == set()


@pytest.mark.parametrize("package", PLUGINS)
def test_every_plugin_states_and_keeps_its_contract(package: str) -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "plugins" / package).glob("*.py"))
    if package == "certbot_like_dns":  # the shared base: no factory, a checked function
        assert "def _contract(base: DnsAuthenticator[DnsOptions]) -> Authenticator" in source
        return
    spec: PluginSpec = importlib.import_module(package).PLUGIN
    factory = spec.load_factory()
    assert isinstance(factory, type)
    roles = {Authenticator: spec.authenticator, Installer: spec.installer}
    if spec.installer:
        roles |= {RedirectEnhancement: True, HstsEnhancement: True, RollbackCapable: True}
    for protocol, expected in roles.items():
        if expected:
            assert issubclass(factory, protocol), protocol.__name__
            assert f"type[{protocol.__name__}] = {factory.__name__}" in source


# -- checkpoints ---------------------------------------------------------------------------


def test_restore_puts_back_bytes_mode_and_removes_created_files_and_links(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site.conf"
    site.write_bytes(b"server {\r\n\tlisten 80;\xff\r\n}\r\n")
    site.chmod(0o640)
    checkpoint = Backups(tmp_path / "backups").new("install", "deploy a.test")
    checkpoint.write(site, b"changed")
    checkpoint.write(site, b"changed twice")  # saved once: the original
    site.chmod(0o600)
    checkpoint.write(tmp_path / "new.conf", b"new", mode=0o640)
    checkpoint.symlink(tmp_path / "enabled.conf", "new.conf")
    assert (tmp_path / "new.conf").stat().st_mode & 0o777 == 0o640
    assert checkpoint.summary(tmp_path) == "created enabled.conf, new.conf; changed site.conf"

    paths = checkpoint.restore()

    assert paths == [str(site), str(tmp_path / "new.conf"), str(tmp_path / "enabled.conf")]
    assert site.read_bytes() == b"server {\r\n\tlisten 80;\xff\r\n}\r\n"
    assert site.stat().st_mode & 0o777 == 0o640
    assert not (tmp_path / "new.conf").exists()
    assert not (tmp_path / "enabled.conf").is_symlink()
    manifest = json.loads((checkpoint.directory / "manifest.json").read_text())
    assert manifest["state"] == "restored" and manifest["version"] == 2
    for private in (checkpoint.directory, checkpoint.directory / "files", tmp_path / "backups"):
        assert private.stat().st_mode & 0o777 == 0o700
    assert (checkpoint.directory / "files/0").stat().st_mode & 0o777 == 0o600


def test_a_symlinked_file_is_written_through_and_the_link_kept(tmp_path: Path) -> None:
    (tmp_path / "available").mkdir()
    (tmp_path / "enabled").mkdir()
    real = tmp_path / "available/site"
    real.write_text("v1")
    link = tmp_path / "enabled/site"
    link.symlink_to("../available/site")
    checkpoint = Backups(tmp_path / "backups").new("install", "x")

    checkpoint.write(link, b"v2")

    assert link.is_symlink() and real.read_text() == "v2"
    assert checkpoint.paths == [str(real)]
    checkpoint.restore()
    assert link.is_symlink() and real.read_text() == "v1"


def test_nothing_is_written_until_a_file_is_recorded(tmp_path: Path) -> None:
    checkpoint = Backups(tmp_path / "backups").new("install", "nothing")
    checkpoint.commit()
    assert checkpoint.restore() == []
    assert not (tmp_path / "backups").exists()


def test_a_kind_must_be_a_word_it_names_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lower-case word"):
        Backups(tmp_path).new("../x", "escape")


def test_checkpoints_made_in_one_instant_get_their_own_directories(tmp_path: Path) -> None:
    backups = Backups(tmp_path / "backups")
    made = [backups.new("install", str(n)) for n in range(50)]
    assert len({c.directory for c in made}) == 50


def test_rollback_takes_the_newest_committed_change_and_refuses_an_edited_file(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site"
    site.write_text("v1")
    backups = Backups(tmp_path / "backups")
    for version, description in (("v2", "first"), ("v3", "second")):
        checkpoint = backups.new("install", "deploying")
        checkpoint.write(site, version.encode())
        checkpoint.commit(description)
    backups.new("challenge", "temporary").write(tmp_path / "x", b"x")

    latest = backups.latest_committed("install")
    assert latest is not None and latest.description == "second"
    assert backups.latest_committed("challenge") is None
    site.write_text("edited by the admin")
    assert latest.changed_since_commit() == [str(site)]
    site.write_text("v3")
    assert latest.changed_since_commit() == []
    latest.restore("rolled-back")
    assert site.read_text() == "v2"
    again = backups.latest_committed()
    assert again is not None and again.description == "first"


def test_prune_keeps_the_newest_committed_changes(tmp_path: Path) -> None:
    backups = Backups(tmp_path / "backups")
    for n in range(4):
        checkpoint = backups.new("install", f"change {n}")
        checkpoint.write(tmp_path / "site", str(n).encode())
        checkpoint.commit()
    backups.prune(2)
    assert [c.description for c in backups.all()] == ["change 2", "change 3"]


def test_without_keep_restored_a_restored_checkpoint_is_deleted(tmp_path: Path) -> None:
    backups = Backups(tmp_path / "backups", keep_restored=False)
    checkpoint = backups.new("change", "x")
    checkpoint.write(tmp_path / "new", b"new")
    checkpoint.restore()
    assert backups.all() == [] and not checkpoint.directory.exists()


def test_a_failed_restore_is_reported_kept_and_retried_by_the_next_run(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    site = conf / "site"
    site.write_text("v1")
    backups = Backups(tmp_path / "backups")
    checkpoint = backups.new("install", "one")
    checkpoint.write(site, b"v2")
    site.unlink()
    conf.rmdir()
    conf.write_text("not a directory any more")

    with pytest.raises(InstallerError, match=r"Copy the files back by hand from .*files"):
        checkpoint.restore()
    assert checkpoint.state == "restore-failed"

    conf.unlink()
    conf.mkdir()
    checkpoint.manifest["pid"] = _dead_pid()  # the next run: this process is gone
    checkpoint.manifest["process"] = None
    (checkpoint.directory / "manifest.json").write_text(json.dumps(checkpoint.manifest))
    assert [c.description for c in backups.recover()] == ["one"]
    assert site.read_text() == "v1"


def test_a_reused_pid_is_not_taken_for_the_writer(tmp_path: Path) -> None:
    backups = Backups(tmp_path / "backups")
    checkpoint = backups.new("install", "x")
    checkpoint.write(tmp_path / "new", b"new")
    manifest = json.loads((checkpoint.directory / "manifest.json").read_text())
    assert manifest["pid"] == os.getpid()
    assert backups.recover() == []  # our own open change is left alone
    manifest["process"] = f"{os.getpid()}:1"  # this pid, but another process's start time
    (checkpoint.directory / "manifest.json").write_text(json.dumps(manifest))
    assert [c.description for c in backups.recover()] == ["x"]
    assert not (tmp_path / "new").exists()


def _dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    return int(child.stdout)


CRASHING_CHANGE = """
import os, signal, sys
from certbot_like.plugin_kit import Backups

work, conf = sys.argv[1], sys.argv[2]
checkpoint = Backups(work).new("install", "crashing change")
checkpoint.write(os.path.join(conf, "a.conf"), b"a changed")
checkpoint.write(os.path.join(conf, "created.conf"), b"created")
checkpoint.symlink(os.path.join(conf, "link.conf"), "created.conf")
checkpoint.backup(os.path.join(conf, "b.conf"))  # recorded: the write below never happens
if sys.argv[3] == "partial":  # as a crash inside atomic_write would leave it
    with open(os.path.join(conf, ".b.conf.x.certbot-like-tmp"), "wb") as handle:
        handle.write(b"half of the new b")
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("where", ["between-files", "partial"])
def test_a_change_killed_midway_is_undone_by_the_next_run(tmp_path: Path, where: str) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "a.conf").write_bytes(b"a original")
    (conf / "b.conf").write_bytes(b"b original")
    script = tmp_path / "crash.py"
    script.write_text(textwrap.dedent(CRASHING_CHANGE))
    child = subprocess.run([sys.executable, str(script), str(tmp_path / "work"), str(conf), where],
                           cwd=ROOT, capture_output=True, check=False)  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    assert (conf / "a.conf").read_bytes() == b"a changed"

    recovered = Backups(tmp_path / "work").recover()

    assert [c.description for c in recovered] == ["crashing change"]
    assert recovered[0].state == "recovered"
    assert (conf / "a.conf").read_bytes() == b"a original"
    assert (conf / "b.conf").read_bytes() == b"b original"
    assert sorted(p.name for p in conf.iterdir()) == ["a.conf", "b.conf"]
    assert Backups(tmp_path / "work").recover() == []  # done once


# -- the manifests of earlier versions -----------------------------------------------------


def _v1_nginx(base: Path, site: Path, original: bytes, now: bytes) -> None:
    directory = base / "20240101T000000.000001Z-install"
    (directory / "files").mkdir(parents=True)
    (directory / "files/0").write_bytes(original)
    manifest = {
        "version": 1, "kind": "install", "description": "deployment of a", "pid": 1,
        "created": "20240101T000000.000001Z", "state": "committed",
        "files": [
            {"path": str(site), "existed": True, "before": hashlib.sha256(original).hexdigest(),
             "mode": 0o640, "uid": os.getuid(), "gid": os.getgid(), "backup": "files/0",
             "after": hashlib.sha256(now).hexdigest()},
            {"path": str(site) + ".new", "existed": False, "before": None, "after": None},
        ],
    }  # fmt: skip
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2))


def test_a_rollback_point_written_by_the_previous_nginx_plugin_is_restored(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site"
    site.write_bytes(b"deployed")
    site.chmod(0o644)
    _v1_nginx(tmp_path / "nginx-backups", site, b"original", b"deployed")
    backups = Backups(tmp_path / "nginx-backups")
    newer = backups.new("install", "newer")
    newer.write(tmp_path / "other", b"x")
    newer.commit()
    first = backups.latest_committed("install")
    assert first is not None and first.description == "newer"  # the newest, in either format
    newer.restore("rolled-back")

    latest = backups.latest_committed("install")

    assert latest is not None and latest.description == "deployment of a"
    assert latest.created_at == "20240101T000000.000001Z"
    assert latest.changed_since_commit() == []
    latest.restore("rolled-back")
    assert site.read_bytes() == b"original" and site.stat().st_mode & 0o777 == 0o640


def test_changes_recorded_by_the_previous_apache_plugin_are_restored(tmp_path: Path) -> None:
    base = tmp_path / "apache-backups"
    conf, ssl, link = tmp_path / "site.conf", tmp_path / "ssl.conf", tmp_path / "ssl-link.conf"
    conf.write_bytes(b"installed\n")
    ssl.write_bytes(b"<VirtualHost *:443>\n")
    link.symlink_to("ssl.conf")
    committed = base / "000001-20240101T000000-change"
    committed.mkdir(parents=True)
    (committed / "file-0000").write_bytes(b"original\n")
    manifest = {
        "version": 1, "kind": "change", "state": "committed", "process": "1:1",
        "created_at": "20240101T000000", "description": "installed a (changed site.conf)",
        "files": [{"path": str(conf), "copy": "file-0000", "mode": 0o600,
                   "uid": os.getuid(), "gid": os.getgid()}],
        "created": [{"path": str(ssl), "type": "file", "target": None},
                    {"path": str(link), "type": "link", "target": "ssl.conf"}],
        "after": {str(conf): "sha256:" + hashlib.sha256(b"installed\n").hexdigest(),
                  str(ssl): "sha256:" + hashlib.sha256(ssl.read_bytes()).hexdigest(),
                  str(link): "link:ssl.conf"},
    }  # fmt: skip
    (committed / "manifest.json").write_text(json.dumps(manifest))
    interrupted = base / "000002-20240101T000001-temporary"
    interrupted.mkdir()
    (tmp_path / "challenge.conf").write_text("temporary")
    manifest = {
        "version": 1, "kind": "temporary", "state": "in-progress", "process": f"{_dead_pid()}:1",
        "created_at": "20240101T000001", "description": "HTTP-01 challenges", "files": [],
        "created": [{"path": str(tmp_path / "challenge.conf"), "type": "file", "target": None}],
    }  # fmt: skip
    (interrupted / "manifest.json").write_text(json.dumps(manifest))
    backups = Backups(base, keep_restored=False)

    assert [c.description for c in backups.recover()] == ["HTTP-01 challenges"]
    assert not (tmp_path / "challenge.conf").exists()
    latest = backups.latest_committed("change")
    assert latest is not None and latest.changed_since_commit() == []
    latest.restore("rolled-back")
    assert conf.read_bytes() == b"original\n" and conf.stat().st_mode & 0o777 == 0o600
    assert not ssl.exists() and not link.is_symlink()
    assert backups.all() == []


# -- atomic writes -------------------------------------------------------------------------


def test_atomic_write_keeps_mode_and_follows_links(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link"
    link.symlink_to("target")

    atomic_write(link, b"new")

    assert link.is_symlink() and target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640
    atomic_write(target, b"newer", mode=0o600)
    assert target.stat().st_mode & 0o777 == 0o600
    old = os.umask(0o077)
    try:
        atomic_write(tmp_path / "fresh", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "fresh").stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "link", "target"]


@pytest.mark.parametrize("failing", ["write", "fsync", "replace"])
def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    target = tmp_path / "site.conf"
    target.write_bytes(b"old content")
    real_write = os.write

    def half_then_full_disk(fd: int, data: bytes | memoryview) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, failing, half_then_full_disk if failing == "write" else refuse)
    with pytest.raises(OSError):
        atomic_write(target, b"new content " * 1000)
    monkeypatch.undo()

    assert target.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["site.conf"]


def test_a_checkpoint_write_that_fails_says_so_and_restores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.write_text("v1")
    checkpoint = Backups(tmp_path / "backups").new("install", "x")
    real_replace = os.replace

    def refuse_site(src: str, dst: str) -> None:
        if dst == str(site):
            raise OSError(30, "Read-only file system")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", refuse_site)
    with pytest.raises(InstallerError, match=r"Cannot write .*site: Read-only file system"):
        checkpoint.write(site, b"v2")
    monkeypatch.undo()
    assert site.read_text() == "v1"
    assert checkpoint.restore() == [str(site)]
    assert site.read_text() == "v1"
