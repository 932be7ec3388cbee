"""Render docs/certbot-flags.md from certbot_like/cli/certbot_flags.py (`make docs`).

A unit test compares the committed file with this output.
"""

from __future__ import annotations

import click

from certbot_like.cli.certbot_flags import COMPAT_PREFIX, FLAGS, render_markdown
from certbot_like.cli.command import CompatCommand
from certbot_like.cli.main import COMMANDS, cli


def flag_commands() -> list[str]:
    """The commands that take certbot's flags (all but ``account`` and ``completion``)."""
    ctx = click.Context(cli, **cli.context_settings)
    return [n for n in COMMANDS if isinstance(cli.get_command(ctx, n), CompatCommand)]


def honoured_by() -> dict[str, list[str]]:
    """For each certbot flag, the certbot-like commands that declare it themselves."""
    out: dict[str, list[str]] = {}
    ctx = click.Context(cli, **cli.context_settings)
    for command_name in flag_commands():
        command = cli.get_command(ctx, command_name)
        assert command is not None
        declared = {
            o
            for p in command.get_params(click.Context(command, parent=ctx))
            if not (p.name or "").startswith(COMPAT_PREFIX)
            for o in [*p.opts, *p.secondary_opts]
        }
        for flag in FLAGS:
            if declared.intersection(flag.opts):
                out.setdefault(flag.name, []).append(command_name)
    return out


def render() -> str:
    return render_markdown(honoured_by(), flag_commands())


if __name__ == "__main__":
    print(render(), end="")
