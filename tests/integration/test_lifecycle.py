"""End to end against a real Pebble: revoke, delete, reconfigure, account rollover."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from certbot_like.errors import AcmeError
from certbot_like.protocol.account_keys import key_id
from certbot_like.protocol.client import AcmeClient
from certbot_like.protocol.http import Transport
from certbot_like.storage.file_store import PENDING_KEY_NAME
from certbot_like.storage.renewal_conf import read_renewal_conf
from tests.harness.authz import deactivate_valid_authorizations
from tests.harness.servers import Pebble
from tests.integration.conftest import Client, unique_name


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def web_server(pebble: Pebble, root: Path) -> Iterator[Path]:
    """A real HTTP server serving *root* on the port Pebble validates HTTP-01 on."""
    root.mkdir(exist_ok=True)
    handler = partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", pebble.http_port), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield root
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def strict_pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """A Pebble that never reuses valid authorizations, so every dry run really validates.

    (The session Pebble reuses half of them, which would let a reconfigure dry run pass
    without touching the new authenticator.)
    """
    server = Pebble(
        tmp_path_factory.mktemp("pebble-strict"), env={"PEBBLE_AUTHZREUSE": "0"}
    ).start()
    yield server
    server.stop()


@pytest.fixture
def strict_client(strict_pebble: Pebble, tmp_path: Path) -> Client:
    return Client(strict_pebble, tmp_path)


def cert_status(pebble: Pebble, live: Path) -> dict[str, Any]:
    cert = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
    status: dict[str, Any] = json.loads(
        pebble.management_get(f"/cert-status-by-serial/{cert.serial_number:x}")
    )
    return status


def lineage_files(client: Client, name: str) -> list[Path]:
    return [
        client.config_dir / "renewal" / f"{name}.conf",
        client.live(name),
        client.config_dir / "archive" / name,
    ]


def tree(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): (os.readlink(p).encode() if p.is_symlink() else p.read_bytes())
        for p in sorted(path.rglob("*"))
        if p.is_file() or p.is_symlink()
    }


def account_dirs(client: Client) -> list[Path]:
    return sorted(p.parent for p in (client.config_dir / "accounts").rglob("private_key.json"))


# -- revoke ----------------------------------------------------------------------------------


def test_revoke_with_the_account_key_the_ca_reports_it_revoked(
    client: Client, pebble: Pebble
) -> None:
    name = unique_name("revoke")
    assert client.obtain(name).returncode == 0
    assert cert_status(pebble, client.live(name))["Status"] == "Valid"
    result = client.run("revoke", "--cert-name", name)
    assert result.returncode == 0, result
    assert "Revoked certificate" in result.stdout and "unspecified" in result.stdout
    status = cert_status(pebble, client.live(name))
    assert status["Status"] == "Revoked" and status.get("Reason", 0) == 0
    # -n without --delete-after-revoke keeps the lineage, as certbot does
    assert all(p.exists() for p in lineage_files(client, name))
    again = client.run("revoke", "--cert-name", name)
    assert again.returncode == 5, again
    assert "alreadyRevoked" in again.stderr and len(again.stderr.strip().splitlines()) == 1


def test_revoke_by_cert_path_signed_by_the_certificates_own_key(
    client: Client, pebble: Pebble
) -> None:
    name = unique_name("ownkey")
    assert client.obtain(name).returncode == 0
    accounts = account_dirs(client)
    assert accounts, "the obtain registered no account: nothing to take away"
    for account in accounts:  # no account key to sign with: only the cert's key
        for item in account.iterdir():
            item.unlink()
    assert not list((client.config_dir / "accounts").rglob("private_key.json"))
    live = client.live(name)
    result = client.run(
        "revoke",
        "--cert-path",
        str(live / "cert.pem"),
        "--key-path",
        str(live / "privkey.pem"),
        "--reason",
        "keycompromise",  # certbot's spelling
        "--json",
        register=False,
    )
    assert result.returncode == 0, result
    doc = json.loads(result.stdout)
    assert doc["lineage"] == name and doc["reason"] == "keyCompromise" and not doc["deleted"]
    status = cert_status(pebble, live)
    assert status["Status"] == "Revoked" and status["Reason"] == 1


def test_revoke_with_a_key_that_is_not_the_certificates_is_refused_before_the_ca(
    client: Client, pebble: Pebble
) -> None:
    a, b = unique_name("keya"), unique_name("keyb")
    assert client.obtain(a).returncode == 0
    assert client.obtain(b).returncode == 0
    result = client.run(
        "revoke",
        "--cert-path",
        str(client.live(a) / "cert.pem"),
        "--key-path",
        str(client.live(b) / "privkey.pem"),
    )
    assert result.returncode == 2, result
    assert "does not belong to the certificate" in result.stderr
    assert cert_status(pebble, client.live(a))["Status"] == "Valid"


def test_revoke_key_compromise_then_delete_after_revoke(client: Client, pebble: Pebble) -> None:
    name, other = unique_name("revdel"), unique_name("other")
    assert client.obtain(name).returncode == 0
    assert client.obtain(other).returncode == 0
    status_before = cert_status(pebble, client.live(name))
    result = client.run(
        "revoke", "--cert-name", name, "--reason", "keyCompromise", "--delete-after-revoke"
    )
    assert result.returncode == 0, result
    assert f"Deleted certificate {name}" in result.stdout
    assert not any(p.exists() for p in lineage_files(client, name))
    assert all(p.exists() for p in lineage_files(client, other))
    status = json.loads(pebble.management_get(f"/cert-status-by-serial/{status_before['Serial']}"))
    assert status["Status"] == "Revoked" and status["Reason"] == 1


def test_unknown_reason_is_a_usage_error_and_nothing_is_revoked(
    client: Client, pebble: Pebble
) -> None:
    name = unique_name("badreason")
    assert client.obtain(name).returncode == 0
    result = client.run("revoke", "--cert-name", name, "--reason", "stolen")
    assert result.returncode == 2, result
    assert "Unknown revocation reason 'stolen'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert cert_status(pebble, client.live(name))["Status"] == "Valid"


# -- delete ----------------------------------------------------------------------------------


def test_delete_removes_exactly_that_lineage(client: Client) -> None:
    gone, kept = unique_name("gone"), unique_name("kept")
    assert client.obtain(gone).returncode == 0
    assert client.obtain(kept).returncode == 0
    before = tree(client.config_dir)
    result = client.run("delete", "--cert-name", gone, register=False)
    assert result.returncode == 0, result
    assert not any(p.exists() for p in lineage_files(client, gone))
    after = tree(client.config_dir)
    removed = {k for k in before if k not in after}
    assert removed and all(gone in k for k in removed)
    assert {k: v for k, v in before.items() if k not in removed} == after


def test_delete_of_an_unknown_name_fails_with_one_line(client: Client) -> None:
    name = unique_name("present")
    assert client.obtain(name).returncode == 0
    result = client.run("delete", "--cert-name", "no-such-cert.test", register=False)
    assert result.returncode == 2, result
    assert "No certificate named no-such-cert.test" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert all(p.exists() for p in lineage_files(client, name))


def test_delete_without_a_terminal_and_without_n_asks_for_n(client: Client) -> None:
    name = unique_name("ask")
    assert client.obtain(name).returncode == 0
    args = [a for a in client.base_args() if a != "-n"]
    proc = client.run_raw(
        ["delete", *args, "--cert-name", name], timeout=60, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 2, proc
    assert "Pass -n to confirm" in proc.stderr
    assert all(p.exists() for p in lineage_files(client, name))


# -- reconfigure -----------------------------------------------------------------------------


def test_reconfigure_standalone_to_webroot_through_a_real_web_server(
    strict_client: Client, strict_pebble: Pebble, tmp_path: Path
) -> None:
    client = strict_client
    name = unique_name("reconf")
    assert client.obtain(name).returncode == 0
    conf_path = client.config_dir / "renewal" / f"{name}.conf"
    assert read_renewal_conf(conf_path).params.get("authenticator") == "standalone"
    cert_before = (client.live(name) / "cert.pem").read_bytes()
    requests_before = len(strict_pebble.request_lines())
    with web_server(strict_pebble, tmp_path / "www") as root:
        result = client.run(
            "reconfigure",
            "--cert-name",
            name,
            "--webroot",
            "-w",
            str(root),
            "--deploy-hook",
            "true",
            "--json",
        )
    assert result.returncode == 0, result
    doc = json.loads(result.stdout)
    assert doc["changes"]["authenticator"] == {"old": "standalone", "new": "webroot"}
    assert len(strict_pebble.request_lines()) > requests_before  # a real dry run happened
    conf = read_renewal_conf(conf_path)
    assert conf.params.get("authenticator") == "webroot"
    assert conf.params.get("webroot_map") == {name: str(root)}
    assert conf.params.get("deploy_hook") == "true"
    assert not conf.params.has("http01_port")  # the old authenticator's options are gone
    text = conf_path.read_text()
    assert "[[webroot_map]]" in text and f"{name} = {root}" in text
    assert (client.live(name) / "cert.pem").read_bytes() == cert_before  # nothing issued
    challenge_dir = root / ".well-known" / "acme-challenge"
    assert not challenge_dir.exists() or not any(challenge_dir.iterdir())


def test_reconfigure_to_an_unserved_webroot_fails_and_changes_nothing(
    strict_client: Client, tmp_path: Path
) -> None:
    client = strict_client
    name = unique_name("reconfail")
    assert client.obtain(name).returncode == 0
    conf_path = client.config_dir / "renewal" / f"{name}.conf"
    before = conf_path.read_bytes()
    unserved = tmp_path / "unserved"
    unserved.mkdir()
    pebble = client.pebble  # the obtain's authorization must not be reused (1% even so)
    assert deactivate_valid_authorizations(
        pebble.directory_url, pebble.ca_bundle, client.config_dir
    )
    result = client.run("reconfigure", "--cert-name", name, "--webroot", "-w", str(unserved))
    assert result.returncode == 6, result
    assert len(result.stderr.strip().splitlines()) == 1
    assert conf_path.read_bytes() == before


def test_reconfigure_without_new_settings_proves_the_old_ones_and_writes_nothing(
    strict_client: Client, strict_pebble: Pebble
) -> None:
    client = strict_client
    name = unique_name("reconfsame")
    assert client.obtain(name).returncode == 0
    conf_path = client.config_dir / "renewal" / f"{name}.conf"
    before = conf_path.read_bytes()
    requests_before = len(strict_pebble.request_lines())
    result = client.run("reconfigure", "--cert-name", name)
    assert result.returncode == 0, result
    assert "Nothing changed" in result.stdout
    assert len(strict_pebble.request_lines()) > requests_before
    assert conf_path.read_bytes() == before


def test_reconfigure_of_an_unknown_lineage_is_a_usage_error(client: Client) -> None:
    result = client.run("reconfigure", "--cert-name", "missing.test", "--standalone")
    assert result.returncode == 2, result
    assert "No certificate named missing.test" in result.stderr


# -- account rollover ------------------------------------------------------------------------


def _old_key_client(pebble: Pebble, key_json: dict[str, Any], uri: str) -> AcmeClient:
    from josepy.jwk import JWK

    acme = AcmeClient(Transport(pebble.ca_bundle), pebble.directory_url)
    acme.set_account(JWK.from_json(key_json), uri)
    return acme


def test_account_rollover(client: Client, pebble: Pebble) -> None:
    first, second = unique_name("roll"), unique_name("roll")
    assert client.obtain(first).returncode == 0
    [old_dir] = account_dirs(client)
    old_key = json.loads((old_dir / "private_key.json").read_text())
    uri = json.loads((old_dir / "regr.json").read_text())["uri"]

    result = client.run("account", "rollover", "--json", register=False)
    assert result.returncode == 0, result
    doc = json.loads(result.stdout)
    assert doc["old_id"] == old_dir.name and doc["new_id"] != old_dir.name
    assert doc["account_uri"] == uri and doc["lineages"] == [first] and not doc["resumed"]

    [new_dir] = account_dirs(client)
    assert new_dir.name == doc["new_id"] and not old_dir.exists()
    assert json.loads((new_dir / "regr.json").read_text())["uri"] == uri
    assert json.loads((new_dir / "private_key.json").read_text()) != old_key
    assert (new_dir / "private_key.json").stat().st_mode & 0o777 == 0o600
    conf = read_renewal_conf(client.config_dir / "renewal" / f"{first}.conf")
    assert conf.params.get("account") == doc["new_id"]

    assert client.obtain(second).returncode == 0  # the new key works
    assert account_dirs(client) == [new_dir]  # and no new account was registered
    conf2 = read_renewal_conf(client.config_dir / "renewal" / f"{second}.conf")
    assert conf2.params.get("account") == doc["new_id"]

    old = _old_key_client(pebble, old_key, uri)
    try:
        with pytest.raises(AcmeError) as refused:
            old.post_as_get(uri, what="a lookup with the old key")
        assert "verif" in str(refused.value).lower()
    finally:
        old.transport.close()
    new = _old_key_client(pebble, json.loads((new_dir / "private_key.json").read_text()), uri)
    try:
        answer = new.post_as_get(uri, what="a lookup with the new key").json_object()
        assert answer["status"] == "valid"
    finally:
        new.transport.close()


def test_rollover_discards_a_pending_key_the_ca_never_saw(client: Client) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from josepy.jwk import JWKEC

    name = unique_name("stale")
    assert client.obtain(name).returncode == 0
    [old_dir] = account_dirs(client)
    stale = JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    (old_dir / PENDING_KEY_NAME).write_text(stale.json_dumps())
    result = client.run("account", "rollover", "--json", register=False)
    assert result.returncode == 0, result
    doc = json.loads(result.stdout)
    assert not doc["resumed"] and doc["new_id"] != key_id(stale)
    assert account_dirs(client)[0].name == doc["new_id"]
    assert not list((client.config_dir / "accounts").rglob(PENDING_KEY_NAME))
    assert client.obtain(unique_name("stale"), extra=["--force-renewal"]).returncode == 0


def test_rollover_finishes_after_a_crash_once_the_ca_switched(
    client: Client, pebble: Pebble
) -> None:
    """Steps 1-2 done (pending key written, CA switched), then the process died."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from josepy.jwk import JWKEC

    name = unique_name("crash")
    assert client.obtain(name).returncode == 0
    [old_dir] = account_dirs(client)
    old_key = json.loads((old_dir / "private_key.json").read_text())
    uri = json.loads((old_dir / "regr.json").read_text())["uri"]
    new_key = JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    (old_dir / PENDING_KEY_NAME).write_text(new_key.json_dumps())
    acme = _old_key_client(pebble, old_key, uri)
    try:
        acme.key_change(new_key)
    finally:
        acme.transport.close()
    assert client.obtain(unique_name("crash")).returncode == 5  # the old key no longer works

    result = client.run("account", "rollover", "--json", register=False)
    assert result.returncode == 0, result
    doc = json.loads(result.stdout)
    assert doc["resumed"] and doc["new_id"] == key_id(new_key) and doc["lineages"] == [name]
    [new_dir] = account_dirs(client)
    assert new_dir.name == key_id(new_key) and not old_dir.exists()
    assert client.obtain(unique_name("crash")).returncode == 0
