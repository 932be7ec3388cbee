"""End to end: notifications (a real SMTP server and a real webhook receiver) and the dead
man's switch pings, with renewals made to fail for real against Pebble.

Proves: one message per failing run, none when the next run repeats the failure within the
repeat window, the recovery sent once; a failing notification or ping never changes the
renewal's outcome or exit code; nothing secret in any message, output or log.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.harness.authz import deactivate_valid_authorizations
from tests.harness.receivers import HttpSink, SmtpSink, wait_for
from tests.harness.servers import Pebble
from tests.integration.conftest import Client, Result, unique_name

RENEW = ["--no-random-sleep-on-renew", "--force-renewal"]
TOKEN = "hooktoken-5f1c2a9e7d"  # the webhook's secret, in its URL
MAIL_PASSWORD = "mailpass-83b1c4"


@pytest.fixture(scope="module")
def strict_pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """A Pebble that never reuses an authorization: every renewal needs a fresh challenge
    (as Let's Encrypt from 2028), so a broken webroot or port really fails it."""
    server = Pebble(tmp_path_factory.mktemp("pebble-strict"), env={"PEBBLE_AUTHZREUSE": "0"})
    yield server.start()
    server.stop()


@pytest.fixture
def client(strict_pebble: Pebble, tmp_path: Path) -> Client:
    return Client(strict_pebble, tmp_path)


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hook() -> Iterator[HttpSink]:
    server = HttpSink().start()
    yield server
    server.stop()


def forget_authorizations(client: Client) -> None:
    """Every next order of *client*'s account is validated anew (see tests/harness/authz.py)."""
    pebble = client.pebble
    deactivate_valid_authorizations(pebble.directory_url, pebble.ca_bundle, client.config_dir)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def assert_nothing_secret(client: Client, *texts: str) -> None:
    logs = "".join(p.read_text(errors="replace") for p in client.logs_dir.rglob("*.log*"))
    for text in (*texts, logs, *(r.stdout + r.stderr for r in client.results)):
        assert TOKEN not in text and MAIL_PASSWORD not in text


def test_failure_is_sent_once_repeat_suppressed_recovery_sent_once(
    client: Client, smtp: SmtpSink, hook: HttpSink, tmp_path: Path
) -> None:
    name = unique_name("notify")
    assert client.obtain(name).returncode == 0
    mail = smtp.url(**{"from": "certbot@example.test", "to": "ops@example.test"})
    mail = mail.replace("mailto://", f"mailto://certbot:{MAIL_PASSWORD}@", 1)
    webhook = f"json://user:{TOKEN}@127.0.0.1:{hook.port}/hook"
    notify = ["--notify", mail, "--notify", webhook]
    unserved = tmp_path / "unserved-webroot"
    unserved.mkdir()
    broken = ["--webroot", "-w", str(unserved)]  # nothing serves it: validation fails

    def run(*args: str) -> Result:
        return client.run("renew", *RENEW, *notify, *args, register=False)

    mails, posts = len(smtp.messages), len(hook.requests)
    first = run(*broken)
    assert first.returncode == 6, first  # the CA's validation failed
    assert wait_for(lambda: len(smtp.messages) == mails + 1)
    assert len(hook.requests) == posts + 1
    assert smtp.logins[-1] == "certbot"
    message = smtp.messages[-1]
    assert "1 failed" in str(message["Subject"])
    body = text_of(message)
    assert "Renewal failed:" in body and name in body
    doc = json.loads(hook.requests[-1].body)
    assert name in doc["message"] and "1 failed" in doc["title"]
    assert_nothing_secret(client, body, hook.requests[-1].body.decode())

    again = run(*broken)
    assert again.returncode == 6, again
    assert not wait_for(lambda: len(smtp.messages) > mails + 1, timeout=1.0)
    assert len(hook.requests) == posts + 1, "the same failure within --notify-repeat"

    fixed = run()
    assert fixed.returncode == 0, fixed
    assert wait_for(lambda: len(smtp.messages) == mails + 2)
    recovery = text_of(smtp.messages[-1])
    assert "Recovered:" in recovery and name in recovery
    assert len(hook.requests) == posts + 2

    quiet = run()
    assert quiet.returncode == 0, quiet
    assert not wait_for(lambda: len(smtp.messages) > mails + 2, timeout=1.0)
    assert len(hook.requests) == posts + 2, "a recovery is sent once; renewals are not news"
    assert_nothing_secret(client, recovery)


def test_notify_on_change_reports_renewals_and_a_lineage_keeps_its_own_url(
    client: Client, hook: HttpSink
) -> None:
    name = unique_name("change")
    assert client.obtain(name).returncode == 0
    conf = client.config_dir / "renewal" / f"{name}.conf"
    own = f"json://127.0.0.1:{hook.port}/lineage-{name}"
    conf.write_text(conf.read_text().replace("[renewalparams]", f"[renewalparams]\nnotify = {own}"))
    result = client.run("renew", *RENEW, "--notify-on", "change", register=False)
    assert result.returncode == 0, result
    mine = [r for r in hook.requests if r.path == f"/lineage-{name}"]
    assert len(mine) == 1
    doc = json.loads(mine[0].body)
    assert "Renewed:" in doc["message"] and name in doc["message"]
    assert f"notify = {own}" in conf.read_text(), "a renewal keeps the stored URL"


def test_pings_and_failing_notifiers_never_change_the_exit_code(
    client: Client, hook: HttpSink
) -> None:
    name = unique_name("ping")
    assert client.obtain(name).returncode == 0
    check = f"{hook.base()}/ping/{TOKEN}"
    dead = ["--notify", f"json://127.0.0.1:{closed_port()}/x"]

    def pings() -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in hook.requests if r.path.startswith(f"/ping/{TOKEN}")]

    ok = client.run("renew", *RENEW, "--ping-url", check, *dead, register=False)
    assert ok.returncode == 0, ok
    assert pings() == [("POST", f"/ping/{TOKEN}/start"), ("POST", f"/ping/{TOKEN}")]
    assert ok.stderr == "", "nothing failed: nothing to notify"
    # a stopped standalone port: the conf points standalone where Pebble does not look
    conf = client.config_dir / "renewal" / f"{name}.conf"
    text = conf.read_text()
    text = re.sub(r"http01_port = \d+", f"http01_port = {closed_port()}", text)
    # and on another loopback address, so no listener of a parallel test can ever answer
    text = re.sub(r"http01_address = [0-9.]+", "http01_address = 127.0.0.2", text)
    conf.write_text(text)
    forget_authorizations(client)
    failed = client.run("renew", *RENEW, "--ping-url", check, *dead, register=False)
    assert failed.returncode == 6, failed
    assert "notification could not be sent" in failed.stderr
    assert pings()[-2:] == [("POST", f"/ping/{TOKEN}/start"), ("POST", f"/ping/{TOKEN}/fail")]
    fail_body = hook.requests[-1].body.decode()
    assert name in fail_body and "1 failed" in fail_body
    hook.status = 500  # the monitoring service is down: the run's result is unchanged
    try:
        down = client.run("renew", *RENEW, "--ping-url", check, register=False)
    finally:
        hook.status = 200
    assert down.returncode == 6, down
    assert "ping was refused (HTTP 500)" in down.stderr
    unreachable = f"http://127.0.0.1:{closed_port()}/ping/{TOKEN}"
    gone = client.run("renew", *RENEW, "--ping-url", unreachable, register=False)
    assert gone.returncode == 6 and "ping could not be sent" in gone.stderr
    before = len(hook.requests)
    rehearsal = client.run("renew", *RENEW, "--dry-run", "--ping-url", check, register=False)
    assert rehearsal.returncode == 6, rehearsal
    assert len(hook.requests) == before, "a dry run pings nothing"
    assert_nothing_secret(client, fail_body)


def test_obtain_and_reconfigure_store_a_lineages_own_url_in_a_root_only_conf(
    client: Client, hook: HttpSink
) -> None:
    name = unique_name("own")
    first = f"json://127.0.0.1:{hook.port}/first-{name}"
    made = client.obtain(name, extra=["--notify", first])
    assert made.returncode == 0, made
    conf = client.config_dir / "renewal" / f"{name}.conf"
    assert f"notify = {first}" in conf.read_text()
    assert conf.stat().st_mode & 0o777 == 0o600, "the URL's token is for root's eyes only"
    second = f"json://127.0.0.1:{hook.port}/second-{name}"
    changed = client.run(
        "reconfigure", "--cert-name", name, "--notify", second, *client.standalone_args(),
        register=False,
    )  # fmt: skip
    assert changed.returncode == 0, changed
    assert f"notify = {second}" in conf.read_text() and first not in conf.read_text()
    renewed = client.run("renew", *RENEW, "--notify-on", "change", register=False)
    assert renewed.returncode == 0, renewed
    assert [r.path for r in hook.requests if name in r.path] == [f"/second-{name}"]
    assert_nothing_secret(client)  # every run of the client, its logs
