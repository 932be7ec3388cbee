"""The plugin catalog: every plugin's flags without importing the plugins, from a cache that
is checked against the files it was built from (ADR 0034).

Each test runs fresh interpreters (the catalog is read once per process) with a cache
directory of its own, and a third-party plugin installed the way pip would (a package and a
``dist-info`` with ``entry_points.txt``) on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from certbot_like.plugin_catalog import cache_dir, cache_file, info_of
from certbot_like.plugin_registry import plugins
from tests.harness.clirun import Result, run_cli

PLUGIN = """
from dataclasses import dataclass
from certbot_like.interfaces import DNS01, PluginSpec, option

@dataclass(frozen=True)
class DemoOptions:
    demo_zone: str | None = option("--demo-zone", metavar="ZONE", help="The demo zone{more}")
{extra}

PLUGIN = PluginSpec(
    name="demo",
    description="A third-party demo authenticator",
    authenticator=True,
    installer=False,
    options=DemoOptions,
    factory="demo_plugin.impl:Demo",
    challenge_types=(DNS01,),
)
"""
EXTRA = '    demo_ttl: int = option("--demo-ttl", default=60, help="TTL of the demo record")\n'


def _install(site: Path, *, extra: str = "", more: str = "", entry: str = "") -> None:
    package = site / "demo_plugin"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(PLUGIN.format(extra=extra, more=more))
    info = site / "demo_plugin-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[certbot_like.plugins]\ndemo = demo_plugin:PLUGIN\n{entry}"
    )


def _env(site: Path, cache: Path | str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    env["CERTBOT_LIKE_CACHE_DIR"] = str(cache)
    return env


REPORT = (
    "import json, sys\n"
    "from certbot_like.plugin_catalog import catalog\n"
    "found = catalog()\n"
    "print(json.dumps({'flags': {n: [f.flags[0] for f in i.flags if f.flags] "
    "for n, i in found.items()}, 'imported': sorted(m for m in sys.modules "
    "if m.startswith(('certbot_like_', 'demo_plugin')))}))\n"
)


def _report(env: dict[str, str]) -> dict[str, object]:
    done = run_cli([], launcher=[sys.executable, "-c", REPORT], env=env)
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def _cache_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("plugins-*.json"))


def test_the_catalog_says_what_the_specs_say() -> None:
    """Built from the specs, written and read back: the same plugins, roles and flags."""
    from certbot_like.plugin_catalog import PluginInfo

    for name, spec in plugins().items():
        built = info_of(spec, f"pkg:{name}")
        again = PluginInfo.from_json(json.loads(json.dumps(built.to_json())))
        assert again.to_json() == built.to_json()
        assert (again.authenticator, again.installer) == (spec.authenticator, spec.installer)
        assert [f.name for f in again.flags] == [f.name for f in spec.option_fields()]
    webroot = info_of(plugins()["webroot"], "x:y")
    path_flag = next(f for f in webroot.flags if f.name == "webroot_path")
    assert path_flag.flags == ("-w", "--webroot-path") and path_flag.base == "tuple"


def test_a_second_run_imports_no_plugin(tmp_path: Path) -> None:
    site, cache = tmp_path / "site", tmp_path / "cache"
    _install(site)
    env = _env(site, cache)
    first = _report(env)
    assert "demo_plugin" in first["imported"]  # type: ignore[operator]
    assert first["flags"]["demo"] == ["--demo-zone"]  # type: ignore[index]
    [written] = _cache_files(cache)
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    second = _report(env)
    assert second["imported"] == []
    assert second["flags"] == first["flags"]


def test_a_changed_plugin_is_seen_on_the_next_run(tmp_path: Path) -> None:
    """Editing the spec's module (a new flag) or its entry points invalidates the cache."""
    site, cache = tmp_path / "site", tmp_path / "cache"
    _install(site)
    env = _env(site, cache)
    _report(env)
    _install(site, extra=EXTRA)
    changed = _report(env)
    assert "demo_plugin" in changed["imported"]  # type: ignore[operator]
    assert changed["flags"]["demo"] == ["--demo-zone", "--demo-ttl"]  # type: ignore[index]
    help_text = run_cli(["certonly", "--help"], env=env).stdout
    assert "--demo-ttl" in help_text and "TTL of the demo record" in help_text
    (site / "demo_plugin-1.0.dist-info" / "entry_points.txt").write_text("")
    assert "demo" not in _report(env)["flags"]  # type: ignore[operator]


def test_the_cli_uses_the_flags_of_a_cached_plugin(tmp_path: Path) -> None:
    """A run served from the cache still knows the third-party flags and their defaults."""
    site, cache = tmp_path / "site", tmp_path / "cache"
    _install(site, extra=EXTRA)
    env = _env(site, cache)
    _report(env)  # builds the cache
    done: Result = run_cli(
        ["certonly", "--config-dir", str(tmp_path / "c"), "--demo-zone", "z", "--bogus-x"],
        env=env,
    )
    assert done.returncode == 2 and "--bogus-x" in done.stderr
    assert "--demo-ttl" in run_cli(["certonly", "--help"], env=env).stdout


def _tampered(tmp_path: Path, **changes: Any) -> tuple[Path, Any]:
    """Build the cache of the demo plugin, set *changes* in its entry, write it back;
    the cache file, the JSON written, and the environment."""
    site, cache = tmp_path / "site", tmp_path / "cache"
    _install(site)
    env = _env(site, cache)
    _report(env)
    [written] = _cache_files(cache)
    data = json.loads(written.read_text())
    for plugin in data["plugins"]:
        if plugin["name"] == "demo":
            plugin.update(changes)
    written.write_text(json.dumps(data))
    return written, (data, env)


@pytest.mark.parametrize("mode", [0o666, 0o620])
def test_a_cache_others_may_write_is_not_read(tmp_path: Path, mode: int) -> None:
    """A cache file another user could have written is ignored (and rebuilt)."""
    planted = ["demo_zone", "str", ["--planted-flag"], None, "planted", None, False, None]
    written, (_, env) = _tampered(tmp_path, flags=[planted])
    written.chmod(mode)
    report = _report(env)
    assert report["flags"]["demo"] == ["--demo-zone"]  # type: ignore[index]
    assert "demo_plugin" in report["imported"]  # type: ignore[operator]


def test_a_cache_naming_a_module_no_entry_point_names_is_not_read(tmp_path: Path) -> None:
    """The catalog only imports what an installed entry point names."""
    written, (data, env) = _tampered(tmp_path, entry="os:system")
    assert "demo_plugin" in _report(env)["imported"]  # type: ignore[operator]
    assert json.loads(written.read_text()) != data  # rebuilt


def test_a_broken_entry_point_leaves_no_cache(tmp_path: Path) -> None:
    """An entry point that fails to load may be repaired by installing something the cache
    does not look at: no cache is kept while one is broken."""
    site, cache = tmp_path / "site", tmp_path / "cache"
    _install(site, entry="broken = no_such_module_here:PLUGIN\n")
    report = _report(_env(site, cache))
    assert "demo" in report["flags"]  # type: ignore[operator]
    assert _cache_files(cache) == []


def test_the_cache_can_be_turned_off(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site)
    env = _env(site, "none")
    assert cache_dir(env) is None
    for _ in range(2):
        assert "demo_plugin" in _report(env)["imported"]  # type: ignore[operator]


def test_where_the_cache_lives(tmp_path: Path) -> None:
    assert cache_dir({"XDG_CACHE_HOME": "/x"}) == "/x/certbot-like"
    assert cache_dir({"CERTBOT_LIKE_CACHE_DIR": "/y", "XDG_CACHE_HOME": "/x"}) == "/y"
    assert cache_dir({"HOME": str(tmp_path)}).startswith(os.path.expanduser("~"))  # type: ignore[union-attr]
    assert Path(cache_file("/y")).parent == Path("/y")


def test_choosing_a_plugin_imports_that_plugin_alone(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from certbot_like.plugin_catalog import catalog, get\n"
        "catalog()\n"
        "spec = get('standalone', 'authenticator')\n"
        "assert spec.name == 'standalone'\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('certbot_like_'))))\n"
    )
    env = _env(tmp_path / "site", tmp_path / "cache")
    run_cli([], launcher=[sys.executable, "-c", code], env=env)  # builds the cache
    done = run_cli([], launcher=[sys.executable, "-c", code], env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["certbot_like_standalone"]
