"""Deploy targets end to end: Pebble issues, certbot-like writes the targets, a real HAProxy
serves the ``combined`` file and is reloaded by ``--deploy-reload``; PKCS#12 opened by
``openssl``; a service user owns its files; a failing target beside a good one."""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.harness.haproxy import HAProxy
from tests.harness.nginx import peer_certificate, self_signed
from tests.harness.servers import wait_until
from tests.integration.conftest import Client, unique_name

SERVICE_USER = "cbl-deploy-svc"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def service_user() -> pwd.struct_passwd:
    """A system user standing for a service (Postfix, a database) that reads its key."""
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             SERVICE_USER],
            check=True,
        )  # fmt: skip
        return pwd.getpwnam(SERVICE_USER)


@pytest.fixture
def haproxy_dir(tmp_path: Path) -> Path:
    path = tmp_path / "haproxy"
    path.mkdir()
    return path


@pytest.fixture
def haproxy(haproxy_dir: Path) -> Iterator[HAProxy]:
    """HAProxy already running on a self-signed certificate, as before a takeover."""
    crt = haproxy_dir / "site.pem"
    self_signed(haproxy_dir / "old.crt", haproxy_dir / "old.key", ("old.example",))
    crt.write_bytes((haproxy_dir / "old.key").read_bytes() + (haproxy_dir / "old.crt").read_bytes())
    proxy = HAProxy(haproxy_dir, crt).start()
    yield proxy
    proxy.stop()


def _serial_served(port: int, name: str) -> int:
    return x509.load_der_x509_certificate(peer_certificate(port, name)).serial_number


def _serial_stored(client: Client, name: str) -> int:
    pem = (client.live(name) / "cert.pem").read_bytes()
    return x509.load_pem_x509_certificate(pem).serial_number


def test_haproxy_serves_the_combined_target_before_and_after_a_forced_renewal(
    client: Client, haproxy: HAProxy
) -> None:
    name = unique_name("lb")
    first = client.obtain(
        name,
        extra=["--deploy-to", f"combined:{haproxy.crt}", "--deploy-reload", haproxy.reload_command],
    )
    assert first.returncode == 0, first
    assert stat.S_IMODE(haproxy.crt.stat().st_mode) == 0o600
    before = _serial_stored(client, name)
    wait_until(lambda: _serial_served(haproxy.port, name) == before, 15, "HAProxy's reload")

    renewed = client.run("renew", "--force-renewal", "--no-random-sleep-on-renew")
    assert renewed.returncode == 0, renewed
    after = _serial_stored(client, name)
    assert after != before
    wait_until(lambda: _serial_served(haproxy.port, name) == after, 15, "HAProxy's reload")

    listed = client.run("certificates", "--json", register=False)
    doc = json.loads(listed.stdout)["certificates"][0]
    assert doc["deploy_targets"] == [
        {"format": "combined", "path": str(haproxy.crt), "state": "up to date"}
    ]


def test_pkcs12_key_and_der_targets_for_a_service_user(
    client: Client, tmp_path: Path, service_user: pwd.struct_passwd
) -> None:
    name = unique_name("svc")
    out = tmp_path / "svc"
    out.mkdir()
    password_file = tmp_path / "p12.pass"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    client.secrets.add(PASSWORD)
    done = client.obtain(
        name,
        extra=[
            "--deploy-to", f"pkcs12:{out}/site.p12",
            "--deploy-to", f"key:{out}/site.key",
            "--deploy-to", f"der:{out}/site.der",
            "--deploy-owner", SERVICE_USER,
            "--deploy-mode", "0640",
            "--pkcs12-password-file", str(password_file),
        ],
    )  # fmt: skip
    assert done.returncode == 0, done
    for file in ("site.p12", "site.key", "site.der"):
        info = (out / file).stat()
        assert (info.st_uid, info.st_gid) == (service_user.pw_uid, service_user.pw_gid)
        assert stat.S_IMODE(info.st_mode) == 0o640
    _key, cert, chain = pkcs12.load_key_and_certificates(
        (out / "site.p12").read_bytes(), PASSWORD.encode()
    )
    assert cert is not None and cert.serial_number == _serial_stored(client, name) and chain
    assert (out / "site.key").read_bytes() == (client.live(name) / "privkey.pem").read_bytes()
    opened = subprocess.run(
        ["openssl", "pkcs12", "-in", str(out / "site.p12"), "-nokeys", "-passin",
         f"file:{password_file}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout.count("BEGIN CERTIFICATE") == 1 + len(chain)
    der = x509.load_der_x509_certificate((out / "site.der").read_bytes())
    assert der.serial_number == cert.serial_number
    conf = (client.config_dir / "renewal" / f"{name}.conf").read_text()
    assert "deploy_owner = cbl-deploy-svc" in conf and PASSWORD not in conf


def test_a_failing_target_beside_a_good_one_exits_12_and_keeps_the_certificate(
    client: Client, tmp_path: Path
) -> None:
    name = unique_name("half")
    good = tmp_path / "fullchain.pem"
    result = client.obtain(
        name,
        extra=["--deploy-to", f"cert:{tmp_path}/gone/cert.pem", "--deploy-to", f"fullchain:{good}"],
    )
    assert result.returncode == 12, result
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and f"{tmp_path}/gone" in errors[0], result.stderr
    assert "certbot-like deploy --cert-name" in errors[0]
    assert good.read_bytes() == (client.live(name) / "fullchain.pem").read_bytes()
    (tmp_path / "gone").mkdir()
    again = client.run("deploy", "--cert-name", name, register=False)
    assert again.returncode == 0, again
    assert f"{name}: written cert:{tmp_path}/gone/cert.pem" in again.stdout
    assert f"{name}: unchanged fullchain:{good}" in again.stdout


def test_a_symlink_planted_by_another_user_is_not_followed(
    client: Client, tmp_path: Path, service_user: pwd.struct_passwd
) -> None:
    name = unique_name("plant")
    victim = tmp_path / "victim"
    victim.write_text("do not overwrite")
    planted = tmp_path / "site.pem"
    planted.symlink_to(victim)
    os.lchown(planted, service_user.pw_uid, service_user.pw_gid)
    result = client.obtain(name, extra=["--deploy-to", f"combined:{planted}"])
    assert result.returncode == 12, result
    assert "refusing to follow it" in result.stderr
    assert victim.read_text() == "do not overwrite" and planted.is_symlink()


def test_targets_inside_the_config_directory_are_refused_before_anything_is_ordered(
    client: Client,
) -> None:
    inside = client.config_dir / "live" / "x" / "cert.pem"
    result = client.obtain(unique_name("in"), extra=["--deploy-to", f"cert:{inside}"])
    assert result.returncode == 12, result
    assert "inside the certificate store" in result.stderr
    assert not inside.exists()


def test_certbot_still_reads_a_conf_with_deploy_targets(client: Client, tmp_path: Path) -> None:
    certbot = os.environ.get("CERTBOT_BIN")
    assert certbot, "CERTBOT_BIN must name certbot 5.8 (make certbot-venv)"
    name = unique_name("compat")
    done = client.obtain(name, extra=["--deploy-to", f"fullchain:{tmp_path}/a.pem",
                                      "--deploy-to", f"key:{tmp_path}/a.key"])  # fmt: skip
    assert done.returncode == 0, done
    listed = subprocess.run(
        [certbot, "certificates", "--config-dir", str(client.config_dir), "--work-dir",
         str(client.work_dir), "--logs-dir", str(client.logs_dir)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert f"Certificate Name: {name}" in listed.stdout
    assert "INVALID" not in listed.stdout
