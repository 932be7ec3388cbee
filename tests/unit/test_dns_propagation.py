"""Lookups, CNAME delegation and propagation checks against a real BIND9."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from certbot_like_dns.delegation import follow_cnames
from certbot_like_dns.lookup import Lookup
from certbot_like_dns.propagation import txt_values, wait_for_txt

from certbot_like.errors import PluginError
from tests.harness.bind import Bind
from tests.unit.dns_support import bind  # noqa: F401  (module fixture)

VALUE_A = "a" * 43
VALUE_B = "b" * 43


@pytest.fixture
def lookup(bind: Bind) -> Lookup:  # noqa: F811
    return Lookup(bind.address)


@pytest.fixture
def record(bind: Bind, request: pytest.FixtureRequest) -> Iterator[str]:  # noqa: F811
    """A fresh _acme-challenge name in example.test, emptied afterwards."""
    name = f"_acme-challenge.{request.node.name.replace('_', '-')[:40]}.example.test"
    yield name
    bind.update("example.test", delete=[(name, "TXT")])


def test_zone_nameservers_and_cnames_are_found(lookup: Lookup) -> None:
    assert lookup.zone_for("_acme-challenge.deep.www.example.test") == "example.test"
    assert lookup.zone_for("delegated.test") == "delegated.test"
    [server] = lookup.nameservers("example.test")
    assert (server.name, server.addresses) == ("ns1.example.test", ("127.0.0.1",))
    assert lookup.cname("_acme-challenge.alias.example.test") == (
        "_acme-challenge.alias.delegated.test"
    )
    assert lookup.cname("_acme-challenge.plain.example.test") is None
    assert lookup.cname("_acme-challenge.nxdomain.delegated.test") is None


def test_cname_chains_and_loops_in_real_dns(lookup: Lookup) -> None:
    assert follow_cnames("_acme-challenge.chain.example.test", lookup) == [
        "_acme-challenge.chain.example.test",
        "_acme-challenge.alias.example.test",
        "_acme-challenge.alias.delegated.test",
    ]
    with pytest.raises(PluginError, match=r"CNAME loop at _acme-challenge\.loop1\.example\.test"):
        follow_cnames("_acme-challenge.loop1.example.test", lookup)


def test_records_already_served_end_the_wait_at_once(
    bind: Bind,  # noqa: F811
    lookup: Lookup,
    record: str,
) -> None:
    bind.update("example.test", add=[(record, "TXT", VALUE_A), (record, "TXT", VALUE_B)])
    assert txt_values(record, "127.0.0.1", bind.port) == {VALUE_A, VALUE_B}
    started = time.monotonic()
    wait_for_txt({record: {VALUE_A, VALUE_B}}, lookup, port=bind.port, timeout=10)
    assert time.monotonic() - started < 2  # one round, no polling interval


def test_polling_sees_a_record_that_arrives_late(
    bind: Bind,  # noqa: F811
    lookup: Lookup,
    record: str,
) -> None:
    bind.update("example.test", add=[(record, "TXT", VALUE_A)])
    late = threading.Timer(0.8, bind.update, ("example.test",), {"add": [(record, "TXT", VALUE_B)]})
    told: list[str] = []
    started = time.monotonic()
    late.start()
    try:
        wait_for_txt(
            {record: {VALUE_A, VALUE_B}}, lookup, port=bind.port, timeout=10, notify=told.append
        )
    finally:
        late.join()
    took = time.monotonic() - started
    assert 0.8 <= took < 5, took
    assert told == [
        "Waiting up to 10 s for the TXT records to reach the nameservers of example.test..."
    ]


def test_a_missing_value_times_out_naming_server_and_record(
    bind: Bind,  # noqa: F811
    lookup: Lookup,
    record: str,
) -> None:
    bind.update("example.test", add=[(record, "TXT", VALUE_A)])
    with pytest.raises(PluginError) as err:
        wait_for_txt({record: {VALUE_A, VALUE_B}}, lookup, port=bind.port, timeout=1)
    line = err.value.one_line()
    assert "within 1 s" in line
    assert f"ns1.example.test (127.0.0.1) for {record}: 1 of 2 TXT values not served yet" in line
    assert "--dns-propagation-timeout" in line


def test_an_unreachable_nameserver_fails_the_wait(lookup: Lookup, record: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # receives queries, never answers
        port = silent.getsockname()[1]
        with pytest.raises(PluginError, match="no usable answer") as err:
            wait_for_txt({record: {VALUE_A}}, lookup, port=port, timeout=1, query_timeout=0.3)
    assert "\n" not in err.value.one_line()


def test_a_resolver_that_does_not_answer_is_named(record: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        dead = Lookup(f"127.0.0.1:{silent.getsockname()[1]}", timeout=0.2)
        dead.resolver.lifetime = 0.5
        with pytest.raises(PluginError) as err:
            dead.cname(record)
    assert "through the DNS resolver 127.0.0.1:" in err.value.one_line()
    assert "no answer in time" in err.value.one_line()
