"""Render docs/certbot-flags.md from certbot_like/cli/certbot_flags.py (`make docs`).

A unit test compares the committed file with this output.
"""

from __future__ import annotations

from certbot_like.cli.certbot_flags import flag_commands, honoured_by, render_markdown


def render() -> str:
    return render_markdown(honoured_by(), flag_commands())


if __name__ == "__main__":
    print(render(), end="")
