"""Write the man pages from the click commands: ``certbot-like(1)`` and one page per command
(``certbot-like-obtain(1)``, ``certbot-like-account-rollover(1)`` ...).

``python -m tests.harness.gen_man DIR`` (``make man``, and the Debian package's build) writes
them into DIR. The text is click's own: each command's help, its options with their help and
defaults, the command list of a group, so the pages say what ``--help`` says. The date is
``SOURCE_DATE_EPOCH`` when set (reproducible builds), else today.
"""

from __future__ import annotations

import inspect
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click

from certbot_like import __version__
from certbot_like.cli.main import COMMANDS, cli

PROG = "certbot-like"
SEE_ALSO_DOCS = "Exit codes: /usr/share/doc/certbot-like/exit-codes.md, or docs/exit-codes.md"


def roff(text: str) -> str:
    """*text* safe in a roff line: backslashes and hyphens escaped, no control line start."""
    out = text.replace("\\", "\\e").replace("-", "\\-")
    if out.startswith((".", "'")):
        out = "\\&" + out
    return out


def _paragraphs(help_text: str) -> Iterator[str]:
    """Click's help as roff paragraphs; a ``\\b`` paragraph keeps its lines as they are."""
    for block in inspect.cleandoc(help_text).split("\n\n"):
        lines = block.split("\n")
        if lines and lines[0].strip() == "\b":
            body = "\n".join(roff(line) if line.strip() else "" for line in lines[1:])
            yield f".PP\n.nf\n{body}\n.fi"
        else:
            yield ".PP\n" + roff(" ".join(line.strip() for line in lines))


def _date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return time.strftime("%Y-%m-%d", time.gmtime(int(epoch) if epoch else None))


def _header(page: str, summary: str) -> list[str]:
    return [
        f'.TH "{page.upper()}" "1" "{_date()}" "{PROG} {__version__}" "User Commands"',
        ".SH NAME",
        f"{roff(page)} \\- {roff(summary.rstrip('.'))}",
    ]


def _options(command: click.Command, ctx: click.Context) -> list[str]:
    lines: list[str] = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        lines += [".TP", f"\\fB{roff(names)}\\fR", roff(" ".join(help_text.split())) or "\\&"]
    return [".SH OPTIONS", *lines] if lines else []


def render_page(
    command: click.Command, ctx: click.Context, page: str, summary: str
) -> tuple[str, list[tuple[str, click.Command, click.Context, str]]]:
    """The roff text of *command*'s page, and its subcommands (page name, command, context,
    summary) when it is a group."""
    lines = _header(page, summary)
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines += [".SH SYNOPSIS", f"\\fB{roff(ctx.command_path)}\\fR {roff(usage)}"]
    if command.help:
        lines.append(".SH DESCRIPTION")
        lines += list(_paragraphs(command.help))
    lines += _options(command, ctx)
    children: list[tuple[str, click.Command, click.Context, str]] = []
    if isinstance(command, click.Group):
        lines.append(".SH COMMANDS")
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            sub_summary = COMMANDS[name][1] if command is cli else sub.get_short_help_str(200)
            sub_page = f"{page}-{name}"
            lines += [
                ".TP",
                f"\\fB{roff(name)}\\fR",
                f"{roff(sub_summary)} See \\fB{roff(sub_page)}\\fR(1).",
            ]
            sub_ctx = click.Context(sub, info_name=name, parent=ctx)
            children.append((sub_page, sub, sub_ctx, sub_summary))
    see_also = [f"\\fB{roff(p)}\\fR(1)" for p in ([PROG] if page != PROG else [])]
    see_also += [f"\\fB{roff(child[0])}\\fR(1)" for child in children]
    lines += [".SH SEE ALSO", ", ".join(see_also) + ("." if see_also else ""), roff(SEE_ALSO_DOCS)]
    return "\n".join(lines) + "\n", children


def render_all() -> dict[str, str]:
    """``{file name: roff text}`` for the whole command tree."""
    ctx = click.Context(cli, info_name=PROG, **cli.context_settings)
    first_line = (cli.help or "").strip().splitlines()[0]
    pages: dict[str, str] = {}
    todo: list[tuple[str, click.Command, click.Context, str]] = [(PROG, cli, ctx, first_line)]
    while todo:
        page, command, command_ctx, summary = todo.pop(0)
        text, children = render_page(command, command_ctx, page, summary)
        pages[f"{page}.1"] = text
        todo += children
    return pages


def write_all(directory: Path) -> list[Path]:
    """Write every page into *directory* (created); the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "build/man")):
        print(written_path)
