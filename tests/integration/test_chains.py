"""Alternate chains (RFC 8555 section 7.4.2) and --preferred-chain, against a Pebble that
offers one alternate root (PEBBLE_ALTERNATE_ROOTS=1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from tests.harness.servers import Pebble
from tests.integration.checks import assert_chain_verifies, assert_lineage
from tests.integration.conftest import Client, unique_name


@pytest.fixture(scope="module")
def alt_pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    server = Pebble(
        tmp_path_factory.mktemp("pebble-alt"),
        env={"PEBBLE_ALTERNATE_ROOTS": "1", "PEBBLE_CHAIN_LENGTH": "3"},
    ).start()
    yield server
    server.stop()


def _root_cn(pebble: Pebble, index: int) -> str:
    root = x509.load_pem_x509_certificate(pebble.root_pem(index))
    return str(root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_default_chain_is_used_without_preference(alt_pebble: Pebble, tmp_path: Path) -> None:
    client = Client(alt_pebble, tmp_path)
    name = unique_name("chain")
    result = client.obtain(name)
    assert result.returncode == 0, result
    assert_lineage(client.live(name), {name}, alt_pebble.root_pem(0))


def test_preferred_chain_selects_the_alternate_root(alt_pebble: Pebble, tmp_path: Path) -> None:
    client = Client(alt_pebble, tmp_path)
    name = unique_name("chain")
    result = client.obtain(name, extra=["--preferred-chain", _root_cn(alt_pebble, 1)])
    assert result.returncode == 0, result
    assert_chain_verifies(client.live(name) / "fullchain.pem", alt_pebble.root_pem(1))
    with pytest.raises((ValueError, InvalidSignature)):
        assert_chain_verifies(client.live(name) / "fullchain.pem", alt_pebble.root_pem(0))
    conf = (client.config_dir / "renewal" / f"{name}.conf").read_text()
    assert f"preferred_chain = {_root_cn(alt_pebble, 1)}" in conf


def test_unknown_preferred_chain_falls_back_to_the_default(
    alt_pebble: Pebble, tmp_path: Path
) -> None:
    client = Client(alt_pebble, tmp_path)
    name = unique_name("chain")
    result = client.obtain(name, extra=["--preferred-chain", "No Such Root CN"])
    assert result.returncode == 0, result
    assert_chain_verifies(client.live(name) / "fullchain.pem", alt_pebble.root_pem(0))
