"""The webroot plugin: certbot's -w/-d mapping, safe file writing and precise cleanup."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from certbot_like_webroot import PLUGIN, WebrootOptions, resolve_webroot_options
from certbot_like_webroot.authenticator import WebrootAuthenticator

from certbot_like.errors import PluginError
from certbot_like.interfaces import (
    Authenticator,
    ChallengeTask,
    HookResult,
    Identifier,
    PluginContext,
)


class FakeDisplay:
    interactive = False

    def notify(self, message: str) -> None:
        raise AssertionError("webroot never talks to the operator")

    def pause(self, message: str) -> None:
        raise AssertionError("webroot never pauses")


class NoHooks:
    def run(self, command: str, env: object, *, what: str) -> HookResult:
        raise AssertionError("webroot runs no hooks")


def make_context(tmp_path: Path) -> PluginContext:
    return PluginContext(
        config_dir=tmp_path / "etc",
        work_dir=tmp_path / "work",
        logs_dir=tmp_path / "logs",
        display=FakeDisplay(),
        hooks=NoHooks(),
    )


def task(name: str, token: str = "tokenA_-1", kind: str = "http-01") -> ChallengeTask:  # noqa: S107
    return ChallengeTask(Identifier("dns", name), kind, token, f"{token}.thumbprint")


def make_auth(
    tmp_path: Path,
    *paths: Path,
    mapping: dict[str, str] | None = None,
) -> WebrootAuthenticator:
    options = WebrootOptions(webroot_path=tuple(str(p) for p in paths), webroot_map=mapping or {})
    auth = PLUGIN.load_factory()(options, make_context(tmp_path))
    assert isinstance(auth, WebrootAuthenticator)
    return auth


def tree(root: Path) -> dict[str, str]:
    """Every path below *root* (links not followed) -> file content, 'dir' or 'link'."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = "link"
            elif path.is_dir():
                found[rel] = "dir"
            else:
                found[rel] = path.read_text()
    return found


# --- resolve_options ------------------------------------------------------------------


def resolve(ordered: list[tuple[str, str]], **kw: object) -> WebrootOptions:
    paths = tuple(v for k, v in ordered if k == "webroot_path")
    return resolve_webroot_options(
        WebrootOptions(webroot_path=paths, **kw),  # type: ignore[arg-type]
        ordered,
    )


def test_each_w_applies_to_the_following_d() -> None:
    opts = resolve(
        [
            ("webroot_path", "/a"),
            ("domains", "a.test"),
            ("domains", "A2.test"),
            ("webroot_path", "/b"),
            ("domains", "b.test,c.test"),
        ]
    )
    assert opts.webroot_map == {"a.test": "/a", "a2.test": "/a", "b.test": "/b", "c.test": "/b"}
    assert opts.webroot_path == ("/a", "/b")


def test_domains_before_a_single_w_take_it() -> None:
    opts = resolve([("domains", "x.test"), ("webroot_path", "/a"), ("domains", "y.test")])
    assert opts.webroot_map == {"x.test": "/a", "y.test": "/a"}


def test_several_w_with_a_domain_before_all_is_certbots_error() -> None:
    with pytest.raises(PluginError, match="one of them must come before all -d flags"):
        resolve(
            [
                ("domains", "x.test"),
                ("webroot_path", "/a"),
                ("domains", "y.test"),
                ("webroot_path", "/b"),
            ]
        )


def test_consecutive_w_the_last_one_wins() -> None:
    opts = resolve([("webroot_path", "/a"), ("webroot_path", "/b"), ("domains", "x.test")])
    assert opts.webroot_map == {"x.test": "/b"}


def test_explicit_map_wins_and_comma_keys_expand() -> None:
    opts = resolve(
        [("webroot_path", "/a"), ("domains", "x.test,y.test")], webroot_map={"X.test,z.test": "/m"}
    )
    assert opts.webroot_map == {"x.test": "/m", "y.test": "/a", "z.test": "/m"}


def test_wildcards_are_never_mapped_and_paths_become_absolute(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    opts = resolve([("webroot_path", "rel/www"), ("domains", "*.x.test, x.test,")])
    assert opts.webroot_map == {"x.test": str(tmp_path / "rel/www")}
    assert opts.webroot_path == (str(tmp_path / "rel/www"),)


def test_no_w_at_all_leaves_only_the_map() -> None:
    opts = resolve([("domains", "x.test")], webroot_map={"y.test": "/m"})
    assert opts.webroot_map == {"y.test": "/m"}


# --- perform / cleanup ----------------------------------------------------------------


def test_writes_files_with_content_and_mode_then_cleans_up(tmp_path: Path) -> None:
    root = tmp_path / "www"
    root.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    auth = make_auth(tmp_path, root, mapping={"b.test": str(other)})
    assert isinstance(auth, Authenticator)
    assert list(auth.preferred_challenges(Identifier("dns", "a.test"))) == ["http-01"]
    tasks = [task("a.test", "tokA"), task("B.test", "tokB")]
    old_umask = os.umask(0o077)
    try:
        auth.prepare(["http-01"])
        auth.perform(tasks)
    finally:
        os.umask(old_umask)
    written = root / ".well-known/acme-challenge/tokA"
    assert written.read_text() == "tokA.thumbprint"
    assert stat.S_IMODE(written.stat().st_mode) == 0o644
    assert stat.S_IMODE((root / ".well-known").stat().st_mode) == 0o755
    assert stat.S_IMODE((root / ".well-known/acme-challenge").stat().st_mode) == 0o755
    assert (other / ".well-known/acme-challenge/tokB").read_text() == "tokB.thumbprint"
    auth.cleanup(tasks)
    assert tree(root) == {} and tree(other) == {}
    auth.cleanup(tasks)  # twice is fine


def test_existing_well_known_and_foreign_files_are_kept(tmp_path: Path) -> None:
    root = tmp_path / "www"
    (root / ".well-known").mkdir(parents=True)
    (root / ".well-known/security.txt").write_text("contact")
    auth = make_auth(tmp_path, root)
    tasks = [task("a.test", "tok1"), task("b.test", "tok2")]
    auth.perform(tasks)
    (root / ".well-known/acme-challenge/foreign").write_text("x")
    auth.cleanup(tasks[:1])
    assert (root / ".well-known/acme-challenge/tok2").exists()
    auth.cleanup(tasks)
    assert tree(root) == {
        ".well-known": "dir",
        ".well-known/security.txt": "contact",
        ".well-known/acme-challenge": "dir",
        ".well-known/acme-challenge/foreign": "x",
    }


def test_existing_regular_token_file_is_replaced_and_a_swapped_file_kept(tmp_path: Path) -> None:
    root = tmp_path / "www"
    challenge_dir = root / ".well-known/acme-challenge"
    challenge_dir.mkdir(parents=True)
    (challenge_dir / "tok").write_text("stale")
    auth = make_auth(tmp_path, root)
    auth.perform([task("a.test", "tok")])
    assert (challenge_dir / "tok").read_text() == "tok.thumbprint"
    (challenge_dir / "tok").unlink()
    (challenge_dir / "tok").write_text("someone else's")  # a new inode: not ours
    auth.cleanup([task("a.test", "tok")])
    assert (challenge_dir / "tok").read_text() == "someone else's"


def test_cleanup_of_tasks_never_performed(tmp_path: Path) -> None:
    root = tmp_path / "www"
    root.mkdir()
    auth = make_auth(tmp_path, root)
    auth.cleanup([task("a.test")])
    assert tree(root) == {}


def test_webroot_given_as_a_symlink_is_followed_once(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    auth = make_auth(tmp_path, tmp_path / "link")
    auth.perform([task("a.test", "tok")])
    assert (real / ".well-known/acme-challenge/tok").read_text() == "tok.thumbprint"
    auth.cleanup([task("a.test", "tok")])
    assert tree(real) == {}


@pytest.mark.parametrize(
    "planted", [".well-known", ".well-known/acme-challenge", ".well-known/acme-challenge/tok"]
)
def test_symlink_planted_pointing_outside_is_refused(tmp_path: Path, planted: str) -> None:
    root = tmp_path / "www"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "tok").write_text("precious")
    (outside / "acme-challenge").mkdir()
    (outside / "acme-challenge/tok").write_text("precious too")
    before = tree(outside)
    link = root / planted
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside / "tok" if planted.endswith("tok") else outside)
    auth = make_auth(tmp_path, root)
    with pytest.raises(PluginError, match="is a symbolic link; refusing to write through it"):
        auth.perform([task("a.test", "tok")])
    auth.cleanup([task("a.test", "tok")])
    assert tree(outside) == before
    assert link.is_symlink()


def test_non_http_task_and_missing_webroot_for_a_name(tmp_path: Path) -> None:
    root = tmp_path / "www"
    root.mkdir()
    auth = make_auth(tmp_path, mapping={"a.test": str(root)})
    with pytest.raises(PluginError, match=r"No webroot for b\.test"):
        auth.perform([task("b.test")])
    with pytest.raises(PluginError, match="cannot answer dns-01"):
        auth.perform([task("a.test", kind="dns-01")])
    assert list(auth.preferred_challenges(Identifier("dns", "*.a.test"))) == []


def test_prepare_fails_for_a_missing_or_non_directory_webroot(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match=r"www does not exist\. Create it or fix -w"):
        make_auth(tmp_path, tmp_path / "www").prepare(["http-01"])
    (tmp_path / "file").write_text("")
    with pytest.raises(PluginError, match="file is not a directory"):
        make_auth(tmp_path, mapping={"a.test": str(tmp_path / "file")}).prepare(["http-01"])
    with pytest.raises(PluginError, match="No webroot given"):
        make_auth(tmp_path).prepare(["http-01"])


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files away")
def test_as_root_created_dirs_and_files_take_the_webroots_owner(tmp_path: Path) -> None:
    root = tmp_path / "www"
    root.mkdir()
    os.chown(root, 4321, 4322)
    auth = make_auth(tmp_path, root)
    auth.perform([task("a.test", "tok")])
    for rel in (".well-known", ".well-known/acme-challenge", ".well-known/acme-challenge/tok"):
        info = (root / rel).lstat()
        assert (info.st_uid, info.st_gid) == (4321, 4322), rel
    auth.cleanup([task("a.test", "tok")])
    assert tree(root) == {}
