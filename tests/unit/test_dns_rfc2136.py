"""The RFC 2136 client against a real BIND9: zones, updates and every refusal, one line each."""

from __future__ import annotations

import base64
import os
import socket
from pathlib import Path

import pytest
from certbot_like_dns_rfc2136 import Rfc2136Options
from certbot_like_dns_rfc2136.authenticator import (
    Rfc2136Authenticator,
    Rfc2136Client,
    Rfc2136Config,
)

from certbot_like.errors import PluginError
from tests.harness.bind import ALGORITHM, Bind
from tests.unit.dns_support import bind, dns_task, make_context  # noqa: F401

VALUE = "v" * 43


def client_for(
    bind: Bind,  # noqa: F811
    *,
    secret: str | None = None,
    key_name: str | None = None,
    algorithm: str = ALGORITHM.upper(),
    port: int | None = None,
    sign_query: bool = False,
    timeout: float = 5,
) -> Rfc2136Client:
    config = Rfc2136Config(
        path=Path("/etc/letsencrypt/rfc2136.ini"),
        server="127.0.0.1",
        port=port or bind.port,
        key_name=key_name or bind.key_name,
        algorithm=algorithm,
        sign_query=sign_query,
        secret=secret or bind.secret,
    )
    return Rfc2136Client(config, timeout=timeout)


def failure(client: Rfc2136Client, zone: str = "example.test") -> str:
    with pytest.raises(PluginError) as err:
        client.add(zone, f"_acme-challenge.fail.{zone}", VALUE)
    line = err.value.one_line()
    assert "\n" not in line
    assert client.config.secret not in line
    assert err.value.exit_code == 4
    return line


@pytest.mark.parametrize("sign_query", [False, True])
def test_zones_are_found_by_walking_soa_records(
    bind: Bind,  # noqa: F811
    sign_query: bool,
) -> None:
    client = client_for(bind, sign_query=sign_query)
    assert client.find_zone("_acme-challenge.a.b.example.test") == "example.test"
    assert client.find_zone("_acme-challenge.delegated.test") == "delegated.test"
    assert client.find_zone("example.test") == "example.test"
    with pytest.raises(PluginError, match=r"authoritative for no zone containing x\.other\.test"):
        client.find_zone("x.other.test")


def test_a_signed_soa_lookup_with_a_wrong_secret_fails_clearly(bind: Bind) -> None:  # noqa: F811
    wrong = base64.b64encode(os.urandom(32)).decode()
    client = client_for(bind, secret=wrong, sign_query=True)
    with pytest.raises(PluginError) as err:
        client.find_zone("_acme-challenge.example.test")
    line = err.value.one_line()
    assert "BADSIG" in line and "while looking up the zone of _acme-challenge.example.test" in line
    assert wrong not in line


def test_add_keeps_other_values_and_delete_removes_only_its_own(bind: Bind) -> None:  # noqa: F811
    client = client_for(bind)
    name = "_acme-challenge.twovalues.example.test"
    other = "o" * 43
    client.add("example.test", name, VALUE)
    client.add("example.test", name, other)
    assert bind.txt(name) == {VALUE, other}
    client.delete("example.test", name, VALUE)
    assert bind.txt(name) == {other}
    client.delete("example.test", name, other)
    client.delete("example.test", name, other)  # deleting what is gone is fine
    assert bind.txt(name) == set()


def test_wrong_secret_is_badsig_naming_server_zone_and_the_key_to_check(
    bind: Bind,  # noqa: F811
) -> None:
    line = failure(client_for(bind, secret=base64.b64encode(os.urandom(32)).decode()))
    assert f"The DNS server 127.0.0.1:{bind.port} rejected the signature of TSIG key" in line
    assert "(BADSIG: wrong secret)" in line and "in zone example.test" in line
    assert "Check dns_rfc2136_secret in /etc/letsencrypt/rfc2136.ini" in line


def test_unknown_key_name_or_algorithm_is_badkey(bind: Bind) -> None:  # noqa: F811
    line = failure(client_for(bind, key_name="nobody."))
    assert "does not know the TSIG key nobody. (HMAC-SHA256) (BADKEY)" in line
    assert "Check dns_rfc2136_name and dns_rfc2136_algorithm" in line
    line = failure(client_for(bind, algorithm="HMAC-SHA512"))
    assert "(HMAC-SHA512) (BADKEY)" in line


def test_a_key_not_allowed_to_update_is_refused(bind: Bind) -> None:  # noqa: F811
    client = client_for(bind, key_name=bind.limited_key_name, secret=bind.limited_secret)
    line = failure(client)
    assert "refused the update of zone example.test with TSIG key certbot-like-limited." in line
    assert "(REFUSED)" in line and "allow-update" in line


def test_a_zone_the_server_does_not_serve_is_notauth(bind: Bind) -> None:  # noqa: F811
    line = failure(client_for(bind), zone="elsewhere.test")
    assert f"127.0.0.1:{bind.port} is not authoritative for zone elsewhere.test (NOTAUTH)" in line


def test_a_silent_server_times_out_and_a_closed_port_is_unreachable(
    bind: Bind,  # noqa: F811
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections, never answers
        port = silent.getsockname()[1]
        line = failure(client_for(bind, port=port, timeout=0.5))
    assert f"No answer from the DNS server 127.0.0.1:{port} within 0.5 s" in line
    assert "dns_rfc2136_port" in line
    line = failure(client_for(bind, port=port))  # now closed
    assert f"Cannot reach the DNS server 127.0.0.1:{port}" in line


def test_the_authenticator_cleans_up_apex_wildcard_and_delegated_records(
    bind: Bind,  # noqa: F811
    tmp_path: Path,
) -> None:
    ini = bind.credentials(tmp_path / "rfc2136.ini")
    context, registered, _ = make_context(tmp_path)
    options = Rfc2136Options(
        dns_rfc2136_credentials=str(ini), dns_resolver=bind.address, dns_nameserver_port=bind.port
    )
    plugin = Rfc2136Authenticator(options, context)
    plugin.prepare(["dns-01"])
    assert registered == [bind.secret]
    tasks = [dns_task("unit.example.test", "a"), dns_task("*.unit.example.test", "b")]
    tasks.append(dns_task("alias.example.test", "c"))
    plugin.perform(tasks)
    assert bind.txt("_acme-challenge.unit.example.test") == {tasks[0].dns_value, tasks[1].dns_value}
    assert bind.txt("_acme-challenge.alias.delegated.test") == {tasks[2].dns_value}
    plugin.cleanup(tasks)
    assert bind.txt("_acme-challenge.unit.example.test") == set()
    assert bind.txt("_acme-challenge.alias.delegated.test") == set()
