"""End to end: `certbot-like doctor` against a real BIND9 (CAA and A records), a real Pebble
(its Date header) and a CA whose clock is wrong, on lineages with each kind of problem."""

from __future__ import annotations

import datetime
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certbot_like.storage.layout import Layout
from tests.harness.bind import Bind
from tests.harness.clirun import Result, run_cli
from tests.harness.lineages import LocalIssuer, make_lineages
from tests.harness.receivers import HttpSink
from tests.harness.servers import Pebble

RECORDS = {
    "example.test": [
        'forbidden CAA 0 issue "otherca.test"',
        "forbidden A 127.0.0.1",  # a name with records of its own escapes the wildcard A
        'allowed CAA 0 issue "pebble.test; accounturi=https://x/acct/1"',
        "allowed A 127.0.0.1",
        "elsewhere A 192.0.2.10",
    ]
}


@pytest.fixture(scope="module")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind]:
    server = Bind(tmp_path_factory.mktemp("bind-doctor"), records=RECORDS).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    server = Pebble(tmp_path_factory.mktemp("pebble-doctor")).start()
    yield server
    server.stop()


def doctor(root: Path, bind: Bind, *args: str) -> Result:
    return run_cli(
        [
            "doctor",
            "--config-dir", str(root / "config"),
            "--work-dir", str(root / "work"),
            "--logs-dir", str(root / "logs"),
            "--systemd-dir", str(root / "systemd"),
            "--cron-dir", str(root / "cron"),
            "--dns-resolver", bind.address,
            "--caa-identity", "pebble.test",
            *args,
        ]
    )  # fmt: skip


def findings(result: Result) -> list[dict[str, Any]]:
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == result.returncode
    found: list[dict[str, Any]] = doc["findings"]
    return found


def install_cron(root: Path, hours: int) -> None:
    from certbot_like.schedule.units import Schedule, render_cron

    (root / "cron").mkdir(exist_ok=True)
    schedule = Schedule(Path("/usr/bin/certbot-like"), hours)
    (root / "cron" / "certbot-like").write_text(render_cron(schedule))


def params_for(pebble: Pebble, **extra: object) -> dict[str, object]:
    return {
        "authenticator": "standalone",
        "server": pebble.directory_url,
        "ca_bundle": str(pebble.ca_bundle),
        "account": "x",
        **extra,
    }


def test_a_healthy_setup_is_clean(tmp_path: Path, bind: Bind, pebble: Pebble) -> None:
    make_lineages(Layout(tmp_path / "config", tmp_path / "w", tmp_path / "l"),
                  ["allowed.example.test"], params_for(pebble))  # fmt: skip
    install_cron(tmp_path, 12)
    result = doctor(tmp_path, bind)
    assert result.returncode == 0, result
    assert result.stdout == "No problems found.\n"


def test_doctor_finds_each_problem_with_why_and_fix(
    tmp_path: Path, bind: Bind, pebble: Pebble
) -> None:
    where = Layout(tmp_path / "config", tmp_path / "w", tmp_path / "l")
    issuer = LocalIssuer()
    base = params_for(pebble)

    def lineage(name: str, days: float = 90, **extra: object) -> None:
        make_lineages(where, [name], {**base, **extra}, days=days, issuer=issuer)

    lineage("forbidden.example.test")
    lineage("elsewhere.example.test")
    lineage("short.example.test", days=6)
    lineage("staple.example.test", must_staple="True")
    lineage("noplugin.example.test", authenticator="dns-nonexistent")
    creds = tmp_path / "rfc2136.ini"
    creds.write_text("dns_rfc2136_server = 127.0.0.1\n")
    creds.chmod(0o644)
    lineage("creds.example.test", authenticator="dns-rfc2136", dns_rfc2136_credentials=str(creds))
    lineage("gone.example.test", authenticator="dns-rfc2136",
            dns_rfc2136_credentials=str(tmp_path / "missing.ini"))  # fmt: skip
    lineage("openkey.example.test")
    (tmp_path / "config/archive/openkey.example.test/privkey1.pem").chmod(0o644)
    lineage("broken.example.test")
    (tmp_path / "config/live/broken.example.test/chain.pem").unlink()
    lineage("client.example.test")
    _reissue_with_client_auth(tmp_path / "config/archive/client.example.test", issuer)
    lineage("orphan.example.test")
    (tmp_path / "config/renewal/orphan.example.test.conf").unlink()
    lineage("garbled.example.test")
    conf = tmp_path / "config/renewal/garbled.example.test.conf"
    conf.write_text(conf.read_text().replace("[renewalparams]", "[renewalparams\n"))
    install_cron(tmp_path, 24)  # too rare for the 6-day certificate

    result = doctor(tmp_path, bind, "--json")
    assert result.returncode == 2, result
    found = findings(result)
    by_lineage: dict[str | None, list[str]] = {}
    for item in found:
        assert item["why"] and item["fix"], item
        by_lineage.setdefault(item["lineage"], []).append(f"{item['level']}: {item['what']}")

    def only(name: str | None) -> str:
        (what,) = by_lineage.pop(name)
        return what

    assert only("forbidden.example.test").startswith(
        "problem: CAA records of forbidden.example.test forbid the CA (pebble.test): "
        'issue "otherca.test"'
    )
    assert only("elsewhere.example.test") == (
        "warning: elsewhere.example.test resolves to 192.0.2.10, not an address of this machine"
    )
    assert only("staple.example.test") == "problem: the renewal conf asks for OCSP Must-Staple"
    assert only("noplugin.example.test") == (
        "problem: the authenticator plugin 'dns-nonexistent' is not installed"
    )
    assert only("creds.example.test") == (
        f"problem: the credentials file {creds} is readable by others (mode 644)"
    )
    assert only("gone.example.test").startswith("problem: dns_rfc2136_credentials names ")
    assert only("openkey.example.test").startswith("problem: the private key ")
    assert only("broken.example.test") == (
        "problem: live/broken.example.test: missing or broken link(s): chain"
    )
    assert only("client.example.test").startswith(
        "warning: the certificate carries the clientAuth usage"
    )
    assert only("garbled.example.test").startswith("problem: the lineage cannot be read: ")
    assert only("orphan.example.test") == "warning: live/orphan.example.test has no renewal conf"
    assert only(None).startswith("warning: the renewal timer runs every 24 h, too rarely")
    assert by_lineage == {}, "allowed names, local addresses, Pebble's clock: no finding"
    text = doctor(tmp_path, bind)
    assert text.returncode == 2
    assert "  why: the CA must refuse to issue: the next renewal fails" in text.stdout
    assert text.stdout.splitlines()[-1] == "8 problem(s), 4 warning(s)."
    shutil.rmtree(tmp_path / "cron")
    missing = findings(doctor(tmp_path, bind, "--json", "--offline"))
    assert missing[0]["what"] == "no renewal timer or cron job is installed"
    assert not any("CAA" in f["what"] for f in missing), "--offline asks no DNS server"
    # an administrator's own cron line (the --cron-dir's /etc) is a renewal schedule too
    (tmp_path / "crontab").write_text("17 3 * * * root certbot -q renew --no-self-upgrade\n")
    handwritten = findings(doctor(tmp_path, bind, "--json", "--offline"))
    assert not any(f["what"].startswith("no renewal timer") for f in handwritten)


def test_clock_skew_against_the_cas_date_header(tmp_path: Path, bind: Bind) -> None:
    ca = HttpSink(date_offset=-600, body=b'{"meta": {"caaIdentities": ["pebble.test"]}}').start()
    try:
        make_lineages(Layout(tmp_path / "config", tmp_path / "w", tmp_path / "l"),
                      ["allowed.example.test"],
                      {"authenticator": "standalone", "server": f"{ca.base()}/dir"})  # fmt: skip
        install_cron(tmp_path, 12)
        result = doctor(tmp_path, bind, "--json")
    finally:
        ca.stop()
    assert result.returncode == 2, result
    (finding,) = findings(result)
    assert finding["level"] == "problem"
    assert finding["what"].startswith("this machine's clock is 60")
    assert "ahead of the CA's" in finding["what"]
    assert [r.path for r in ca.requests] == ["/dir"]


def _reissue_with_client_auth(archive: Path, issuer: LocalIssuer) -> None:
    """Replace version 1's certificate with one that also carries clientAuth."""
    key = serialization.load_pem_private_key((archive / "privkey1.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client.example.test")]))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("client.example.test")]), critical=False
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(issuer.key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    (archive / "cert1.pem").write_bytes(cert)
    (archive / "fullchain1.pem").write_bytes(cert + issuer.chain_pem)
