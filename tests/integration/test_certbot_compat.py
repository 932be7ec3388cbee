"""Both ways with certbot 5.8 (installed in its own venv by `make certbot-venv`):
certbot reads and renews what certbot-like wrote, and certbot-like reads and renews what
certbot wrote, on the same --config-dir, against the same Pebble."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.harness.servers import Pebble
from tests.integration.checks import assert_lineage
from tests.integration.conftest import Client, unique_name

DEFAULT_CERTBOT = Path(__file__).resolve().parents[2] / ".venv-certbot" / "bin" / "certbot"


@pytest.fixture(scope="session")
def certbot_bin() -> Path:
    """certbot 5.8 from its own venv; a missing one is a failure, never a skip."""
    path = Path(os.environ.get("CERTBOT_BIN", str(DEFAULT_CERTBOT)))
    if not path.exists():
        pytest.fail(f"certbot is not installed at {path}; run `make certbot-venv`")
    return path


def run_certbot(certbot_bin: Path, client: Client, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REQUESTS_CA_BUNDLE": str(client.pebble.ca_bundle)}
    cmd = [
        str(certbot_bin),
        *args,
        "--config-dir",
        str(client.config_dir),
        "--work-dir",
        str(client.root / "certbot-work"),
        "--logs-dir",
        str(client.root / "certbot-logs"),
        "-n",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_certbot_lists_and_renews_a_lineage_and_account_we_wrote(
    client: Client, pebble: Pebble, certbot_bin: Path
) -> None:
    name, other = unique_name("ours"), unique_name("ours")
    assert client.obtain(name, other).returncode == 0

    listed = run_certbot(certbot_bin, client, "certificates")
    assert listed.returncode == 0, listed.stderr
    assert f"Certificate Name: {name}" in listed.stdout
    assert "VALID" in listed.stdout and "INVALID" not in listed.stdout

    renewed = run_certbot(
        certbot_bin,
        client,
        "renew",
        "--force-renewal",
        "--cert-name",
        name,
        "--no-random-sleep-on-renew",
    )
    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    assert_lineage(client.live(name), {name, other}, pebble.root_pem(), version=2)

    ours = client.run("certificates", "--json", register=False)
    assert ours.returncode == 0, ours
    (doc,) = json.loads(ours.stdout)["certificates"]
    assert doc["valid"] and doc["version"] == 2


def test_we_list_and_renew_a_lineage_and_account_certbot_wrote(
    client: Client, pebble: Pebble, certbot_bin: Path
) -> None:
    name = unique_name("theirs")
    made = run_certbot(
        certbot_bin,
        client,
        "certonly",
        "--server",
        pebble.directory_url,
        "--standalone",
        "--http-01-port",
        str(pebble.http_port),
        "--http-01-address",
        "127.0.0.1",
        "--agree-tos",
        "--register-unsafely-without-email",
        "-d",
        name,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    accounts_before = sorted(
        p.name for p in (client.config_dir / "accounts").rglob("*") if p.is_dir()
    )

    listed = client.run("certificates", "--json", register=False)
    assert listed.returncode == 0, listed
    (doc,) = json.loads(listed.stdout)["certificates"]
    assert doc["name"] == name and doc["valid"] and doc["names"] == [name]

    renewed = client.run(
        "obtain",
        "--cert-name",
        name,
        "-d",
        name,
        "--force-renewal",
        *client.standalone_args(),
        register=False,
    )
    assert renewed.returncode == 0, renewed
    assert_lineage(client.live(name), {name}, pebble.root_pem(), version=2)
    accounts_after = sorted(
        p.name for p in (client.config_dir / "accounts").rglob("*") if p.is_dir()
    )
    assert accounts_after == accounts_before, "certbot's RSA account was reused, not replaced"

    ours = client.run("renew", "--force-renewal", "--no-random-sleep-on-renew", register=False)
    assert ours.returncode == 0, ours
    assert_lineage(client.live(name), {name}, pebble.root_pem(), version=3)

    again = run_certbot(
        certbot_bin, client, "renew", "--force-renewal", "--no-random-sleep-on-renew"
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert_lineage(client.live(name), {name}, pebble.root_pem(), version=4)


def test_certbot_renews_a_lineage_with_allowed_ca_origins(
    client: Client, pebble: Pebble, certbot_bin: Path
) -> None:
    """certbot does not read ``ca_allow_origin`` (certbot-like's own key) and renews anyway,
    but its rewrite of ``[renewalparams]`` drops the key: certbot-like then allows only the
    directory's origin again (it fails closed), as docs/ca-origin.md says."""
    name = unique_name("origins")
    extra = ["--ca-allow-origin", "https://acme-mirror.example"]
    assert client.obtain(name, extra=extra).returncode == 0
    conf = client.config_dir / "renewal" / f"{name}.conf"
    assert "ca_allow_origin = https://acme-mirror.example," in conf.read_text()
    renewed = run_certbot(
        certbot_bin, client, "renew", "--force-renewal", "--no-random-sleep-on-renew"
    )
    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    assert_lineage(client.live(name), {name}, pebble.root_pem(), version=2)
    assert "ca_allow_origin" not in conf.read_text()
