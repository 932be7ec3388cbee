"""A CA can point the client only at its own origin (issue 18).

Each kind of URL a CA hands out is pointed, by the fake CA's ``foreign_urls`` fault, at
another origin where a :class:`RecordingListener` (HTTPS with a certificate the client
trusts) records every connection: another port on the same host, or another host on the
same port. Each run must fail with exit 10 and one line naming the URL and the CA's origin,
the listener must see no connection at all, and the config directory (``live/``,
``archive/``, ``renewal/``, ``accounts/``) must be byte-for-byte what it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from certbot_like.errors import ForeignOriginError
from certbot_like.protocol.ari import fetch_renewal_info
from certbot_like.protocol.client import AcmeClient
from certbot_like.protocol.http import Transport
from tests.harness.fakeca import FakeCA, RecordingListener, fake_ca
from tests.harness.fakeca.issuer import ALT_ROOT_CN
from tests.integration.conftest import Client, Result, unique_name

MANUAL = ("--manual", "--manual-auth-hook", "true")
RENEW = ("--no-random-sleep-on-renew",)
STATE_DIRS = ("live", "archive", "renewal", "accounts")
NOTHING: dict[str, dict[str, bytes | str]] = {kind: {} for kind in STATE_DIRS}


@pytest.fixture
def ca(tmp_path: Path) -> Iterator[FakeCA]:
    with fake_ca(tmp_path / "ca", alternate_chain=True) as server:
        yield server
        assert not server.errors, "\n".join(server.errors)


@pytest.fixture
def other_port(ca: FakeCA) -> Iterator[RecordingListener]:
    """Another origin on the CA's host: 127.0.0.1, another port."""
    assert ca.tls is not None
    with RecordingListener(ca.tls, "127.0.0.1") as listener:
        yield listener


@pytest.fixture
def other_host(ca: FakeCA) -> Iterator[RecordingListener]:
    """Another origin on the CA's port: 127.0.0.2."""
    assert ca.tls is not None
    with RecordingListener(ca.tls, "127.0.0.2", ca.port) as listener:
        yield listener


def make_client(ca: FakeCA, root: Path) -> Client:
    """``Client`` is typed for Pebble but only uses the surface FakeCA shares with it."""
    return Client(cast(Any, ca), root)


@pytest.fixture
def client(ca: FakeCA, tmp_path: Path) -> Client:
    return make_client(ca, tmp_path / "client")


def tree(root: Path) -> dict[str, bytes | str]:
    """Every file's bytes and mode, every link's target, under *root* (empty if absent;
    certbot's static ``live/README``, written before the CA is contacted, left out)."""
    out: dict[str, bytes | str] = {}
    if not root.exists():
        return out
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if rel == "README" and root.name == "live":
            continue
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            out[rel] = oct(path.stat().st_mode).encode() + b" " + path.read_bytes()
    return out


def state(client: Client) -> dict[str, dict[str, bytes | str]]:
    """What a refused run must leave untouched."""
    return {kind: tree(client.config_dir / kind) for kind in STATE_DIRS}


def obtain(client: Client, name: str, *extra: str) -> Result:
    return client.run("obtain", "-d", name, *MANUAL, *extra)


def assert_refused(result: Result, ca: FakeCA, listener: RecordingListener) -> str:
    """Exit 10 and exactly one line naming a URL on the listener and the CA's origin."""
    assert result.returncode == 10, result
    lines = [line for line in result.stderr.splitlines() if listener.origin in line]
    assert len(lines) == 1, result
    assert f"which is not its origin https://127.0.0.1:{ca.port}" in lines[0], result
    assert "--ca-allow-origin" in lines[0]
    assert listener.connections == [] and listener.requests == []
    return lines[0]


# kind -> (the URL names the fault moves, what the refusal calls it, extra obtain flags)
ISSUANCE_KINDS: dict[str, tuple[frozenset[str], str, tuple[str, ...]]] = {
    "order": (frozenset({"order"}), "the order URL", ()),
    "authorization": (frozenset({"authorizations"}), "an authorization URL", ()),
    "challenge": (frozenset({"challenge"}), "the http-01 challenge URL", ()),
    "finalize": (frozenset({"finalize"}), "the finalize URL", ()),
    "certificate": (frozenset({"certificate"}), "the certificate URL", ()),
    "alternate-chain": (
        frozenset({"alternate"}),
        "an alternate chain URL",
        ("--preferred-chain", ALT_ROOT_CN),
    ),
    "newOrder": (frozenset({"newOrder"}), "newOrder", ()),
    "newNonce": (frozenset({"newNonce"}), "newNonce", ()),
    "revokeCert": (frozenset({"revokeCert"}), "revokeCert", ()),
}


@pytest.mark.parametrize("kind", list(ISSUANCE_KINDS))
def test_issuance_url_on_another_port_is_refused(
    ca: FakeCA, client: Client, other_port: RecordingListener, kind: str
) -> None:
    names, what, extra = ISSUANCE_KINDS[kind]
    name = unique_name("origin")
    assert obtain(client, name).returncode == 0
    before, issued = state(client), len(ca.certificates)
    ca.faults.foreign_origin = other_port.origin
    ca.faults.foreign_urls = names
    line = assert_refused(obtain(client, name, "--force-renewal", *extra), ca, other_port)
    assert f"The CA pointed {what} at {other_port.origin}/" in line
    assert state(client) == before
    if kind in ("order", "authorization", "challenge", "finalize"):
        assert len(ca.certificates) == issued  # nothing was even issued


@pytest.mark.parametrize("kind", ["order", "finalize", "certificate"])
def test_issuance_url_on_another_host_same_port_is_refused(
    ca: FakeCA, client: Client, other_host: RecordingListener, kind: str
) -> None:
    names, _, extra = ISSUANCE_KINDS[kind]
    name = unique_name("host")
    assert obtain(client, name).returncode == 0
    before = state(client)
    ca.faults.foreign_origin = other_host.origin
    ca.faults.foreign_urls = names
    line = assert_refused(obtain(client, name, "--force-renewal", *extra), ca, other_host)
    assert f"at https://127.0.0.2:{ca.port}/" in line
    assert state(client) == before


def test_account_url_on_another_origin_is_refused(
    ca: FakeCA, client: Client, other_port: RecordingListener
) -> None:
    ca.faults.foreign_origin = other_port.origin
    ca.faults.foreign_urls = frozenset({"account"})
    line = assert_refused(obtain(client, unique_name("acct")), ca, other_port)
    assert "The CA pointed the account URL at" in line
    assert state(client) == NOTHING
    assert ca.count("/new-order") == 0


def test_keychange_on_another_origin_refuses_the_rollover(
    ca: FakeCA, client: Client, other_port: RecordingListener
) -> None:
    assert obtain(client, unique_name("roll")).returncode == 0
    before = state(client)
    ca.faults.foreign_origin = other_port.origin
    ca.faults.foreign_urls = frozenset({"keyChange"})
    result = client.run("account", "rollover", register=False)
    line = assert_refused(result, ca, other_port)
    assert "The CA pointed keyChange at" in line
    assert state(client) == before
    assert ca.count("/key-change") == 0


def test_renewal_info_on_another_origin(
    ca: FakeCA, client: Client, other_port: RecordingListener
) -> None:
    """Even for a lineage that is not due, the refusal fails the run (exit 10, one line):
    a CA pointing elsewhere is never just a warning. Nothing reaches the other origin."""
    name = unique_name("ari")
    assert obtain(client, name).returncode == 0
    before = state(client)
    ca.faults.foreign_origin = other_port.origin
    ca.faults.foreign_urls = frozenset({"renewalInfo"})
    kept = client.run("renew", *RENEW, register=False)
    line = assert_refused(kept, ca, other_port)
    assert f"The CA pointed renewalInfo at {other_port.origin}/renewal-info" in line
    assert state(client) == before
    forced = client.run("renew", *RENEW, "--force-renewal", register=False)
    assert "The CA pointed renewalInfo at" in assert_refused(forced, ca, other_port)
    assert state(client) == before
    assert ca.renewal_info_fetches == []


def test_renewal_info_redirect_to_another_origin_is_not_followed(
    ca: FakeCA, other_port: RecordingListener
) -> None:
    client = AcmeClient(Transport(ca_bundle=ca.ca_bundle, timeout=10), ca.directory_url)
    try:
        ca.faults.set("redirect", f"{other_port.origin}/renewal-info/x", on={"renewalInfo"})
        with pytest.raises(ForeignOriginError) as info:
            fetch_renewal_info(client, "AAAA.AAAA")
        assert "a redirect of the renewalInfo URL" in info.value.one_line()
    finally:
        client.transport.close()
    assert other_port.connections == []
    assert ca.count("/renewal-info", "GET") == 1


# -- redirects ---------------------------------------------------------------------------------


def test_directory_redirect_within_the_origin_is_followed(ca: FakeCA, client: Client) -> None:
    ca.faults.set("redirect", "/dir", on={"directory"}, times=1)
    assert obtain(client, unique_name("moved")).returncode == 0
    assert ca.request_lines()[:2] == ["GET /dir", "GET /dir"]


def test_directory_redirect_to_another_origin_is_refused(
    ca: FakeCA, client: Client, other_port: RecordingListener
) -> None:
    ca.faults.set("redirect", f"{other_port.origin}/dir", on={"directory"})
    line = assert_refused(obtain(client, unique_name("away")), ca, other_port)
    assert "The CA pointed a redirect of the directory at" in line
    assert state(client) == NOTHING


def test_endless_directory_redirects_stop(ca: FakeCA, client: Client) -> None:
    ca.faults.set("redirect", "/dir", on={"directory"})
    result = obtain(client, unique_name("loop"))
    assert result.returncode == 10, result
    assert "redirected the request for the directory more than 3 times" in result.stderr
    assert ca.count("/dir", "GET") == 4


def test_signed_requests_are_never_redirected(ca: FakeCA, client: Client) -> None:
    name = unique_name("post")
    assert obtain(client, name).returncode == 0
    before = state(client)
    ca.faults.set("redirect", "/new-order", on={"newOrder"}, times=1)
    result = obtain(client, name, "--force-renewal")
    assert result.returncode == 10, result
    assert "answered the new order with a redirect (HTTP 307)" in result.stderr
    assert ca.count("/new-order") == 2  # the first obtain's and the redirected one, no third
    assert state(client) == before


# -- --ca-allow-origin -------------------------------------------------------------------------


def test_allowed_origin_is_used_and_stored_for_renewal(ca: FakeCA, client: Client) -> None:
    """The CA serves certificates as https://localhost:<port>, another origin of the same
    server: allowed with --ca-allow-origin, stored, used by renew, refused without it."""
    second = f"https://localhost:{ca.port}"
    ca.faults.foreign_origin = second
    ca.faults.foreign_urls = frozenset({"certificate"})
    name = unique_name("split")
    result = obtain(client, name, "--ca-allow-origin", f"https://LocalHost:{ca.port}/")
    assert result.returncode == 0, result
    conf_path = client.config_dir / "renewal" / f"{name}.conf"
    assert f"ca_allow_origin = {second}," in conf_path.read_text()  # normalised
    renewed = client.run("renew", *RENEW, "--force-renewal", register=False)
    assert renewed.returncode == 0, renewed
    assert len(list((client.config_dir / "archive" / name).glob("cert*.pem"))) == 2
    assert f"ca_allow_origin = {second}," in conf_path.read_text()  # kept by the renewal
    stranger = make_client(ca, client.root / "stranger")
    refused = obtain(stranger, unique_name("split"))
    assert refused.returncode == 10, refused
    assert f"The CA pointed the certificate URL at {second}/cert/" in refused.stderr


@pytest.mark.parametrize(
    "value", ["http://ca.example", "https://ca.example/acme", "ca.example", "https://u@ca.example"]
)
def test_invalid_allowed_origin_is_a_usage_error(client: Client, value: str) -> None:
    result = obtain(client, unique_name("bad"), "--ca-allow-origin", value)
    assert result.returncode == 2, result
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "--ca-allow-origin" in errors[0], result
    assert state(client) == NOTHING
