"""End to end: `certbot-like obtain` against a real Pebble, through every authenticator."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import textwrap
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.harness.servers import Pebble
from tests.integration.checks import assert_chain_verifies, assert_lineage, assert_renewal_conf
from tests.integration.conftest import Client, unique_name


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web_server(pebble: Pebble, tmp_path: Path) -> Iterator[Path]:
    """A real HTTP server serving a webroot on the port Pebble validates HTTP-01 on."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", pebble.http_port), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield root
    server.shutdown()
    server.server_close()


def test_standalone_http01_two_names_stores_a_verified_ecdsa_lineage(
    client: Client, pebble: Pebble
) -> None:
    a, b = unique_name("www"), unique_name("api")
    result = client.obtain(a, b)
    assert result.returncode == 0, result
    assert f"{client.live(a)}/fullchain.pem" in result.stdout
    assert "expires on" in result.stdout
    assert_lineage(client.live(a), {a, b}, pebble.root_pem(), key_type="ecdsa", key_size=256)
    assert_renewal_conf(
        client.config_dir,
        a,
        {
            "authenticator": "standalone",
            "server": pebble.directory_url,
            "key_type": "ecdsa",
            "http01_port": str(pebble.http_port),
        },
    )
    accounts = list((client.config_dir / "accounts").rglob("private_key.json"))
    assert len(accounts) == 1
    assert stat.S_IMODE(accounts[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(client.logs_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((client.logs_dir / "letsencrypt.log").stat().st_mode) == 0o600


def test_standalone_tls_alpn01(client: Client, pebble: Pebble) -> None:
    name = unique_name("alpn")
    result = client.obtain(name, extra=["--preferred-challenges", "tls-alpn-01"])
    assert result.returncode == 0, result
    assert_lineage(client.live(name), {name}, pebble.root_pem())
    assert_renewal_conf(client.config_dir, name, {"pref_challs": "tls-alpn-01"})


@pytest.mark.parametrize(
    ("args", "key_type", "size"),
    [
        (["--key-type", "rsa", "--rsa-key-size", "3072"], "rsa", 3072),
        (["--key-type", "rsa"], "rsa", 2048),
        (["--elliptic-curve", "secp384r1"], "ecdsa", 384),
    ],
)
def test_key_types(
    client: Client, pebble: Pebble, args: list[str], key_type: str, size: int
) -> None:
    name = unique_name("key")
    result = client.obtain(name, extra=args)
    assert result.returncode == 0, result
    assert_lineage(client.live(name), {name}, pebble.root_pem(), key_type=key_type, key_size=size)
    assert_renewal_conf(client.config_dir, name, {"key_type": key_type})


def test_ip_address_identifier(client: Client, pebble: Pebble) -> None:
    result = client.obtain("127.0.0.1")
    assert result.returncode == 0, result
    assert_lineage(client.live("127.0.0.1"), {"127.0.0.1"}, pebble.root_pem())


def test_webroot_through_a_real_web_server(
    client: Client, pebble: Pebble, web_server: Path
) -> None:
    a, b = unique_name("web"), unique_name("web")
    result = client.run("obtain", "-d", a, "--webroot", "-w", str(web_server), "-d", b)
    assert result.returncode == 0, result
    assert_lineage(client.live(a), {a, b}, pebble.root_pem())
    challenge_dir = web_server / ".well-known" / "acme-challenge"
    assert not challenge_dir.exists() or not any(challenge_dir.iterdir())
    conf = (client.config_dir / "renewal" / f"{a}.conf").read_text()
    assert "[[webroot_map]]" in conf and f"{b} = {web_server}" in conf


def test_manual_hooks_get_certbots_environment(
    client: Client, pebble: Pebble, web_server: Path, tmp_path: Path
) -> None:
    name = unique_name("manual")
    record = tmp_path / "hook-env.txt"
    auth = tmp_path / "auth.sh"
    auth.write_text(
        textwrap.dedent(f"""\
        #!/bin/sh
        mkdir -p {web_server}/.well-known/acme-challenge
        printf '%s' "$CERTBOT_VALIDATION" > {web_server}/.well-known/acme-challenge/$CERTBOT_TOKEN
        env | grep ^CERTBOT_ | sort >> {record}
        echo auth-output-for-$CERTBOT_DOMAIN
        """)
    )
    cleanup = tmp_path / "cleanup.sh"
    cleanup.write_text(
        textwrap.dedent(f"""\
        #!/bin/sh
        rm -f {web_server}/.well-known/acme-challenge/$CERTBOT_TOKEN
        echo "CLEANUP_AUTH_OUTPUT=$CERTBOT_AUTH_OUTPUT" >> {record}
        """)
    )
    auth.chmod(0o755)
    cleanup.chmod(0o755)
    result = client.run(
        "obtain",
        "-d",
        name,
        "--manual",
        "--manual-auth-hook",
        str(auth),
        "--manual-cleanup-hook",
        str(cleanup),
    )
    assert result.returncode == 0, result
    assert_lineage(client.live(name), {name}, pebble.root_pem())
    env = record.read_text()
    assert f"CERTBOT_DOMAIN={name}" in env
    assert "CERTBOT_REMAINING_CHALLENGES=0" in env
    assert f"CERTBOT_ALL_DOMAINS={name}" in env
    assert "CERTBOT_TOKEN=" in env and "CERTBOT_VALIDATION=" in env
    assert f"CLEANUP_AUTH_OUTPUT=auth-output-for-{name}" in env
    assert not any((web_server / ".well-known" / "acme-challenge").iterdir())
    assert_renewal_conf(
        client.config_dir, name, {"manual_auth_hook": str(auth), "authenticator": "manual"}
    )


def test_csr_writes_the_requested_paths_and_no_lineage(
    client: Client, pebble: Pebble, tmp_path: Path
) -> None:
    name = unique_name("csr")
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    csr_path = tmp_path / "req.pem"
    csr_path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    out = tmp_path / "out"
    out.mkdir()
    result = client.run(
        "obtain",
        "--csr",
        str(csr_path),
        *client.standalone_args(),
        "--cert-path",
        str(out / "c.pem"),
        "--fullchain-path",
        str(out / "fc.pem"),
        "--chain-path",
        str(out / "ch.pem"),
    )
    assert result.returncode == 0, result
    assert_chain_verifies(out / "fc.pem", pebble.root_pem())
    leaf = x509.load_pem_x509_certificate((out / "c.pem").read_bytes())
    assert leaf.public_key() == key.public_key()
    assert not (client.config_dir / "renewal").exists() or not any(
        (client.config_dir / "renewal").iterdir()
    )


def test_existing_certificate_is_kept_until_due_without_asking_the_ca(
    client: Client, pebble: Pebble
) -> None:
    name = unique_name("keep")
    assert client.obtain(name).returncode == 0
    before = len(pebble.request_lines())
    result = client.obtain(name)
    assert result.returncode == 0, result
    assert "not yet due" in result.stdout
    assert len(pebble.request_lines()) == before
    assert os.readlink(client.live(name) / "cert.pem").endswith("cert1.pem")


def test_force_renewal_makes_version_two_with_a_new_key(client: Client, pebble: Pebble) -> None:
    name = unique_name("force")
    assert client.obtain(name).returncode == 0
    old_key = (client.live(name) / "privkey.pem").read_bytes()
    result = client.obtain(name, extra=["--force-renewal", "--json"])
    assert result.returncode == 0, result
    doc = json.loads(result.stdout)
    assert doc["action"] == "renewed" and doc["lineage"] == name
    assert_lineage(client.live(name), {name}, pebble.root_pem(), version=2)
    assert (client.live(name) / "privkey.pem").read_bytes() != old_key
    assert not [p for p in (client.config_dir / "live").iterdir() if p.name.startswith(".")]


def test_dry_run_writes_no_certificate(client: Client) -> None:
    name = unique_name("dry")
    result = client.obtain(name, extra=["--dry-run"])
    assert result.returncode == 0, result
    assert "dry run was successful" in result.stdout
    for sub in ("live", "archive", "renewal"):
        path = client.config_dir / sub
        assert not path.exists() or not [p for p in path.iterdir() if p.name != "README"]


def test_a_second_run_fails_fast_while_the_first_holds_the_lock(client: Client) -> None:
    client.config_dir.mkdir(parents=True)
    fd = os.open(client.config_dir / ".certbot.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = client.obtain(unique_name("locked"))
    finally:
        os.close(fd)
    assert result.returncode == 8, result
    assert "Another certbot or certbot-like run" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_certificates_lists_names_expiry_and_problems_as_json(client: Client) -> None:
    good, broken = unique_name("good"), unique_name("broken")
    assert client.obtain(good).returncode == 0
    assert client.obtain(broken).returncode == 0
    (client.live(broken) / "privkey.pem").unlink()
    result = client.run("certificates", "--json", register=False)
    assert result.returncode == 0, result
    certs = {c["name"]: c for c in json.loads(result.stdout)["certificates"]}
    assert certs[good]["valid"] is True and certs[good]["names"] == [good]
    assert certs[good]["days_left"] > 1000 and certs[good]["key_type"] == "ECDSA secp256r1"
    assert certs[broken]["valid"] is False
    assert any("privkey" in p for p in certs[broken]["problems"])
