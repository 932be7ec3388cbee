"""Start-up costs kept out: the entry-point reader of plugin discovery and ``--version``
answered before the CLI is imported (ADRs 0030, 0031)."""

from __future__ import annotations

import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from certbot_like.interfaces import ENTRY_POINT_GROUP
from certbot_like.plugin_registry import EntryPoint, discover, entry_points, parse_entry_points
from tests.harness.clirun import run_cli

GROUP = "demo.plugins"


def _dist(site: Path, stem: str, name: str, entry_text: str | None) -> None:
    """A ``stem.dist-info`` (or ``.egg-info``) directory named *name* in its metadata."""
    info = site / stem
    info.mkdir(parents=True)
    (info / ("METADATA" if stem.endswith("dist-info") else "PKG-INFO")).write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
    )
    if entry_text is not None:
        (info / "entry_points.txt").write_text(entry_text)


def _theirs(path: list[str], group: str) -> list[tuple[str, str]]:
    """What importlib.metadata.entry_points() would give for *path*: first distribution of
    each normalized name wins."""
    seen: set[str] = set()
    found = []
    for dist in metadata.distributions(path=path):
        key = dist.metadata["Name"].lower().replace("-", "_").replace(".", "_")
        if key in seen:
            continue
        seen.add(key)
        found += [(ep.name, ep.value) for ep in dist.entry_points if ep.group == group]
    return sorted(found)


def _ours(path: list[str], group: str) -> list[tuple[str, str]]:
    return sorted((ep.name, ep.value) for ep in entry_points(group, path))


def test_parse_keeps_only_the_group_and_skips_comments() -> None:
    text = (
        "# a comment\n[other]\nx = a:b\n\n[ demo.plugins ]\n; another comment\n"
        "  one = pkg.mod:ATTR [extra1,extra2]  \ntwo=pkg:obj.inner\nnot an entry\n[tail]\ny = c\n"
    )
    assert parse_entry_points(text, GROUP) == [
        EntryPoint("one", "pkg.mod:ATTR [extra1,extra2]"),
        EntryPoint("two", "pkg:obj.inner"),
    ]


def test_reader_agrees_with_importlib_metadata_on_a_path(tmp_path: Path) -> None:
    """Two path entries; the first distribution of a name wins even when the later one is
    spelled differently (``Demo_Pkg`` / ``demo-pkg``); egg-info counts; no entry_points.txt
    is no entry points."""
    first, second = tmp_path / "first", tmp_path / "second"
    _dist(first, "demo_pkg-1.0.dist-info", "demo-pkg", "[demo.plugins]\na = first:A\n")
    _dist(first, "quiet-2.0.dist-info", "quiet", None)
    _dist(first, "Legacy.egg-info", "Legacy", "[demo.plugins]\nlegacy = legacy:SPEC\n")
    _dist(second, "Demo_Pkg-3.0.dist-info", "Demo_Pkg", "[demo.plugins]\na = second:A\n")
    _dist(second, "other-1.0.dist-info", "other", "[demo.plugins]\nb = other:B\n[x]\nc = y\n")
    path = [str(first), str(second), str(tmp_path / "missing")]
    expected = [("a", "first:A"), ("b", "other:B"), ("legacy", "legacy:SPEC")]
    assert _theirs(path, GROUP) == expected
    assert _ours(path, GROUP) == expected


def test_a_zip_on_the_path_is_read_by_importlib_metadata(tmp_path: Path) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zipped-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zipped\n")
        z.writestr("zipped-1.0.dist-info/entry_points.txt", "[demo.plugins]\nz = zipped:Z\n")
    plain = tmp_path / "plain"
    _dist(plain, "plain-1.0.dist-info", "plain", "[demo.plugins]\np = plain:P\n")
    path = [str(archive), str(plain)]
    assert _ours(path, GROUP) == _theirs(path, GROUP) == [("p", "plain:P"), ("z", "zipped:Z")]


def test_installed_plugins_are_those_importlib_metadata_lists() -> None:
    theirs = sorted((ep.name, ep.value) for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))
    assert _ours(sys.path, ENTRY_POINT_GROUP) == theirs
    specs, broken = discover()
    assert broken == ()
    assert sorted(specs) == sorted(name for name, _ in theirs)


def test_load_imports_the_module_and_follows_the_attributes() -> None:
    import os.path

    assert EntryPoint("x", "os:path.join [extra]").load() is os.path.join
    assert EntryPoint("x", "os.path").load() is os.path
    with pytest.raises(AttributeError):
        EntryPoint("x", "os:no_such_attribute").load()
    with pytest.raises(ValueError):
        EntryPoint("x", ":attr").load()


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running *code* (through the runner that
    scans every CLI run's output)."""
    script = f"{code}\nimport sys\nprint(' '.join(sys.modules))"
    done = run_cli([], launcher=[sys.executable, "-c", script])
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_discovery_does_not_import_importlib_metadata() -> None:
    loaded = _modules_after(
        "import sys\nfrom certbot_like import plugin_registry as r\nr.discover()"
    )
    assert "certbot_like_standalone" in loaded  # the plugins were loaded
    assert "importlib.metadata" not in loaded


def test_version_is_answered_before_the_cli_is_imported() -> None:
    code = (
        "import sys\nsys.argv = ['certbot-like', '--version']\n"
        "from certbot_like.cli.entry import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code == 0\n"
    )
    # an editable install's finder imports pathlib at start-up: count what main() adds
    added = _modules_after(code) - _modules_after("import certbot_like")
    assert "certbot_like.cli.version" in added
    assert not added & {"click", "certbot_like.cli.main", "importlib.metadata", "pathlib"}


@pytest.mark.parametrize("args", [["--version"], ["-n", "--version"], ["--help"]])
def test_the_entry_point_prints_what_the_cli_prints(args: list[str]) -> None:
    """The fast path and the click path give the same bytes and exit code; other arguments
    go through the CLI."""
    launcher = [sys.executable, "-c", "from certbot_like.cli.entry import main; main()"]
    fast = run_cli(args, launcher=launcher)
    slow = run_cli(args)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        slow.returncode,
        slow.stdout,
        slow.stderr,
    )
    assert fast.stdout or fast.stderr


def test_the_console_script_is_the_entry_module() -> None:
    text = (Path(__file__).resolve().parents[2] / "setup.cfg").read_text()
    assert "certbot-like = certbot_like.cli.entry:main" in text
