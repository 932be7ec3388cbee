"""Render docs/cli-reference.md from the click commands (`make docs`).

A unit test compares the committed file with this output, so the reference cannot drift
from the code.
"""

from __future__ import annotations

import click

from certbot_like.cli.main import COMMANDS, cli

HEADER = """# Command reference

Generated from the click commands by `make docs`; do not edit by hand. Every option can be
given before or after the command, as `CERTBOT_LIKE_<NAME>` in the environment, or as
`name = value` in cli.ini (precedence in that order: command line, environment, cli.ini,
default). Exit codes: [exit-codes.md](exit-codes.md).
"""


def render() -> str:
    parts = [HEADER]
    settings = {**cli.context_settings, "max_content_width": 96, "terminal_width": 96}
    ctx = click.Context(cli, info_name="certbot-like", **settings)
    parts.append("## certbot-like\n\n```\n" + cli.get_help(ctx) + "\n```\n")
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        sub = click.Context(command, info_name=name, parent=ctx, **settings)
        parts.append(f"## {name}\n\n```\n{command.get_help(sub)}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
