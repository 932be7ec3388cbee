"""certbot 5.8's flags that change behaviour, end to end against the scriptable fake CA;
and the checked-in list of certbot's options against the real certbot binary."""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography import x509

from certbot_like import __version__
from tests.harness.certbot_flags import certbot_flag_lines
from tests.harness.fakeca import FakeCA
from tests.integration.conftest import Client, Result, unique_name
from tests.integration.test_certbot_compat import certbot_bin  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ca(tmp_path: Path) -> Iterator[FakeCA]:
    started = FakeCA(tmp_path / "ca").start()
    yield started
    started.stop()
    assert started.errors == [], "\n".join(started.errors)


@pytest.fixture
def client(ca: FakeCA, tmp_path: Path) -> Client:
    return Client(cast(Any, ca), tmp_path / "client")


def obtain(client: Client, *names: str, extra: tuple[str, ...] = ()) -> Result:
    """`obtain` answering every challenge with a no-op hook (the fake CA validates all)."""
    return client.obtain(
        *names, extra=("--manual", "--manual-auth-hook", "true", *extra), standalone=False
    )


@pytest.fixture
def strict_ca(tmp_path: Path) -> Iterator[FakeCA]:
    """A fake CA that really fetches HTTP-01 answers (from ``web``, see below)."""
    started = FakeCA(tmp_path / "strict-ca", auto_valid=False).start()
    yield started
    started.stop()
    assert started.errors == [], "\n".join(started.errors)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web(strict_ca: FakeCA, tmp_path: Path) -> Iterator[Path]:
    """A web server on the CA's HTTP-01 port serving the files under the returned folder."""
    root = tmp_path / "web"
    (root / ".well-known" / "acme-challenge").mkdir(parents=True)
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", strict_ca.http_port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root
    server.shutdown()
    server.server_close()


def sans(path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in ext.get_values_for_type(x509.DNSName)} | {
        str(v) for v in ext.get_values_for_type(x509.IPAddress)
    }


def test_the_checked_in_list_is_certbots_own(certbot_bin: Path) -> None:  # noqa: F811
    checked_in = (ROOT / "tests" / "data" / "certbot-5.8-flags.txt").read_text().splitlines()
    assert certbot_flag_lines(certbot_bin) == checked_in


def test_user_agent_comment_reaches_the_ca(client: Client, ca: FakeCA) -> None:
    name = unique_name("ua")
    assert obtain(client, name, extra=("--user-agent-comment", "ops-team 7")).returncode == 0
    assert ca.user_agents == {f"certbot-like/{__version__} (ops-team 7)"}
    ca.user_agents.clear()
    result = client.run("show-account", "--user-agent", "MyBot/2", register=False)
    assert result.returncode == 0, result
    assert ca.user_agents == {"MyBot/2"}


def test_ip_address_certifies_an_address(client: Client, ca: FakeCA) -> None:
    name = unique_name("ip")
    result = obtain(client, name, extra=("--ip-address", "192.0.2.7,2001:db8::7", "--json"))
    assert result.returncode == 0, result
    lineage = json.loads(result.stdout)["lineage"]
    assert sans(client.live(lineage) / "cert.pem") == {name, "192.0.2.7", "2001:db8::7"}
    assert {(i["type"], i["value"]) for i in ca.orders[-1].identifiers} >= {
        ("ip", "192.0.2.7"),
        ("ip", "2001:db8::7"),
    }


def test_duplicate_makes_a_second_lineage(client: Client) -> None:
    name = unique_name("dup")
    assert obtain(client, name).returncode == 0
    kept = obtain(client, name, extra=("--json",))
    assert json.loads(kept.stdout)["action"] == "kept"
    dup = obtain(client, name, extra=("--duplicate", "--json"))
    assert dup.returncode == 0, dup
    doc = json.loads(dup.stdout)
    assert doc["lineage"] == f"{name}-0001" and doc["schema_version"] == 1
    assert sans(client.live(f"{name}-0001") / "cert.pem") == {name}
    assert (client.live(name) / "cert.pem").exists()


def test_no_autorenew_is_stored_and_renew_skips_it_unless_forced(client: Client) -> None:
    off, on = unique_name("off"), unique_name("on")
    assert obtain(client, off, extra=("--no-autorenew",)).returncode == 0
    assert obtain(client, on).returncode == 0
    conf = (client.config_dir / "renewal" / f"{off}.conf").read_text()
    assert "autorenew = False" in conf
    assert "\nautorenew =" not in (client.config_dir / "renewal" / f"{on}.conf").read_text()

    quick = ("--no-random-sleep-on-renew", "--json")
    report = json.loads(client.run("renew", *quick, register=False).stdout)
    assert report["schema_version"] == 1
    skipped = {o["name"]: o["reason"] for o in report["deferred"]}
    assert skipped == {off: "autorenew = False in its renewal conf (--force-renewal)"}
    assert [o["name"] for o in report["not_due"]] == [on]

    forced = client.run(
        "renew",
        "--no-random-sleep-on-renew",
        "--force-renewal",
        "--cert-name",
        off,
        "--json",
        register=False,
    )
    assert forced.returncode == 0, forced
    assert [o["name"] for o in json.loads(forced.stdout)["renewed"]] == [off]
    assert "autorenew = False" in (client.config_dir / "renewal" / f"{off}.conf").read_text()


def test_force_interactive_asks_without_a_terminal(client: Client) -> None:
    first, second = unique_name("fi"), unique_name("fi")
    assert obtain(client, first).returncode == 0
    args = [a for a in client.cli_args("obtain", "-d", first, "-d", second) if a != "-n"]
    args += ["--manual", "--manual-auth-hook", "true"]
    with open(os.devnull) as nothing:
        refused = client.run_raw(args, stdin=nothing)
    assert refused.returncode == 2
    assert "needs an answer" in refused.stderr
    asked = client.run_raw([*args, "--force-interactive"], input_text="y\n")
    assert asked.returncode == 0, asked
    assert f"Certificate {first} covers {first}. Expand it with the new names?" in asked.stderr
    assert sans(client.live(first) / "cert.pem") == {first, second}


def test_debug_challenges_waits_for_enter_before_the_ca_validates(
    client: Client, ca: FakeCA
) -> None:
    name = unique_name("dbg")
    args = [a for a in client.cli_args("obtain", "-d", name) if a != "-n"]
    args += ["--manual", "--manual-auth-hook", "true", "--debug-challenges", "--force-interactive"]
    closed = client.run_raw(args, input_text="")  # no Enter: input closes at the pause
    assert closed.returncode != 0
    assert "Challenges in place (--debug-challenges):" in closed.stderr
    assert f"http-01: http://{name}/.well-known/acme-challenge/" in closed.stderr
    assert "Input closed while waiting for Enter" in closed.stderr
    assert ca.count("/chall") == 0  # the CA was never asked to validate
    assert not client.live(name).exists()

    pressed = client.run_raw(args, input_text="\n")
    assert pressed.returncode == 0, pressed
    assert "Press Enter to let the CA validate them." in pressed.stderr
    assert ca.count("/chall") >= 1
    assert sans(client.live(name) / "cert.pem") == {name}


def test_debug_challenges_without_a_terminal_shows_them_and_goes_on(client: Client) -> None:
    name = unique_name("dbgn")
    result = obtain(client, name, extra=("--debug-challenges",))
    assert result.returncode == 0, result
    assert f"http://{name}/.well-known/acme-challenge/" in result.stderr
    assert "Not pausing: no terminal to press Enter at." in result.stderr


def test_allow_subset_of_names_drops_a_name_that_fails_and_renew_does_the_same(
    strict_ca: FakeCA, web: Path, tmp_path: Path
) -> None:
    client = Client(cast(Any, strict_ca), tmp_path / "subset-client")
    good, also, bad = unique_name("good"), unique_name("also"), unique_name("bad")
    hook = (  # answers every name but the bad one
        f'[ "$CERTBOT_DOMAIN" = {bad} ] || printf %s "$CERTBOT_VALIDATION" '
        f'> {web}/.well-known/acme-challenge/"$CERTBOT_TOKEN"'
    )
    manual = ("--manual", "--manual-auth-hook", hook)
    failed = client.obtain(good, bad, also, extra=manual, standalone=False)
    assert failed.returncode == 6, failed
    assert not client.live(good).exists()

    result = client.obtain(
        good, bad, also, extra=(*manual, "--allow-subset-of-names", "--json"), standalone=False
    )
    assert result.returncode == 0, result
    doc = json.loads(result.stdout)
    assert doc["names"] == [good, also] and doc["lineage"] == good
    assert sans(client.live(good) / "cert.pem") == {good, also}
    log = (client.logs_dir / "letsencrypt.log").read_text()
    assert f"{bad} failed validation" in log and "--allow-subset-of-names" in log
    conf_path = client.config_dir / "renewal" / f"{good}.conf"
    assert "allow_subset_of_names = True" in conf_path.read_text()

    # the stored flag applies to renew: now `also` fails, and good alone is renewed
    conf_path.write_text(conf_path.read_text().replace(bad, also))
    renewed = client.run(
        "renew", "--no-random-sleep-on-renew", "--force-renewal", "--json", register=False
    )
    assert renewed.returncode == 0, renewed
    assert [o["names"] for o in json.loads(renewed.stdout)["renewed"]] == [[good]]
    assert sans(client.live(good) / "cert.pem") == {good}
