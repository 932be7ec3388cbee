"""Helpers shared by the fake-CA test modules (test_fakeca*.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from tests.harness.fakeca import FakeCA
from tests.integration.conftest import Client, Result

MakeCA = Callable[..., FakeCA]


@contextlib.contextmanager
def fake_cas(tmp_path: Path) -> Iterator[MakeCA]:
    """Start fake CAs with the given configuration; stop them (and check for server bugs)."""
    started: list[FakeCA] = []

    def make(**config: Any) -> FakeCA:
        ca = FakeCA(tmp_path / f"ca{len(started)}", **config).start()
        started.append(ca)
        return ca

    yield make
    for ca in started:
        ca.stop()
    for ca in started:
        assert ca.errors == [], "\n".join(ca.errors)


def client_for(ca: FakeCA, root: Path) -> Client:
    """``Client`` is typed for Pebble but only uses the surface FakeCA shares with it."""
    return Client(cast(Any, ca), root)


def obtain_manual(client: Client, *names: str, extra: Sequence[str] = ()) -> Result:
    """`obtain` answering every challenge with a no-op hook (for ``auto_valid`` CAs)."""
    args = ["--manual", "--manual-auth-hook", "true", *extra]
    return client.obtain(*names, extra=args, standalone=False)
