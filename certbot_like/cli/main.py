"""``certbot-like``: the command group, flat option parsing and the exit-code contract.

Commands are imported only when used, so ``--version`` and ``--help`` stay fast. Options may
come before or after the subcommand (``certbot-like -n renew`` and ``certbot-like renew -n``),
as with certbot. Every :class:`~certbot_like.errors.CertbotLikeError` becomes one line on
stderr and its exit code; anything else is a bug: exit 1, traceback only in the log.
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
from typing import NoReturn

import click

logger = logging.getLogger(__name__)

COMMANDS: dict[str, tuple[str, str]] = {
    "obtain": ("certbot_like.cli.obtain:obtain_cmd", "Obtain a certificate (alias: certonly)."),
    "run": ("certbot_like.cli.obtain:run_cmd", "Same as obtain (certbot's default command)."),
    "install": (
        "certbot_like.cli.install:install_cmd",
        "Install an existing certificate with an installer plugin.",
    ),
    "rollback": (
        "certbot_like.cli.install:rollback_cmd",
        "Undo the installer's last configuration change.",
    ),
    "certonly": ("certbot_like.cli.obtain:certonly_cmd", "Same as obtain (certbot's name)."),
    "renew": ("certbot_like.cli.renew:renew_cmd", "Renew the certificates that are due."),
    "certificates": (
        "certbot_like.cli.certificates:certificates_cmd",
        "List certificates: names, expiry, key, paths, problems.",
    ),
    "check": (
        "certbot_like.cli.check:check_cmd",
        "Monitoring plugin: renewal health, exit 0 OK to 3 UNKNOWN.",
    ),
    "metrics": (
        "certbot_like.cli.metrics:metrics_cmd",
        "Write Prometheus metrics (node_exporter textfile format).",
    ),
    "doctor": (
        "certbot_like.cli.doctor:doctor_cmd",
        "Find what breaks renewal before it does: timer, keys, links, CAA, clock.",
    ),
    "register": ("certbot_like.cli.account:register_cmd", "Register an ACME account."),
    "show-account": (
        "certbot_like.cli.account:show_account_cmd",
        "Show the account registered with the CA.",
    ),
    "update-account": (
        "certbot_like.cli.account:update_account_cmd",
        "Change the account's contact e-mail.",
    ),
    "unregister": ("certbot_like.cli.account:unregister_cmd", "Deactivate the account at the CA."),
    "plugins": (
        "certbot_like.cli.plugins_cmd:plugins_cmd",
        "List plugins and whether each can run here.",
    ),
    "schedule": (
        "certbot_like.cli.schedule:schedule_cmd",
        "Install, remove or show the automatic renewal timer.",
    ),
    "revoke": ("certbot_like.cli.lifecycle:revoke_cmd", "Revoke a certificate at the CA."),
    "delete": (
        "certbot_like.cli.lifecycle:delete_cmd",
        "Delete a certificate lineage (live, archive, renewal conf).",
    ),
    "reconfigure": (
        "certbot_like.cli.lifecycle:reconfigure_cmd",
        "Change a certificate's renewal settings after a dry run.",
    ),
    "deploy": (
        "certbot_like.cli.deploy:deploy_cmd",
        "Write the --deploy-to targets again from the current certificates.",
    ),
    "account": (
        "certbot_like.cli.account:account_cmd",
        "Account key management: `account rollover` replaces the key.",
    ),
    "completion": (
        "certbot_like.cli.completion:completion_cmd",
        "Print the shell completion script for bash, zsh or fish.",
    ),
    "fleet": (
        "certbot_like.cli.fleet:fleet_cmd",
        "Many nodes, one store in PostgreSQL: init, import, sync, status.",
    ),
}
_VALUE_OPTIONS = {
    "-c",
    "--config",
    "--config-dir",
    "--work-dir",
    "--logs-dir",
    "--server",
    "--ca-bundle",
    "-m",
    "--email",
    "-d",
    "--domains",
    "--domain",
    "--cert-name",
    "-a",
    "--authenticator",
    "-i",
    "--installer",
    "-w",
    "--webroot-path",
    "--max-log-backups",
    "--http-timeout",
    "--account",
    "--store",
    "--store-key-file",
    "--node-name",
}


class CertbotLikeGroup(click.Group):
    """A lazily loading group that also accepts options before the subcommand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, _, attr = entry[0].partition(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _move_options_after_command(args))


def _move_options_after_command(args: list[str]) -> list[str]:
    """``-n --config-dir X renew -q`` -> ``renew -n --config-dir X -q``."""
    leading: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in COMMANDS:
            if not leading:
                return args
            return [arg, *leading, *args[index + 1 :]]
        if arg in ("--help", "-h", "--version") or not arg.startswith("-"):
            return args
        leading.append(arg)
        if _takes_value(arg) and index + 1 < len(args):
            leading.append(args[index + 1])
            index += 1
        index += 1
    return args


def _takes_value(arg: str) -> bool:
    return arg in _VALUE_OPTIONS or arg in _all_value_options()


@functools.cache
def _all_value_options() -> frozenset[str]:
    """Every option of every command that takes a value (loads the commands: only needed
    when options come before the command name)."""
    found: set[str] = set()
    # the root's settings (``-h``): click caches each command's help option on first use
    ctx = click.Context(cli, **cli.context_settings)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        if command is None:
            continue
        for param in command.get_params(click.Context(command, parent=ctx)):
            if isinstance(param, click.Option) and not param.is_flag and not param.count:
                found.update(param.opts)
    return frozenset(found)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from certbot_like.cli.version import version_text

    click.echo(version_text())
    ctx.exit()


@click.group(
    cls=CertbotLikeGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version, the acme, cryptography and OpenSSL versions, and where this "
    "copy is installed, then exit.",
)
def cli() -> None:
    """A fast, safe ACME client that reads and writes certbot's files.

    \b
    Get a certificate:     certbot-like obtain -d example.com --webroot -w /var/www/html
    See what you have:     certbot-like certificates
    Options go before or after the command; certbot's flag names work.
    Exit codes are listed in docs/exit-codes.md.
    """


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI and turn every outcome into an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = cli.main(args=args, prog_name="certbot-like", standalone_mode=False)
        if isinstance(code, int) and code:
            raise SystemExit(code)
    except click.exceptions.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except click.exceptions.Abort:
        _fail("Aborted", None, 130)
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        _fail("Interrupted; nothing was left half-written", None, 130)
    except Exception as exc:
        from certbot_like.errors import CertbotLikeError

        if isinstance(exc, CertbotLikeError):
            logger.debug("Exiting with %s", exc.one_line(), exc_info=True)
            _fail(exc.one_line(), None, exc.exit_code)
        logger.exception("Unexpected error")
        _fail(
            f"Unexpected internal error: {type(exc).__name__}: {_first_line(exc)}",
            "This is a bug; the traceback is in the log (see --logs-dir)",
            1,
        )
    raise SystemExit(0)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.splitlines()[0].split())[:200] if text else ""


def _fail(message: str, hint: str | None, code: int) -> NoReturn:
    line = f"Error: {message}" if not message.startswith("Error") else message
    if hint:
        line = f"{line.rstrip('.')}. {hint}."
    click.echo(line, err=True)
    raise SystemExit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
