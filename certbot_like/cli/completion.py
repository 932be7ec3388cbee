"""``certbot-like completion SHELL``: the shell completion script (click's own protocol).

The script calls ``certbot-like`` back with ``_CERTBOT_LIKE_COMPLETE`` set to complete
commands, options and choices; see docs/completion.md for where to put it.
"""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_CERTBOT_LIKE_COMPLETE"


@click.command(
    "completion",
    short_help="Print the shell completion script.",
    help="Print the completion script for SHELL (bash, zsh or fish) on stdout.\n\n"
    "\b\nExamples:\n"
    "  certbot-like completion bash > /etc/bash_completion.d/certbot-like\n"
    "  certbot-like completion zsh > ~/.zfunc/_certbot-like\n"
    "  certbot-like completion fish > ~/.config/fish/completions/certbot-like.fish",
)
@click.argument("shell", type=click.Choice(SHELLS))
def completion_cmd(shell: str) -> None:
    from click.shell_completion import get_completion_class

    from certbot_like.cli.main import cli

    completer = get_completion_class(shell)
    assert completer is not None  # every name in SHELLS is one of click's
    click.echo(completer(cli, {}, "certbot-like", COMPLETE_VAR).source())
