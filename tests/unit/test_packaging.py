"""What the packages hold, checked without building them: the extras, the Debian version,
the units the package ships, the man pages, and the line that names a missing extra."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from certbot_like import __version__
from certbot_like.cli.main import COMMANDS
from certbot_like.extras import EXTRAS
from certbot_like.schedule import Schedule, render_service, render_timer
from tests.harness.clirun import run_main
from tests.harness.gen_man import render_all
from tests.harness.gen_package_files import package_units, write_package_files

ROOT = Path(__file__).resolve().parents[2]


def _extras() -> dict[str, set[str]]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    raw = config["options.extras_require"]
    return {name: {line.strip() for line in raw[name].splitlines() if line.strip()} for name in raw}


# Extras for developers, not features of the client: [all] leaves them out.
DEVELOPER_EXTRAS = ("test", "bench")


def test_the_test_and_all_extras_pull_in_every_optional_extra() -> None:
    extras = _extras()
    optional = {name: reqs for name, reqs in extras.items() if name not in ("test", "all")}
    assert set(optional) >= set(EXTRAS), "an extra in certbot_like/extras.py is not in setup.cfg"
    for name, reqs in optional.items():
        assert reqs <= extras["test"], f"pip install -e '.[test]' would miss [{name}]"
        if name not in DEVELOPER_EXTRAS:
            assert reqs <= extras["all"], f"[all] misses [{name}]"


def test_the_bench_plotting_library_is_never_a_runtime_dependency() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    runtime = config["options"]["install_requires"].lower()
    extras = _extras()
    assert extras["bench"] == {"matplotlib>=3.7"}
    assert "matplotlib" not in runtime
    for name, reqs in extras.items():
        if name not in DEVELOPER_EXTRAS:
            assert not any("matplotlib" in r.lower() for r in reqs), f"[{name}] pulls matplotlib"
    sources = [*(ROOT / "certbot_like").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]
    imports = [p for p in sources if "matplotlib" in p.read_text()]
    assert imports == [], "the client must not import matplotlib"


def test_the_debian_version_is_the_python_version() -> None:
    first = (ROOT / "debian/changelog").read_text().splitlines()[0]
    assert first.startswith(f"certbot-like ({__version__})"), first


def test_the_package_ships_schedule_installs_units_for_usr_bin() -> None:
    units = package_units()
    schedule = Schedule(Path("/usr/bin/certbot-like"))
    for name, text in (
        ("certbot-like-renew.service", render_service(schedule)),
        ("certbot-like-renew.timer", render_timer(schedule)),
    ):
        assert units[name].split("\n")[1:] == text.split("\n")[1:]
        assert units[name].startswith("# Shipped by the certbot-like Debian package")


def test_package_files_are_valid_units_man_pages_and_click_completion(tmp_path: Path) -> None:
    write_package_files(tmp_path)
    timer = tmp_path / "lib/systemd/system/certbot-like-renew.timer"
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(timer)], capture_output=True, text=True, check=False
    )
    assert verify.returncode == 0, verify.stderr
    bash = (tmp_path / "usr/share/bash-completion/completions/certbot-like").read_text()
    assert "_CERTBOT_LIKE_COMPLETE=bash_complete" in bash
    assert "compdef" in (tmp_path / "usr/share/zsh/vendor-completions/_certbot-like").read_text()
    fish = (tmp_path / "usr/share/fish/vendor_completions.d/certbot-like.fish").read_text()
    assert "complete --no-files --command certbot-like" in fish


def test_one_man_page_per_command_with_its_options() -> None:
    pages = render_all()
    import click

    from certbot_like.cli.main import cli

    expected = {"certbot-like.1"} | {f"certbot-like-{name}.1" for name in COMMANDS}
    for name in COMMANDS:  # a group's subcommands get a page each (account rollover, fleet *)
        command = cli.get_command(click.Context(cli), name)
        if isinstance(command, click.Group):
            expected |= {f"certbot-like-{name}-{sub}.1" for sub in command.list_commands(None)}  # type: ignore[arg-type]
    assert set(pages) == expected
    assert "\\-\\-webroot\\-path" in pages["certbot-like-obtain.1"]  # plugin flags too
    assert "certbot\\-like\\-renew\\fR(1)" in pages["certbot-like.1"]


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is installed with man-db")
def test_man_pages_render_without_warnings(tmp_path: Path) -> None:
    for name, text in render_all().items():
        proc = subprocess.run(
            ["groff", "-man", "-ww", "-z"], input=text, capture_output=True, text=True, check=False
        )
        assert (proc.returncode, proc.stderr) == (0, ""), name


@pytest.mark.parametrize(
    ("extra", "module"), [("apache", "augeas"), ("lexicon", "lexicon"), ("notify", "apprise")]
)
def test_plugins_names_a_missing_extra_and_how_to_add_it(
    monkeypatch: pytest.MonkeyPatch, extra: str, module: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # not importable, not found
    result = run_main(["plugins"])
    assert result.returncode == 0
    line = next(x for x in result.stdout.splitlines() if x.startswith(f"Extra [{extra}]"))
    assert line.endswith(f"pip install 'certbot-like[{extra}]'"), line
    others = [x for x in result.stdout.splitlines() if x.startswith("Extra [")]
    assert len(others) == 1, others
    listed = json.loads(run_main(["plugins", "--json"]).stdout)["missing_extras"]
    assert [e["extra"] for e in listed] == [extra]


def test_a_plugin_whose_extra_is_missing_says_which_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from certbot_like_dns_lexicon import unavailable_reason

    monkeypatch.setitem(sys.modules, "lexicon", None)
    assert unavailable_reason() == (
        "dns-lexicon is not installed (dns-lexicon and certbot's dns-* plugins needs it); "
        "install the extra: pip install 'certbot-like[lexicon]'"
    )


def test_notify_without_apprise_warns_with_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from certbot_like.services.notify import Message, send_all

    monkeypatch.setitem(sys.modules, "apprise", None)
    url = "json://localhost/hook"
    warnings = send_all([Message(title="t", body="b", urls=[url])], [url])
    assert len(warnings) == 1 and "pip install 'certbot-like[notify]'" in warnings[0], warnings
