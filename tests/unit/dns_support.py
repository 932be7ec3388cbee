"""Helpers shared by the DNS plugin unit tests: a recording display and plugin contexts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from certbot_like.errors import PluginError
from certbot_like.hooks import SubprocessHookRunner
from certbot_like.interfaces import ChallengeTask, Identifier, PluginContext
from tests.harness.bind import Bind


class RecordingDisplay:
    """A non-interactive display (unless told otherwise) that keeps what it was told."""

    def __init__(self, interactive: bool = False, on_pause: object = None) -> None:
        self._interactive = interactive
        self.on_pause = on_pause
        self.messages: list[str] = []

    @property
    def interactive(self) -> bool:
        return self._interactive

    def notify(self, message: str) -> None:
        self.messages.append(message)

    def pause(self, message: str) -> None:
        if not self._interactive:
            raise PluginError("No one to press Enter")
        self.messages.append(message)
        if callable(self.on_pause):
            self.on_pause()


def make_context(
    tmp_path: Path, display: RecordingDisplay | None = None
) -> tuple[PluginContext, list[str], RecordingDisplay]:
    """A plugin context whose registered secrets are collected in the returned list."""
    registered: list[str] = []
    shown = display or RecordingDisplay()
    context = PluginContext(
        config_dir=tmp_path / "config",
        work_dir=tmp_path / "work",
        logs_dir=tmp_path / "logs",
        display=shown,
        hooks=SubprocessHookRunner(timeout=10),
        register_secret=registered.append,
    )
    return context, registered, shown


def dns_task(name: str, token: str = "tok") -> ChallengeTask:  # noqa: S107
    """A dns-01 task for *name* (``*.`` for a wildcard) with a distinct key authorization."""
    return ChallengeTask(Identifier("dns", name), "dns-01", token, f"{token}.{name}.thumbprint")


@pytest.fixture(scope="module")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind]:
    """A real BIND with example.test, delegated.test and a few CNAMEs (missing named fails)."""
    server = Bind(
        tmp_path_factory.mktemp("bind"),
        records={
            "example.test": [
                "_acme-challenge.alias CNAME _acme-challenge.alias.delegated.test.",
                "_acme-challenge.chain CNAME _acme-challenge.alias.example.test.",
                "_acme-challenge.loop1 CNAME _acme-challenge.loop2.example.test.",
                "_acme-challenge.loop2 CNAME _acme-challenge.loop1.example.test.",
            ]
        },
    ).start()
    yield server
    server.stop()
