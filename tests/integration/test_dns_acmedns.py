"""End to end: dns-acmedns with a stand-in acme-dns API that writes into a real BIND9.

``_acme-challenge.<name>`` is a CNAME to the acme-dns ``fulldomain`` in ``delegated.test``;
Pebble resolves through BIND and follows it, exactly as a CA follows it to a real acme-dns.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator

import pytest

from tests.harness.acmedns import FakeAcmeDns
from tests.harness.bind import Bind
from tests.harness.servers import Pebble
from tests.integration.checks import assert_lineage
from tests.integration.conftest import Client, assert_no_secrets
from tests.integration.dns_fixtures import bind, error_line, pebble, run  # noqa: F401


@pytest.fixture(scope="module")
def acmedns(bind: Bind) -> Iterator[FakeAcmeDns]:  # noqa: F811
    server = FakeAcmeDns(bind, "delegated.test").start()
    yield server
    server.stop()


def test_register_once_create_the_cname_then_certificates_renew_unattended(
    client: Client,
    bind: Bind,  # noqa: F811
    pebble: Pebble,  # noqa: F811
    acmedns: FakeAcmeDns,
) -> None:
    name = "acme.example.test"
    args = ["-d", name, "-d", f"*.{name}", "--dns-acmedns", "--dns-acmedns-api-url", acmedns.url]
    args += bind.lookup_args()

    first = run(client, "obtain", *args)
    assert first.returncode == 4, first
    port = acmedns.server.server_address[1]
    stored = client.config_dir / "acme-dns" / f"127.0.0.1_{port}" / f"{name}.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    account = json.loads(stored.read_text())[name]
    line = error_line(first)
    assert f"Create the DNS record `_acme-challenge.{name}. CNAME {account['fulldomain']}.`" in line
    assert f"Registered {name} with the acme-dns server" in first.stderr
    assert not client.live(name).exists()

    bind.update(
        "example.test", add=[(f"_acme-challenge.{name}", "CNAME", account["fulldomain"] + ".")]
    )
    registrations = len(acmedns.registrations)
    second = run(client, "obtain", *args)
    assert second.returncode == 0, second
    assert_lineage(client.live(name), {name, f"*.{name}"}, pebble.root_pem())
    assert len(acmedns.registrations) == registrations, "registered again"

    renewed = run(client, "renew", "--force-renewal", "--no-random-sleep-on-renew", register=False)
    assert renewed.returncode == 0, renewed
    assert_lineage(client.live(name), {name, f"*.{name}"}, pebble.root_pem(), version=2)
    assert len(acmedns.registrations) == registrations
    assert_no_secrets(client, extra=(account["password"],))
