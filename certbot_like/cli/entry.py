"""The ``certbot-like`` console script.

``certbot-like --version`` alone is answered here, before the command-line interface (click
and the command table) is imported: scripts and monitoring call it often, and importing click
costs more than the rest of ``--version`` together (docs/adr/0030-version-before-the-cli.md).
Everything else, ``--version`` among other arguments included, goes to
:func:`certbot_like.cli.main.main` unchanged.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Console entry point: ``--version`` at once, anything else through the CLI."""
    if sys.argv[1:] == ["--version"]:
        from certbot_like.cli.version import version_text

        sys.stdout.write(version_text() + "\n")
        sys.stdout.flush()
        raise SystemExit(0)
    from certbot_like.cli.main import main as cli_main

    cli_main()
