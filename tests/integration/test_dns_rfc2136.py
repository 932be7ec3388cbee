"""End to end: dns-rfc2136 against a real BIND9, validated by a Pebble resolving through it."""

from __future__ import annotations

import base64
import os
import signal
import time
from pathlib import Path

from certbot_like.storage.renewal_conf import read_renewal_conf
from tests.harness.bind import Bind
from tests.harness.servers import Pebble, free_tcp_udp_port, wait_until
from tests.integration.checks import assert_lineage
from tests.integration.conftest import Client, assert_no_secrets
from tests.integration.dns_fixtures import bind, error_line, pebble, run  # noqa: F401

PLUGIN_ERROR = 4


def rfc2136_args(client: Client, bind: Bind, ini: Path | None = None) -> list[str]:  # noqa: F811
    ini = ini or bind.credentials(client.root / "rfc2136.ini")
    return ["--dns-rfc2136", "--dns-rfc2136-credentials", str(ini), *bind.lookup_args()]


def test_apex_and_wildcard_in_one_certificate_without_a_fixed_wait(
    client: Client,
    bind: Bind,  # noqa: F811
    pebble: Pebble,  # noqa: F811
) -> None:
    started = time.monotonic()
    result = run(
        client, "obtain", "-d", "example.test", "-d", "*.example.test", *rfc2136_args(client, bind)
    )
    took = time.monotonic() - started
    assert result.returncode == 0, result
    assert took < 15, f"took {took:.1f} s: the propagation check must not wait for nothing"
    assert_lineage(
        client.live("example.test"), {"example.test", "*.example.test"}, pebble.root_pem()
    )
    assert bind.txt("_acme-challenge.example.test") == set()
    conf = read_renewal_conf(client.config_dir / "renewal" / "example.test.conf")
    assert conf.params.get("authenticator") == "dns-rfc2136"
    assert conf.params.get("dns_rfc2136_credentials") == str(client.root / "rfc2136.ini")
    assert conf.params.get("dns_resolver") == bind.address
    assert_no_secrets(client, extra=(bind.secret,))


def test_a_cname_delegated_name_is_written_in_the_target_zone(
    client: Client,
    bind: Bind,  # noqa: F811
    pebble: Pebble,  # noqa: F811
) -> None:
    ini = bind.credentials(client.root / "rfc2136.ini", mode=0o644)
    result = run(
        client,
        "obtain",
        "-d",
        "alias.example.test",
        "-d",
        "*.alias.example.test",
        *rfc2136_args(client, bind, ini),
    )
    assert result.returncode == 0, result
    assert_lineage(
        client.live("alias.example.test"),
        {"alias.example.test", "*.alias.example.test"},
        pebble.root_pem(),
    )
    assert "Unsafe permissions on credentials file" in result.stderr
    assert "chmod 600" in result.stderr
    assert bind.txt("_acme-challenge.alias.delegated.test") == set()
    log = (client.logs_dir / "letsencrypt.log").read_text()
    assert "_acme-challenge.alias.example.test -> _acme-challenge.alias.delegated.test" in log


def test_a_wrong_tsig_secret_is_one_clear_line_and_nothing_is_stored(
    client: Client,
    bind: Bind,  # noqa: F811
) -> None:
    wrong = base64.b64encode(os.urandom(32)).decode()
    ini = bind.credentials(client.root / "rfc2136.ini", secret=wrong)
    result = run(client, "obtain", "-d", "badkey.example.test", *rfc2136_args(client, bind, ini))
    assert result.returncode == PLUGIN_ERROR, result
    line = error_line(result)
    assert f"The DNS server 127.0.0.1:{bind.port} rejected the signature" in line
    assert "BADSIG" in line and "zone example.test" in line
    assert f"Check dns_rfc2136_secret in {ini}" in line
    assert "Traceback" not in result.stderr
    assert "Could not remove" not in result.stderr  # the delete is refused too, quietly
    assert not client.live("badkey.example.test").exists()
    assert not (client.config_dir / "renewal" / "badkey.example.test.conf").exists()
    assert_no_secrets(client, extra=(wrong, bind.secret))


def test_records_are_removed_when_the_records_never_propagate(
    client: Client,
    bind: Bind,  # noqa: F811
) -> None:
    dead_port = free_tcp_udp_port()
    args = rfc2136_args(client, bind)
    args[args.index("--dns-nameserver-port") + 1] = str(dead_port)
    result = run(
        client,
        "obtain",
        "-d",
        "stuck.example.test",
        "-d",
        "*.stuck.example.test",
        *args,
        "--dns-propagation-timeout",
        "1.5",
    )
    assert result.returncode == PLUGIN_ERROR, result
    line = error_line(result)
    assert "were not served by every authoritative nameserver within 1.5 s" in line
    assert "ns1.example.test (127.0.0.1) for _acme-challenge.stuck.example.test" in line
    assert "--dns-rfc2136-propagation-seconds" in line
    assert bind.txt("_acme-challenge.stuck.example.test") == set()
    assert not client.live("stuck.example.test").exists()


def test_ctrl_c_while_waiting_removes_the_records(
    client: Client,
    bind: Bind,  # noqa: F811
) -> None:
    args = rfc2136_args(client, bind)
    args[args.index("--dns-nameserver-port") + 1] = str(free_tcp_udp_port())
    log = client.root / "interrupted.log"
    run = client.start("obtain", "-d", "interrupted.example.test", *args, register=True, output=log)
    proc = run.proc
    try:
        # fails at once, with the output, if the run ends before its record is published
        wait_until(
            lambda: bind.txt("_acme-challenge.interrupted.example.test"), 60, "record", proc, log
        )
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert run.finish().returncode == 130, log.read_text()
    assert bind.txt("_acme-challenge.interrupted.example.test") == set()
    assert not client.live("interrupted.example.test").exists()


def test_renewal_works_unattended_from_the_stored_conf(
    client: Client,
    bind: Bind,  # noqa: F811
    pebble: Pebble,  # noqa: F811
    tmp_path: Path,
) -> None:
    ini = bind.credentials(tmp_path / "rfc2136.ini")
    obtained = run(
        client,
        "obtain",
        "-d",
        "renew.example.test",
        "-d",
        "*.renew.example.test",
        "--dns-rfc2136",
        "--dns-rfc2136-credentials",
        os.path.relpath(ini),  # stored absolute, so renewals work from any directory
        *bind.lookup_args(),
    )
    assert obtained.returncode == 0, obtained
    conf = read_renewal_conf(client.config_dir / "renewal" / "renew.example.test.conf")
    assert conf.params.get("dns_rfc2136_credentials") == str(ini)
    renewed = run(client, "renew", "--force-renewal", "--no-random-sleep-on-renew", register=False)
    assert renewed.returncode == 0, renewed
    assert_lineage(
        client.live("renew.example.test"),
        {"renew.example.test", "*.renew.example.test"},
        pebble.root_pem(),
        version=2,
    )
    assert bind.txt("_acme-challenge.renew.example.test") == set()


def test_a_cname_loop_is_named(client: Client, bind: Bind) -> None:  # noqa: F811
    result = run(client, "obtain", "-d", "loop1.example.test", *rfc2136_args(client, bind))
    assert result.returncode == PLUGIN_ERROR, result
    assert "CNAME loop at _acme-challenge.loop1.example.test" in error_line(result)
