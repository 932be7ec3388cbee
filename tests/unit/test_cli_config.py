"""cli.ini, environment and command line: precedence, certbot compatibility, error lines."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
import pytest

from certbot_like import __version__
from certbot_like.cli.command import CompatCommand
from certbot_like.cli.config_file import find_config_arg, read_cli_ini
from certbot_like.cli.main import _move_options_after_command
from certbot_like.cli.options import opt, was_set
from certbot_like.errors import ConfigError
from tests.harness.clirun import invoke_cli, run_cli


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CERTBOT_LIKE_* variables from the outer shell, and no system-wide cli.ini."""
    for name in list(os.environ):
        if name.startswith("CERTBOT_LIKE_"):
            monkeypatch.delenv(name)
    empty = tmp_path / "empty-cli.ini"
    empty.write_text("")
    monkeypatch.setenv("CERTBOT_LIKE_CONFIG_FILE", str(empty))


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- CompatCommand: precedence and was_set ----------------------------------------------


@click.command(cls=CompatCommand)
@opt("-c", "--config", "config_file")
@opt("--rsa-key-size", type=int, default=2048)
@opt("--agree-tos", is_flag=True)
@opt("--reuse-key/--no-reuse-key", default=False)
@opt("-m", "--email", "email", multiple=True)
@opt("-v", "--verbose", "verbosity", count=True)
@opt("--server")
@click.pass_context
def probe(ctx: click.Context, /, **kw: Any) -> None:
    """Print each value and whether the operator set it."""
    for name, value in sorted(kw.items()):
        click.echo(f"{name}={value!r} set={was_set(ctx, name)}")


def run_probe(args: list[str], env: dict[str, str] | None = None) -> dict[str, str]:
    result = invoke_cli(probe, args, env=env)
    if result.exception is not None:
        raise result.exception
    assert result.exit_code == 0, result.output
    return dict(line.split("=", 1) for line in result.output.splitlines())


def test_defaults_apply_and_count_as_not_set() -> None:
    got = run_probe([])
    assert got["rsa_key_size"] == "2048 set=False"
    assert got["agree_tos"] == "False set=False"
    assert got["email"] == "() set=False"


def test_cli_ini_beats_the_default_and_counts_as_set(tmp_path: Path) -> None:
    ini = write(
        tmp_path / "cli.ini",
        "rsa-key-size = 3072\nagree-tos = True\nemail = a@x.test, b@x.test\nverbose = 2\n",
    )
    got = run_probe(["-c", str(ini)])
    assert got["rsa_key_size"] == "3072 set=True"
    assert got["agree_tos"] == "True set=True"
    assert got["email"] == "('a@x.test', 'b@x.test') set=True"
    assert got["verbosity"] == "2 set=True"


def test_environment_beats_cli_ini(tmp_path: Path) -> None:
    ini = write(tmp_path / "cli.ini", "rsa-key-size = 3072\n")
    got = run_probe(["-c", str(ini)], env={"CERTBOT_LIKE_RSA_KEY_SIZE": "4096"})
    assert got["rsa_key_size"] == "4096 set=True"


def test_command_line_beats_environment_and_cli_ini(tmp_path: Path) -> None:
    ini = write(tmp_path / "cli.ini", "rsa-key-size = 3072\n")
    got = run_probe(
        ["-c", str(ini), "--rsa-key-size", "2048"], env={"CERTBOT_LIKE_RSA_KEY_SIZE": "4096"}
    )
    assert got["rsa_key_size"] == "2048 set=True"  # equal to the default, yet set


def test_environment_alone_beats_the_default() -> None:
    got = run_probe([], env={"CERTBOT_LIKE_AGREE_TOS": "1", "CERTBOT_LIKE_SERVER": "https://x"})
    assert got["agree_tos"] == "True set=True"
    assert got["server"] == "'https://x' set=True"


def test_cli_ini_named_by_the_environment_is_read(tmp_path: Path) -> None:
    ini = write(tmp_path / "from-env.ini", "server = https://ini.test/dir\n")
    got = run_probe([], env={"CERTBOT_LIKE_CONFIG_FILE": str(ini)})
    assert got["server"] == "'https://ini.test/dir' set=True"


@pytest.mark.parametrize("form", ["-c {}", "--config {}", "--config={}", "-c{}"])
def test_every_spelling_of_the_config_flag_finds_the_file(tmp_path: Path, form: str) -> None:
    ini = write(tmp_path / "cli.ini", "rsa-key-size = 4096\n")
    args = form.format(ini).split(" ")
    assert find_config_arg(["--server", "x", *args]) == ini
    assert run_probe(args)["rsa_key_size"] == "4096 set=True"


def test_cli_ini_keys_may_use_underscores_and_whitespace(tmp_path: Path) -> None:
    ini = write(tmp_path / "cli.ini", "# a comment\n  rsa_key_size   =   4096  \n")
    assert run_probe(["-c", str(ini)])["rsa_key_size"] == "4096 set=True"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("agree-tos = True", "True"),
        ("agree-tos = yes", "True"),
        ("agree-tos = on", "True"),
        ("agree-tos = 1", "True"),
        ("agree-tos = False", "False"),
        ("agree-tos = no", "False"),
        ("agree-tos = 0", "False"),
    ],
)
def test_flags_in_cli_ini_take_certbots_truth_words(
    tmp_path: Path, line: str, expected: str
) -> None:
    ini = write(tmp_path / "cli.ini", line + "\n")
    assert run_probe(["-c", str(ini)])["agree_tos"] == f"{expected} set=True"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("reuse-key = True", "True"),
        ("reuse-key = False", "False"),
        ("no-reuse-key = True", "False"),
        ("no-reuse-key = False", "True"),
    ],
)
def test_the_no_half_of_a_flag_pair_in_cli_ini_turns_it_off(
    tmp_path: Path, line: str, expected: str
) -> None:
    ini = write(tmp_path / "cli.ini", line + "\n")
    assert run_probe(["-c", str(ini)])["reuse_key"] == f"{expected} set=True"


@pytest.mark.parametrize(
    ("value", "expected"), [("0", "0"), ("3", "3"), ("True", "1"), ("false", "0")]
)
def test_verbose_count_in_cli_ini(tmp_path: Path, value: str, expected: str) -> None:
    ini = write(tmp_path / "cli.ini", f"verbose = {value}\n")
    assert run_probe(["-c", str(ini)])["verbosity"].startswith(expected + " ")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("agree-tos = perhaps\n", "agree-tos must be true or false"),
        ("verbose = lots\n", "verbose must be a number"),
        ("verbose = \u00b2\n", "verbose must be a number"),
        ("bogus-key = 1\n", "unknown option 'bogus-key'"),
        ("rsa-key-size = '''open\n", "is not valid"),
        ("a = 1\na = 2\n", "is not valid"),
    ],
)
def test_bad_cli_ini_is_a_config_error_naming_file_and_key(
    tmp_path: Path, text: str, words: str
) -> None:
    ini = write(tmp_path / "cli.ini", text)
    with pytest.raises(ConfigError) as info:
        run_probe(["-c", str(ini)])
    assert info.value.exit_code == 3
    assert str(ini) in info.value.message
    assert words in info.value.message


def test_missing_explicit_cli_ini_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        run_probe(["-c", str(tmp_path / "nope.ini")])


def test_sections_in_cli_ini_are_ignored(tmp_path: Path) -> None:
    ini = write(tmp_path / "cli.ini", "rsa-key-size = 4096\n[section]\nbogus = 1\n")
    assert read_cli_ini(ini) == {"rsa-key-size": "4096"}


# --- the real CLI, in a child process -----------------------------------------------------------


def run_main(args: list[str]) -> tuple[int, str, str]:
    """Run the real CLI in a child process (it sets up logging and click caches state).

    The child inherits this process's environment, as prepared by ``clean_environment``.
    """
    result = run_cli(args, timeout=60)  # scanned for secrets like every run
    return result.returncode, result.stdout, result.stderr


def make_config_dir(root: Path, lineage: str) -> Path:
    """A config dir holding one (broken) lineage, so `certificates` shows which dir it read."""
    renewal = root / "renewal"
    renewal.mkdir(parents=True)
    (renewal / f"{lineage}.conf").write_text(
        "".join(f"{k} = /nonexistent/{k}.pem\n" for k in ("cert", "privkey", "chain", "fullchain"))
    )
    return root


def listed(out: str) -> list[str]:
    return [c["name"] for c in json.loads(out)["certificates"]]


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    return {
        "ini": make_config_dir(tmp_path / "ini", "from-ini.test"),
        "env": make_config_dir(tmp_path / "env", "from-env.test"),
        "cmd": make_config_dir(tmp_path / "cmd", "from-cmd.test"),
        "work": tmp_path / "work",
        "logs": tmp_path / "logs",
    }


def certificates_args(dirs: dict[str, Path], *extra: str) -> list[str]:
    work, logs = str(dirs["work"]), str(dirs["logs"])
    return ["certificates", "--json", "--work-dir", work, "--logs-dir", logs, *extra]


def test_cli_ini_sets_the_config_dir_of_a_real_command(
    tmp_path: Path, dirs: dict[str, Path]
) -> None:
    ini = write(tmp_path / "cli.ini", f"config-dir = {dirs['ini']}\n")
    code, out, _ = run_main(certificates_args(dirs, "-c", str(ini)))
    assert code == 0
    assert listed(out) == ["from-ini.test"]


def test_environment_beats_cli_ini_in_a_real_command(
    tmp_path: Path,
    dirs: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ini = write(tmp_path / "cli.ini", f"config-dir = {dirs['ini']}\n")
    monkeypatch.setenv("CERTBOT_LIKE_CONFIG_DIR", str(dirs["env"]))
    code, out, _ = run_main(certificates_args(dirs, "-c", str(ini)))
    assert (code, listed(out)) == (0, ["from-env.test"])


def test_command_line_beats_environment_in_a_real_command(
    tmp_path: Path,
    dirs: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ini = write(tmp_path / "cli.ini", f"config-dir = {dirs['ini']}\n")
    monkeypatch.setenv("CERTBOT_LIKE_CONFIG_DIR", str(dirs["env"]))
    args = certificates_args(dirs, "-c", str(ini), "--config-dir", str(dirs["cmd"]))
    code, out, _ = run_main(args)
    assert (code, listed(out)) == (0, ["from-cmd.test"])


def test_options_before_the_subcommand_work_like_after(dirs: dict[str, Path]) -> None:
    common = ["--config-dir", str(dirs["cmd"]), "--work-dir", str(dirs["work"])]
    common += ["--logs-dir", str(dirs["logs"])]
    before = run_main(["-n", *common, "certificates", "--json"])
    after = run_main(["certificates", "--json", "-n", *common])
    assert before == after
    assert listed(before[1]) == ["from-cmd.test"]


@pytest.mark.parametrize(
    ("args", "moved"),
    [
        (
            ["-n", "--config-dir", "X", "plugins", "-q"],
            ["plugins", "-n", "--config-dir", "X", "-q"],
        ),
        (["-c", "cli.ini", "certificates"], ["certificates", "-c", "cli.ini"]),
        (["--config-dir=X", "-v", "plugins"], ["plugins", "--config-dir=X", "-v"]),
        (["certificates", "-n"], ["certificates", "-n"]),
        (["--cert-name", "plugins", "certificates"], ["certificates", "--cert-name", "plugins"]),
        (["--version"], ["--version"]),
        (["-n", "--help"], ["-n", "--help"]),
        (["-n"], ["-n"]),
    ],
)
def test_leading_options_are_moved_after_the_subcommand(args: list[str], moved: list[str]) -> None:
    assert _move_options_after_command(args) == moved


def test_unknown_cli_ini_key_exits_3_with_one_line_naming_it(
    tmp_path: Path, dirs: dict[str, Path]
) -> None:
    ini = write(tmp_path / "cli.ini", f"config-dir = {dirs['ini']}\nstagingg = True\n")
    code, out, err = run_main(certificates_args(dirs, "-c", str(ini)))
    assert code == 3
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("Error: ")
    assert "'stagingg'" in err
    assert str(ini) in err


def test_certbot_only_and_other_commands_keys_are_accepted(
    tmp_path: Path, dirs: dict[str, Path]
) -> None:
    ini = write(
        tmp_path / "cli.ini",
        f"# certbot's cli.ini\nconfig-dir = {dirs['ini']}\nno-eff-email = True\n"
        "keep-until-expiring = True\nrsa-key-size = 4096\nagree-tos = True\n"
        "authenticator = webroot\nwebroot-path = /var/www/html\nemail = ops@x.test\n",
    )
    code, out, err = run_main(certificates_args(dirs, "-c", str(ini)))
    assert (code, err) == (0, "")
    assert listed(out) == ["from-ini.test"]


def test_version_prints_the_program_name_and_version() -> None:
    """First line alone as before (scripts read it); then the libraries and the location."""
    from importlib import metadata

    import certbot_like

    code, out, err = run_main(["--version"])
    lines = out.splitlines()
    assert (code, err, lines[0]) == (0, "", f"certbot-like {__version__}")
    assert lines[0] == "certbot-like 0.1.0"
    assert lines[1].startswith(
        f"acme {metadata.version('acme')}, cryptography {metadata.version('cryptography')} "
        "(OpenSSL "
    )
    assert lines[3] == f"Installed in {Path(certbot_like.__file__).resolve().parent}"


def test_value_options_before_the_command_are_moved_after_it() -> None:
    from certbot_like.cli.main import _move_options_after_command

    args = ["--issuance-timeout", "60", "--key-type", "rsa", "-n", "renew", "-q"]
    assert _move_options_after_command(args) == [
        "renew",
        "--issuance-timeout",
        "60",
        "--key-type",
        "rsa",
        "-n",
        "-q",
    ]


def test_flag_pair_reads_its_environment_variable_by_the_positive_name() -> None:
    from certbot_like.cli.obtain import obtain_cmd

    (param,) = [p for p in obtain_cmd.params if p.name == "reuse_key"]
    assert param.envvar == "CERTBOT_LIKE_REUSE_KEY"


def test_short_help_works_after_leading_options_and_with_a_cli_ini(
    dirs: dict[str, Path], tmp_path: Path
) -> None:
    # both load every command's options first; click then caches each command's help option,
    # which once lost `-h` ("Try 'certbot-like renew --help'", exit 2)
    code, out, err = run_main(["--issuance-timeout", "60", "renew", "-h"])
    assert code == 0 and out.startswith("Usage: certbot-like renew"), err
    ini = write(tmp_path / "cli.ini", "rsa-key-size = 3072\n")
    code, out, err = run_main(["renew", "-c", str(ini), "-h"])
    assert code == 0 and out.startswith("Usage: certbot-like renew"), err
