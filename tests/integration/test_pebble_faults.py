"""Pebble rejecting nonces (``PEBBLE_WFE_NONCEREJECT``): retried, but within bounds.

Half of the nonces rejected: ``obtain`` and ``renew --force-renewal`` succeed for several
names. Every nonce rejected: ``obtain`` gives up after 16 attempts with exit 75 (retry later)
and one line about nonces, quickly, and stores nothing (docs/security.md, invariant 2).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.servers import Pebble
from tests.integration.checks import assert_lineage
from tests.integration.conftest import Client, assert_no_secrets, unique_name


def nonce_pebble(factory: pytest.TempPathFactory, percent: int) -> Iterator[Pebble]:
    server = Pebble(
        factory.mktemp(f"pebble-nonce{percent}"), env={"PEBBLE_WFE_NONCEREJECT": str(percent)}
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def half_nonces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    yield from nonce_pebble(tmp_path_factory, 50)


@pytest.fixture(scope="module")
def no_nonces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    yield from nonce_pebble(tmp_path_factory, 100)


def rejected(client: Client) -> int:
    """How many badNonce answers the client logged (Pebble does not log its rejections)."""
    return sum(
        path.read_text(errors="replace").count("badNonce on attempt")
        for path in client.logs_dir.rglob("*.log*")
    )


def test_half_of_the_nonces_rejected_obtain_and_renew_succeed(
    half_nonces: Pebble, tmp_path: Path
) -> None:
    client = Client(half_nonces, tmp_path)
    names = [unique_name("nonce") for _ in range(3)]
    result = client.obtain(*names)
    assert result.returncode == 0, result
    assert_lineage(client.live(names[0]), set(names), half_nonces.root_pem())
    result = client.run(
        "renew", "--force-renewal", "--no-random-sleep-on-renew", "--json", register=False
    )
    assert result.returncode == 0, result
    assert [o["name"] for o in json.loads(result.stdout)["renewed"]] == [names[0]]
    assert_lineage(client.live(names[0]), set(names), half_nonces.root_pem(), version=2)
    assert rejected(client) > 0, "Pebble rejected no nonce: the fault was not active"
    assert_no_secrets(client)


def test_every_nonce_rejected_is_a_quick_temporary_failure_that_stores_nothing(
    no_nonces: Pebble, tmp_path: Path
) -> None:
    client = Client(no_nonces, tmp_path)
    started = time.monotonic()
    result = client.obtain(unique_name("nonce"), unique_name("nonce"), unique_name("nonce"))
    elapsed = time.monotonic() - started
    assert result.returncode == 75, result
    assert elapsed < 30, f"giving up took {elapsed:.1f} s"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result
    assert "nonce" in lines[0].lower() and "Traceback" not in result.stderr
    assert rejected(client) == 16, "at most 16 attempts"
    config = client.config_dir
    stored = [
        str(p.relative_to(config))
        for p in config.rglob("*")
        if p.is_file() and p.name not in ("README", ".certbot.lock")
    ]
    assert stored == [], "nothing may be stored when the CA never accepted a request"
    assert not list((config / "live").glob("*/")), "no lineage directory"
    assert_no_secrets(client)
