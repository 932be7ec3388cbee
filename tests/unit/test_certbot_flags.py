"""Every option of ``certbot --help all`` (5.8) given to every certbot-like command: honoured
by the commands that declare it, accepted with a debug-log note by the others, or refused
with one line; and the list, the table and docs/certbot-flags.md agree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from certbot_like.cli.certbot_flags import (
    COMPAT_PREFIX,
    FLAGS,
    HONOURED,
    IGNORED,
    NOTES_KEY,
    REFUSED,
    CertbotFlag,
)
from certbot_like.cli.main import cli
from certbot_like.cli.plugin_choice import choose_plugin_names
from certbot_like.errors import UsageError
from tests.harness.clirun import run_cli, run_main
from tests.harness.gen_flag_docs import flag_commands, honoured_by
from tests.unit.test_cli_config import clean_environment  # noqa: F401 (autouse fixture)

ROOT = Path(__file__).resolve().parents[2]
CERTBOT_LIST = ROOT / "tests" / "data" / "certbot-5.8-flags.txt"
# certbot's subcommands (and obtain, our name for certonly)
CERTBOT_COMMANDS = [
    "obtain",
    "run",
    "certonly",
    "install",
    "rollback",
    "renew",
    "certificates",
    "register",
    "show-account",
    "update-account",
    "unregister",
    "plugins",
    "revoke",
    "delete",
    "reconfigure",
]


def certbot_list() -> list[tuple[tuple[str, ...], bool]]:
    out = []
    for line in CERTBOT_LIST.read_text().splitlines():
        *opts, kind = line.split()
        out.append((tuple(opts), kind == "value"))
    return out


def sample_value(flag: CertbotFlag, tmp: Path) -> str:
    """A value every command's type for *flag* accepts."""
    files = {"--config", "--csr", "--cert-path", "--key-path", "--fullchain-path", "--chain-path"}
    if flag.name in files:
        path = tmp / (flag.name[2:] + ".pem")
        path.write_text("")
        return str(path)
    if flag.name in ("--config-dir", "--work-dir", "--logs-dir", "--webroot-path"):
        return str(tmp / flag.name[2:])
    return {
        "--max-log-backups": "3",
        "--verbose-level": "1",
        "--domains": "a.test",
        "--ip-address": "192.0.2.1",
        "--eab-hmac-alg": "HS256",
        "--email": "ops@a.test",
        "--http-01-port": "8080",
        "--http-01-address": "127.0.0.1",
        "--https-port": "8443",
        "--rsa-key-size": "3072",
        "--key-type": "rsa",
        "--elliptic-curve": "secp384r1",
        "--preferred-challenges": "http-01",
        "--issuance-timeout": "60",
        "--server": "https://ca.test/dir",
        "--reason": "keyCompromise",
        "--checkpoints": "2",
        "--configurator": "nginx",
        "--authenticator": "webroot",
        "--installer": "nginx",
        "--webroot-map": '{"a.test": "/srv/www"}',
    }.get(flag.name, "x")


def test_the_table_lists_exactly_certbots_options() -> None:
    ours = [(f.opts, f.takes_value) for f in FLAGS]
    assert sorted(ours) == sorted(certbot_list())
    assert len({f.name for f in FLAGS}) == len(FLAGS)
    assert {f.status for f in FLAGS} == {HONOURED, IGNORED, REFUSED}
    assert all(f.hint for f in FLAGS if f.status == REFUSED)


def test_honoured_flags_are_declared_and_the_others_are_not() -> None:
    by = honoured_by()
    for flag in FLAGS:
        if flag.status == HONOURED:
            assert by.get(flag.name), f"{flag.name} is honoured by no command"
        else:
            assert not by.get(flag.name), f"{flag.name} is {flag.status} but {by[flag.name]}"


def test_a_command_declares_all_spellings_of_a_flag_or_none() -> None:
    ctx = click.Context(cli, **cli.context_settings)
    for name in flag_commands():
        command = cli.get_command(ctx, name)
        assert command is not None
        params = command.get_params(click.Context(command, parent=ctx))
        declared = {
            o
            for p in params
            if not (p.name or "").startswith(COMPAT_PREFIX)
            for o in [*p.opts, *p.secondary_opts]
        }
        for flag in FLAGS:
            have = declared.intersection(flag.opts)
            assert not have or have == set(flag.opts), (name, flag.opts)


@pytest.mark.parametrize("command_name", CERTBOT_COMMANDS)
def test_every_certbot_flag_with_every_command(command_name: str, tmp_path: Path) -> None:
    """Parsed as certbot parses it: honoured (declared), noted for the log, or refused."""
    command = cli.get_command(click.Context(cli, **cli.context_settings), command_name)
    assert command is not None
    declared = set(honoured_by())
    own = {f for f, cmds in honoured_by().items() if command_name in cmds}
    assert declared >= own
    for flag in FLAGS:
        if flag.name in ("--help", "--version"):
            continue  # they print and exit; tested below
        args = [flag.opts[-1]] + ([sample_value(flag, tmp_path)] if flag.takes_value else [])
        for param in command.params:  # what the command requires (install: --cert-name)
            if isinstance(param, click.Option) and param.required and flag.name not in param.opts:
                args += [param.opts[0], "a.test"]
        if flag.status == REFUSED:
            with pytest.raises(UsageError) as refused:
                command.make_context(command_name, list(args))
            assert refused.value.one_line().startswith(f"{flag.name} is not supported: ")
            continue
        ctx = command.make_context(command_name, list(args))
        notes = [n for n in ctx.meta.get(NOTES_KEY, []) if n.startswith(flag.name + " ")]
        if flag.name in own:
            assert notes == [], (command_name, flag.name)
        else:
            assert len(notes) == 1, (command_name, flag.name)
            if flag.status == IGNORED:
                assert notes[0].endswith(flag.note)
            else:
                assert notes[0].endswith(f"no effect on `{command_name}`")


@pytest.mark.parametrize("command_name", ["certificates", "delete", "plugins", "renew"])
def test_version_with_any_command(command_name: str) -> None:
    result = run_main([command_name, "--version"])
    assert result.returncode == 0
    assert result.stdout.startswith("certbot-like ")


def test_a_refused_flag_is_one_line_and_exit_2() -> None:
    result = run_main(["certificates", "--agree-tos", "--must-staple"])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Error: --must-staple is not supported: OCSP Must-Staple: CAs refuse it since they "
        "switched OCSP off in 2025. Drop the flag."
    ]


def test_a_refused_flag_in_cli_ini_is_refused_too(tmp_path: Path) -> None:
    ini = tmp_path / "cli.ini"
    ini.write_text("agree-tos = True\nno-verify-ssl = True\n")
    result = run_main(["certificates", "-c", str(ini), "--config-dir", str(tmp_path)])
    assert result.returncode == 3
    assert result.stderr.strip() == (
        f"Error: {ini}: no-verify-ssl: --no-verify-ssl is not supported: certbot-like always "
        "verifies the CA's certificate. Pass --ca-bundle FILE with the CA's root instead."
    )


def test_an_ignored_flag_is_noted_in_the_debug_log(tmp_path: Path) -> None:
    dirs = ["--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w")]
    dirs += ["--logs-dir", str(tmp_path / "l")]
    args = ["certificates", *dirs, "--agree-tos", "--staple-ocsp", "--reason", "x"]
    result = run_cli(args, env=dict(os.environ))  # the fixture's empty cli.ini
    assert result.returncode == 0, result.stderr
    log = (tmp_path / "l" / "letsencrypt.log").read_text()
    assert "--agree-tos accepted and ignored: it has no effect on `certificates`" in log
    assert "--staple-ocsp accepted and ignored: CAs switched OCSP off" in log
    assert "--reason accepted and ignored" in log


def test_options_before_the_command_too(tmp_path: Path) -> None:
    dirs = ["--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w")]
    dirs += ["--logs-dir", str(tmp_path / "l")]
    args = ["--user-agent-comment", "x", "--break-my-certs", "--checkpoints", "3"]
    result = run_cli([*args, *dirs, "certificates"], env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "No certificates found."


def test_configurator_is_authenticator_and_installer() -> None:
    assert choose_plugin_names({"configurator": "nginx"}, need_authenticator=True) == (
        "nginx",
        "nginx",
    )
    assert choose_plugin_names(
        {"configurator": "nginx", "authenticator": "webroot"}, need_authenticator=True
    ) == ("webroot", "nginx")


def test_force_interactive_conflicts_with_non_interactive(tmp_path: Path) -> None:
    result = run_main(["certificates", "-n", "--force-interactive", "--config-dir", str(tmp_path)])
    assert result.returncode == 2
    assert "--force-interactive conflicts with -n" in result.stderr


@pytest.mark.parametrize("value", ["foo.test", "192.0.2.300", "::g"])
def test_ip_address_takes_only_addresses(value: str) -> None:
    result = run_main(["certonly", "--ip-address", value, "--standalone"])
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"Error: --ip-address '{value}' is not an IP address. Give names with -d."
    )


def test_certbot_flags_doc_is_up_to_date() -> None:
    fresh = subprocess.run(
        [sys.executable, "-m", "tests.harness.gen_flag_docs"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    assert (ROOT / "docs" / "certbot-flags.md").read_text() == fresh, "run `make docs`"


def test_without_cli_ini_only_the_spelled_certbot_options_are_declared(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No cli.ini: the hidden certbot options are those the command line spells (``-nq``
    spells ``-n`` and ``-q``), and they still work; with a cli.ini every one is declared."""
    from certbot_like.cli import command as command_module
    from certbot_like.cli.certbot_flags import option_words

    assert option_words(["-nq", "--reason=x", "value"]) == {"-n", "-q", "--reason"}
    monkeypatch.delenv("CERTBOT_LIKE_CONFIG_FILE")
    monkeypatch.setattr(command_module, "DEFAULT_CLI_INI", tmp_path / "missing-cli.ini")
    command = cli.get_command(click.Context(cli, **cli.context_settings), "certificates")
    assert command is not None
    ctx = command.make_context("certificates", ["--agree-tos", "--reason", "x", "-n"])
    compat = {p.name for p in command.get_params(ctx) if (p.name or "").startswith(COMPAT_PREFIX)}
    assert compat == {COMPAT_PREFIX + "agree_tos", COMPAT_PREFIX + "reason"}
    assert {n.split()[0] for n in ctx.meta[NOTES_KEY]} == {"--agree-tos", "--reason"}
    with pytest.raises(UsageError, match="--must-staple is not supported"):
        command.make_context("certificates", ["--must-staple"])
    ini = tmp_path / "cli.ini"
    ini.write_text("agree-tos = True\n")
    ctx = command.make_context("certificates", ["-c", str(ini)])
    every = [p for p in command.get_params(ctx) if (p.name or "").startswith(COMPAT_PREFIX)]
    assert len(every) > 50


def test_short_options_reach_click_in_their_long_spelling() -> None:
    """``-n``/``-d X`` are handed to click as ``--non-interactive``/``--domains X``; values,
    grouped short options, unknown words and everything after ``--`` are left alone."""
    from certbot_like.cli.command import long_spellings

    command = cli.get_command(click.Context(cli, **cli.context_settings), "certonly")
    assert command is not None
    params = command.get_params(click.Context(command))
    args = ["-n", "-d", "-n", "--pre-hook", "-d", "-nq", "-Z", "-d=x", "--", "-n"]
    assert long_spellings(params, args) == [
        "--non-interactive", "--domains", "-n", "--pre-hook", "-d", "-nq", "-Z", "-d=x", "--",
        "-n",
    ]  # fmt: skip
    assert long_spellings(params, ["-n", "-d"]) == ["--non-interactive", "-d"]  # as typed
    ctx = command.make_context("certonly", ["-n", "-d", "a.test", "-d", "b.test", "-q"])
    assert ctx.params["domains"] == ("a.test", "b.test") and ctx.params["non_interactive"]
