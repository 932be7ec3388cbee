"""Fixtures of the DNS end-to-end tests: a real BIND9 and a Pebble that resolves through it.

Import ``bind`` and ``pebble`` into a test module: the module then gets its own BIND (zones
``example.test`` and ``delegated.test``, a TSIG key) and its own Pebble whose ``-dnsserver``
is that BIND, so the CA validates dns-01 against exactly what the client wrote. The
conftest's ``client`` fixture picks this ``pebble`` up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.bind import Bind
from tests.harness.servers import Pebble
from tests.integration.conftest import Client, Result

ZONE_RECORDS = {
    "example.test": [
        "_acme-challenge.alias CNAME _acme-challenge.alias.delegated.test.",
        "_acme-challenge.loop1 CNAME _acme-challenge.loop2.example.test.",
        "_acme-challenge.loop2 CNAME _acme-challenge.loop1.example.test.",
    ]
}


@pytest.fixture(scope="module")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind]:
    """BIND9 on a free loopback port (a missing ``named`` fails the tests, never skips)."""
    server = Bind(tmp_path_factory.mktemp("bind"), records=ZONE_RECORDS).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory, bind: Bind) -> Iterator[Pebble]:
    """A Pebble of this module whose DNS resolver is :func:`bind`."""
    server = Pebble(tmp_path_factory.mktemp("pebble-dns"), dns_server=bind.address).start()
    yield server
    server.stop()


def steady_pebble() -> Any:
    """A module's ``pebble`` fixture like :func:`pebble`, but without Pebble's random nonce
    rejections (5 %) and reuse of valid authorizations (50 %): for modules that also run
    certbot 5.8, which retries a rejected nonce only once (certbot-like's own retries are
    tested against the default Pebble), and whose renewals must really be validated through
    the plugin under test, not by an authorization left from the lineage's first issuance."""

    @pytest.fixture(scope="module", name="pebble")
    def fixture(tmp_path_factory: pytest.TempPathFactory, bind: Bind) -> Iterator[Pebble]:
        workdir = tmp_path_factory.mktemp("pebble-dns")
        env = {"PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"}
        server = Pebble(workdir, dns_server=bind.address, env=env).start()
        yield server
        server.stop()

    return fixture


def run(client: Client, command: str, *args: str, register: bool = True) -> Result:
    """Run certbot-like (``Client.run`` scans it for secrets, and keeps it for the fixture)."""
    return client.run(command, *args, register=register)


def error_line(result: Result) -> str:
    """The ``Error: ...`` line the CLI printed (exactly one is expected)."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result
    return lines[0]
