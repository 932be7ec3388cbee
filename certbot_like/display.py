"""Talking to the operator: messages, prompts and the rule for when prompting is allowed."""

from __future__ import annotations

import sys
from typing import TextIO

from certbot_like.errors import PluginError, UsageError


class TerminalDisplay:
    """The :class:`~certbot_like.interfaces.Display` for the command line.

    Interactive only when stdin and stdout are terminals (or ``--force-interactive``) and
    ``-n`` was not given. Messages go
    to stderr for prompts and instructions, so stdout stays clean for ``--json``.
    """

    def __init__(
        self,
        *,
        non_interactive: bool = False,
        quiet: bool = False,
        stream: TextIO | None = None,
        stdin: TextIO | None = None,
        force_interactive: bool = False,
    ) -> None:
        self._stdin = stdin or sys.stdin
        self._out = stream or sys.stderr
        self.quiet = quiet
        self._interactive = not non_interactive and (
            force_interactive
            or (self._stdin.isatty() and (stream is not None or sys.stdout.isatty()))
        )

    @property
    def interactive(self) -> bool:
        return self._interactive

    def notify(self, message: str) -> None:
        if not self.quiet:
            print(message, file=self._out, flush=True)

    def pause(self, message: str) -> None:
        if not self._interactive:
            raise PluginError(
                "This step needs an operator at a terminal",
                "Run interactively, or use hooks (e.g. --manual-auth-hook)",
            )
        print(message, file=self._out, end=" ", flush=True)
        if not self._stdin.readline():
            raise PluginError("Input closed while waiting for Enter", "Run it again interactively")

    def confirm(self, question: str, *, default: bool, flag_hint: str) -> bool:
        """Ask a yes/no question; without a terminal return *default*... unless it needs one.

        Raises:
            UsageError: non-interactive and the answer has no safe default (``flag_hint`` says
                which flag gives it).
        """
        if not self._interactive:
            if default:
                return True
            raise UsageError(f"{question.rstrip('?')} needs an answer", flag_hint)
        suffix = "[Y/n]" if default else "[y/N]"
        print(f"{question} {suffix}", file=self._out, end=" ", flush=True)
        answer = self._stdin.readline().strip().lower()
        if not answer:
            return default
        return answer in ("y", "yes")

    def ask(self, question: str, *, flag_hint: str) -> str:
        """Ask for a line of text.

        Raises:
            UsageError: non-interactive (``flag_hint`` names the flag that answers it).
        """
        if not self._interactive:
            raise UsageError(f"{question.rstrip(':? ')} is needed", flag_hint)
        print(question, file=self._out, end=" ", flush=True)
        return self._stdin.readline().strip()
