"""What the service unit tests share: an in-memory store and CA, webroot, recording hooks."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from certbot_like.errors import HookError
from certbot_like.interfaces import HookResult
from certbot_like.keyspec import KeySpec
from certbot_like.services.obtain import identifiers_from, obtain
from certbot_like.settings import (
    AccountSettings,
    CaSettings,
    CertRequest,
    HookSettings,
    PluginChoice,
    RunSettings,
)
from certbot_like.storage.layout import Layout
from certbot_like.storage.memory_store import MemoryStore
from tests.unit.memory_ca import SERVER, MemoryCa


@dataclass
class RecordingHooks:
    """Runs no shell: records each hook; a command containing ``fail`` fails."""

    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def run(self, command: str, env: Mapping[str, str], *, what: str) -> HookResult:
        self.calls.append((what, command, dict(env)))
        if "fail" in command:
            raise HookError(f"The {what} {command!r} exited with status 1", "Fix the hook")
        return HookResult(0, "", "")

    def whats(self) -> list[str]:
        return [what for what, _, _ in self.calls]


class QuietDisplay:
    """A non-interactive terminal: every question takes its default."""

    interactive = False

    def __init__(self) -> None:
        self.notes: list[str] = []

    def notify(self, message: str) -> None:
        self.notes.append(message)

    def pause(self, message: str) -> None:
        self.notes.append(message)

    def confirm(self, question: str, *, default: bool, flag_hint: str) -> bool:
        return default

    def ask(self, question: str, *, flag_hint: str) -> str:
        raise AssertionError(f"asked {question!r} in a non-interactive run")


@dataclass
class ServiceEnv:
    """One test's world: the CA, the store, the webroot, hooks and the run settings."""

    ca: MemoryCa
    store: MemoryStore
    webroot: Path
    hooks: RecordingHooks
    display: QuietDisplay
    run: RunSettings

    def webroot_choice(self) -> PluginChoice:
        from certbot_like.plugin_catalog import get

        spec = get("webroot", "authenticator")
        options = spec.options(webroot_path=(str(self.webroot),))
        return PluginChoice(spec, options, frozenset({"webroot_path"}))

    def request(self, *names: str, hooks: HookSettings | None = None, **kw: object) -> CertRequest:
        return CertRequest(
            identifiers=identifiers_from(names),
            authenticator=self.webroot_choice(),
            key=KeySpec(),
            hooks=hooks or HookSettings(),
            **kw,  # type: ignore[arg-type]
        )

    def obtain(self, *names: str, hooks: HookSettings | None = None) -> str:
        """Obtain a certificate for *names*; returns its lineage name."""
        result = obtain(self.run, self.request(*names, hooks=hooks), self.display, self.hooks)
        assert result.lineage is not None
        return result.lineage

    def with_run(self, **changes: object) -> RunSettings:
        return dataclasses.replace(self.run, **changes)  # type: ignore[arg-type]


def make_env(tmp_path: Path, **ca_options: object) -> ServiceEnv:
    webroot = tmp_path / "www"
    webroot.mkdir()
    ca = MemoryCa(webroot=webroot, **ca_options)  # type: ignore[arg-type]
    store = MemoryStore()
    run = RunSettings(
        layout=Layout(tmp_path / "config", tmp_path / "work", tmp_path / "logs"),
        ca=CaSettings(server=SERVER),
        account=AccountSettings(agree_tos=True, register_without_email=True),
        non_interactive=True,
        store_impl=store,
        ca_impl=ca,
    )
    return ServiceEnv(ca, store, webroot, RecordingHooks(), QuietDisplay(), run)
