"""End to end: `certbot-like renew` against a real Pebble."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from certbot_like.storage.layout import Layout
from tests.harness.lineages import account_id, make_lineages
from tests.harness.servers import Pebble
from tests.integration.checks import assert_lineage
from tests.integration.conftest import Client, unique_name

RENEW = ["--no-random-sleep-on-renew"]


@pytest.fixture(scope="module")
def short_pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """Pebble issuing 8-second certificates: due 4 s after issuance (half the lifetime)."""
    server = Pebble(tmp_path_factory.mktemp("pebble-short"), validity_seconds=8).start()
    yield server
    server.stop()


def renew(client: Client, *args: str) -> tuple[int, dict[str, object], str]:
    result = client.run("renew", *RENEW, "--json", *args, register=False)
    assert result.stdout, result
    return result.returncode, json.loads(result.stdout), result.stderr


def names_in(doc: dict[str, object], key: str) -> set[str]:
    items = doc[key]
    assert isinstance(items, list)
    return {item["name"] for item in items}


def standalone_params(client: Client) -> dict[str, object]:
    return {
        "account": account_id(client.config_dir),
        "server": client.pebble.directory_url,
        "authenticator": "standalone",
        "key_type": "ecdsa",
        "ca_bundle": str(client.pebble.ca_bundle),
        "http01_port": client.pebble.http_port,
        "http01_address": "127.0.0.1",
    }


def test_not_due_lineage_is_left_alone_and_a_second_run_asks_the_ca_nothing(
    client: Client, pebble: Pebble
) -> None:
    name = unique_name("fresh")
    assert client.obtain(name).returncode == 0
    code, doc, _ = renew(client)
    assert code == 0 and names_in(doc, "not_due") == {name}
    before = len(pebble.request_lines())
    result = client.run("renew", *RENEW, register=False)
    assert result.returncode == 0, result
    assert result.stdout == "" and result.stderr == "", "silent when nothing happened"
    assert len(pebble.request_lines()) == before


def test_lineage_becomes_due_at_half_of_a_short_lifetime(
    short_pebble: Pebble, tmp_path: Path
) -> None:
    client = Client(short_pebble, tmp_path)
    name = unique_name("short")
    assert client.obtain(name).returncode == 0
    code, doc, _ = renew(client)
    assert code == 0 and names_in(doc, "not_due") == {name}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        code, doc, stderr = renew(client)
        if names_in(doc, "renewed"):
            break
        time.sleep(0.25)  # waiting for the clock, not for a server
    assert code == 0, stderr
    assert names_in(doc, "renewed") == {name}
    assert_lineage(client.live(name), {name}, short_pebble.root_pem(), version=2)


def test_forced_renewal_runs_hooks_once_with_certbots_environment(
    client: Client, tmp_path: Path
) -> None:
    a, b = unique_name("hook"), unique_name("hook")
    for name in (a, b):
        assert client.obtain(name).returncode == 0
    log = tmp_path / "hooks.log"
    probe = "env | grep -E '^(RENEWED|FAILED)_' | sort | sed 's/^/{}: /' >> " + str(log)
    for sub in ("pre", "deploy", "post"):
        hook_dir = client.config_dir / "renewal-hooks" / sub
        for index in (2, 1):
            script = hook_dir / f"{index}-probe"
            script.write_text(f"#!/bin/sh\necho dir-{sub}-{index} >> {log}\n")
            script.chmod(0o755)
    code, doc, stderr = renew(
        client,
        "--force-renewal",
        "--pre-hook",
        f"echo pre >> {log}",
        "--post-hook",
        probe.format("post"),
        "--deploy-hook",
        probe.format("deploy"),
    )
    assert code == 0, stderr
    assert names_in(doc, "renewed") == {a, b}
    lines = log.read_text().splitlines()
    assert lines.count("pre") == 1
    assert lines.index("dir-pre-1") < lines.index("dir-pre-2") < lines.index("pre")
    assert lines.count("dir-deploy-1") == 2 and lines.count("dir-post-1") == 1
    assert f"deploy: RENEWED_DOMAINS={a}" in lines and f"deploy: RENEWED_DOMAINS={b}" in lines
    assert f"deploy: RENEWED_LINEAGE={client.live(a)}" in lines
    post = [line for line in lines if line.startswith("post: RENEWED_DOMAINS=")]
    assert len(post) == 1 and set(post[0].split("=", 1)[1].split()) == {a, b}
    assert "post: FAILED_DOMAINS=" in lines
    conf = (client.config_dir / "renewal" / f"{a}.conf").read_text()
    assert f"pre_hook = echo pre >> {log}" in conf, "hooks given to renew are stored"
    assert "renew_hook = " in conf


def test_no_hooks_run_when_nothing_is_due(client: Client, tmp_path: Path) -> None:
    name = unique_name("quiet")
    log = tmp_path / "hooks.log"
    assert (
        client.obtain(
            name, extra=["--pre-hook", f"echo pre >> {log}", "--post-hook", f"echo post >> {log}"]
        ).returncode
        == 0
    )
    log.unlink()
    code, _, _ = renew(client)
    assert code == 0
    assert not log.exists()


def test_reuse_key_is_stored_and_new_key_applies_once(client: Client) -> None:
    name = unique_name("reuse")
    assert client.obtain(name, extra=["--reuse-key"]).returncode == 0
    key1 = (client.live(name) / "privkey.pem").read_bytes()
    assert renew(client, "--force-renewal")[0] == 0
    assert (client.live(name) / "privkey.pem").read_bytes() == key1
    assert renew(client, "--force-renewal", "--new-key")[0] == 0
    key3 = (client.live(name) / "privkey.pem").read_bytes()
    assert key3 != key1
    assert renew(client, "--force-renewal")[0] == 0
    assert (client.live(name) / "privkey.pem").read_bytes() == key3
    assert "reuse_key = True" in (client.config_dir / "renewal" / f"{name}.conf").read_text()


def test_key_type_stays_as_stored(client: Client, pebble: Pebble) -> None:
    name = unique_name("rsa")
    assert (
        client.obtain(name, extra=["--key-type", "rsa", "--rsa-key-size", "3072"]).returncode == 0
    )
    assert renew(client, "--force-renewal")[0] == 0
    assert_lineage(
        client.live(name), {name}, pebble.root_pem(), key_type="rsa", key_size=3072, version=2
    )


def test_a_broken_lineage_never_stops_the_others(client: Client) -> None:
    good, bad_conf, no_cert = unique_name("ok"), unique_name("badconf"), unique_name("nocert")
    for name in (good, bad_conf, no_cert):
        assert client.obtain(name).returncode == 0
    (client.config_dir / "renewal" / f"{bad_conf}.conf").write_text("[renewalparams\nx = (")
    (client.live(no_cert) / "cert.pem").unlink()
    code, doc, _ = renew(client, "--force-renewal")
    assert names_in(doc, "renewed") == {good}
    assert names_in(doc, "failed") == {bad_conf, no_cert}
    assert code == 3, "a broken conf is a configuration error"
    failed = {f["name"]: f["reason"] for f in doc["failed"]}  # type: ignore[union-attr]
    assert "not a valid renewal conf" in failed[bad_conf]
    assert "cert.pem" in failed[no_cert]


def test_dry_run_replaces_nothing_and_runs_deploy_hooks_only_when_asked(
    client: Client, tmp_path: Path
) -> None:
    name = unique_name("dry")
    assert client.obtain(name).returncode == 0
    before = os.readlink(client.live(name) / "cert.pem")
    log = tmp_path / "deploy.log"
    code, doc, stderr = renew(client, "--dry-run", "--deploy-hook", f"echo d >> {log}")
    assert code == 0, stderr
    assert names_in(doc, "renewed") == {name} and doc["dry_run"] is True
    assert os.readlink(client.live(name) / "cert.pem") == before
    assert not log.exists()
    assert (
        renew(client, "--dry-run", "--run-deploy-hooks", "--deploy-hook", f"echo d >> {log}")[0]
        == 0
    )
    assert log.read_text() == "d\n"
    assert "renew_hook" not in (client.config_dir / "renewal" / f"{name}.conf").read_text()


def test_fifty_lineages_renew_in_parallel(client: Client, pebble: Pebble) -> None:
    assert client.run("register").returncode == 0
    names = [unique_name("bulk") for _ in range(50)]
    make_lineages(
        Layout(client.config_dir, client.work_dir, client.logs_dir),
        names,
        standalone_params(client),
    )
    started = time.monotonic()
    code, doc, stderr = renew(client, "--force-renewal", "--jobs", "8")
    elapsed = time.monotonic() - started
    assert code == 0, stderr
    assert names_in(doc, "renewed") == set(names)
    for name in names[:3]:
        assert_lineage(client.live(name), {name}, pebble.root_pem(), version=2)
    assert elapsed < 60


def test_two_renew_processes_renew_each_lineage_once(client: Client) -> None:
    assert client.run("register").returncode == 0
    names = [unique_name("race") for _ in range(6)]
    make_lineages(
        Layout(client.config_dir, client.work_dir, client.logs_dir),
        names,
        standalone_params(client),
        age=80,
    )
    procs = [client.start("renew", *RENEW, "--json") for _ in range(2)]
    results = [p.finish() for p in procs]
    codes = sorted(r.returncode for r in results)
    renewed: list[str] = []
    for result in results:
        if result.returncode == 0:
            renewed += [o["name"] for o in json.loads(result.stdout)["renewed"]]
    assert sorted(renewed) == sorted(names), "each lineage renewed exactly once"
    assert codes in ([0, 0], [0, 8]), [str(r) for r in results]
    for name in names:
        versions = sorted(p.name for p in (client.config_dir / "archive" / name).glob("cert*"))
        assert versions == ["cert1.pem", "cert2.pem"]
