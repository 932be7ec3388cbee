"""dns-acmedns against a stand-in acme-dns API writing into a real BIND9."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from certbot_like_dns.base import TxtRecord
from certbot_like_dns_acmedns import AcmeDnsOptions
from certbot_like_dns_acmedns.authenticator import AcmeDnsAuthenticator, check_capacity

from certbot_like.errors import PluginError
from tests.harness.acmedns import FakeAcmeDns
from tests.harness.bind import Bind
from tests.unit.dns_support import RecordingDisplay, bind, dns_task, make_context  # noqa: F401


@pytest.fixture(scope="module")
def acmedns(bind: Bind) -> Iterator[FakeAcmeDns]:  # noqa: F811
    server = FakeAcmeDns(bind, "delegated.test").start()
    yield server
    server.stop()


def plugin_for(
    tmp_path: Path,
    bind: Bind,  # noqa: F811
    display: RecordingDisplay | None = None,
    **options: object,
) -> tuple[AcmeDnsAuthenticator, list[str], RecordingDisplay]:
    context, registered, shown = make_context(tmp_path, display)
    opts = AcmeDnsOptions(dns_resolver=bind.address, dns_nameserver_port=bind.port, **options)  # type: ignore[arg-type]
    plugin = AcmeDnsAuthenticator(opts, context)
    plugin.prepare(["dns-01"])
    return plugin, registered, shown


def stored(tmp_path: Path, acmedns: FakeAcmeDns, name: str) -> Path:
    port = acmedns.server.server_address[1]
    return tmp_path / "config" / "acme-dns" / f"127.0.0.1_{port}" / f"{name}.json"


def test_first_run_registers_saves_0600_and_asks_for_the_cname(
    tmp_path: Path,
    bind: Bind,  # noqa: F811
    acmedns: FakeAcmeDns,
) -> None:
    plugin, registered, display = plugin_for(tmp_path, bind, dns_acmedns_api_url=acmedns.url)
    tasks = [dns_task("first.example.test", "a"), dns_task("*.first.example.test", "b")]
    with pytest.raises(PluginError) as err:
        plugin.perform(tasks)
    plugin.cleanup(tasks)
    path = stored(tmp_path, acmedns, "first.example.test")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    data = json.loads(path.read_text())
    account = data["first.example.test"]
    assert set(account) == {"username", "password", "fulldomain", "subdomain", "allowfrom"}
    line = err.value.one_line()
    assert (
        f"Create the DNS record `_acme-challenge.first.example.test. CNAME "
        f"{account['fulldomain']}.` and run again" in line
    )
    assert str(path) in line and account["password"] not in line
    assert account["password"] in registered
    assert any(
        "Registered first.example.test with the acme-dns server" in m for m in display.messages
    )
    assert len(acmedns.registrations) >= 1 and acmedns.updates == []

    # the operator creates the CNAME; the next run uses the stored registration
    bind.update(
        "example.test",
        add=[("_acme-challenge.first.example.test", "CNAME", account["fulldomain"] + ".")],
    )
    count = len(acmedns.registrations)
    plugin, _, _ = plugin_for(tmp_path, bind, dns_acmedns_api_url=acmedns.url)
    plugin.perform(tasks)
    assert bind.txt(account["fulldomain"]) == {tasks[0].dns_value, tasks[1].dns_value}
    plugin.cleanup(tasks)  # acme-dns cannot delete: the values stay until rotated out
    assert len(acmedns.registrations) == count


def test_on_a_terminal_the_cname_is_asked_for_and_the_run_goes_on(
    tmp_path: Path,
    bind: Bind,  # noqa: F811
    acmedns: FakeAcmeDns,
) -> None:
    path = stored(tmp_path, acmedns, "asked.example.test")

    def operator_creates_cname() -> None:
        fulldomain = json.loads(path.read_text())["asked.example.test"]["fulldomain"]
        bind.update(
            "example.test", add=[("_acme-challenge.asked.example.test", "CNAME", fulldomain + ".")]
        )

    display = RecordingDisplay(interactive=True, on_pause=operator_creates_cname)
    plugin, _, _ = plugin_for(tmp_path, bind, display, dns_acmedns_api_url=acmedns.url)
    task = dns_task("asked.example.test")
    plugin.perform([task])
    assert any("Create this DNS record" in m and "CNAME" in m for m in display.messages)
    fulldomain = json.loads(path.read_text())["asked.example.test"]["fulldomain"]
    assert task.dns_value in bind.txt(fulldomain)


def test_a_certbot_dns_acmedns_registration_file_is_used_as_is(
    tmp_path: Path,
    bind: Bind,  # noqa: F811
    acmedns: FakeAcmeDns,
) -> None:
    account = acmedns._register()
    bind.update(
        "example.test",
        add=[("_acme-challenge.compat.example.test", "CNAME", account["fulldomain"] + ".")],
    )
    registrations = tmp_path / "acmedns.json"
    registrations.write_text(json.dumps({"compat.example.test": account}))
    os.chmod(registrations, 0o600)
    ini = tmp_path / "acmedns.ini"
    ini.write_text(
        f"dns_acmedns_api_url = {acmedns.url}\ndns_acmedns_registration_file = {registrations}\n"
    )
    os.chmod(ini, 0o600)
    count = len(acmedns.registrations)
    plugin, registered, _ = plugin_for(tmp_path, bind, dns_acmedns_credentials=str(ini))
    task = dns_task("compat.example.test")
    plugin.perform([task])
    assert task.dns_value in bind.txt(account["fulldomain"])
    assert len(acmedns.registrations) == count
    assert account["password"] in registered


def test_a_rejected_registration_says_how_to_start_over(
    tmp_path: Path,
    bind: Bind,  # noqa: F811
    acmedns: FakeAcmeDns,
) -> None:
    account = acmedns._register()
    account["password"] = "not-the-password-at-all"
    path = stored(tmp_path, acmedns, "stale.example.test")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"stale.example.test": account}))
    bind.update(
        "example.test",
        add=[("_acme-challenge.stale.example.test", "CNAME", account["fulldomain"] + ".")],
    )
    plugin, _, _ = plugin_for(tmp_path, bind, dns_acmedns_api_url=acmedns.url)
    with pytest.raises(PluginError) as err:
        plugin.perform([dns_task("stale.example.test")])
    line = err.value.one_line()
    assert "answered HTTP 401 while updating the TXT record of stale.example.test" in line
    assert "delete it to register the name again" in line
    assert "not-the-password-at-all" not in line


def test_no_api_url_and_too_many_values(tmp_path: Path) -> None:
    context, _, _ = make_context(tmp_path)
    with pytest.raises(PluginError, match="needs the URL of an acme-dns server"):
        AcmeDnsAuthenticator(AcmeDnsOptions(), context).prepare(["dns-01"])
    with pytest.raises(PluginError, match="is not an http"):
        AcmeDnsAuthenticator(AcmeDnsOptions(dns_acmedns_api_url="ftp://x"), context).prepare([])
    two = [TxtRecord(d, "full.x.test", v * 43) for d, v in (("x.test", "a"), ("x.test", "b"))]
    check_capacity([*two, two[0]])  # a value twice is one value
    with pytest.raises(PluginError, match=r"keeps only 2 TXT values .* full\.x\.test would need 3"):
        check_capacity([*two, TxtRecord("y.test", "FULL.x.test", "c" * 43)])
