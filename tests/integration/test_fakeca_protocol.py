"""RFC 8555 / RFC 9773 parts the CLI does not drive, against the fake CA, in-process.

Key change, revocation, ARI, EAB and the JWS rules, exercised with the client's own protocol
classes (the CLI-level fake-CA tests are in test_fakeca.py).
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from acme import jws
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwk import JWKEC

from certbot_like.crypto.certs import ari_cert_id as client_ari_cert_id
from certbot_like.errors import AcmeError
from certbot_like.protocol.ari import fetch_renewal_info
from certbot_like.protocol.client import JOSE, AcmeClient, jws_alg_for
from certbot_like.protocol.http import Transport
from tests.harness.fakeca import FakeCA, ari_cert_id, fake_ca
from tests.integration.conftest import unique_name
from tests.integration.fakeca_support import MakeCA, client_for, fake_cas, obtain_manual


@pytest.fixture
def make_ca(tmp_path: Path) -> Iterator[MakeCA]:
    with fake_cas(tmp_path) as make:
        yield make


@pytest.fixture
def ca(make_ca: MakeCA) -> FakeCA:
    return make_ca()


_OPEN_CLIENTS: list[AcmeClient] = []


@pytest.fixture(autouse=True)
def _close_acme_clients() -> Iterator[None]:
    """The in-process clients' kept-alive connections are closed after each test."""
    yield
    while _OPEN_CLIENTS:
        _OPEN_CLIENTS.pop().transport.close()


def acme_client(ca: FakeCA, key: ec.EllipticCurvePrivateKey | None = None) -> AcmeClient:
    client = AcmeClient(Transport(ca_bundle=ca.ca_bundle, timeout=10), ca.directory_url)
    _OPEN_CLIENTS.append(client)
    client.set_account(JWKEC(key=key or ec.generate_private_key(ec.SECP256R1())), None)
    return client


def registered(ca: FakeCA) -> AcmeClient:
    client = acme_client(ca)
    client.new_account([], tos_agreed=True)
    return client


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def issue(
    client: AcmeClient, *names: str, **extra: Any
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Run one order through by hand (the CA must be ``auto_valid``)."""
    payload = {"identifiers": [{"type": "dns", "value": n} for n in names], **extra}
    resp = client.post(client.directory.new_order, payload, what="order")
    order_url, order = str(resp.header("Location")), resp.json_object()
    for url in order["authorizations"]:
        authz = client.post_as_get(url, what="authz").json_object()
        chall = next(c for c in authz["challenges"] if c["type"] == "http-01")
        client.post(chall["url"], {}, what="challenge")
    assert client.post_as_get(order_url, what="poll").json_object()["status"] == "ready"
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    der = csr.public_bytes(serialization.Encoding.DER)
    assert client.post(order["finalize"], {"csr": b64(der)}, what="finalize").status == 200
    order = client.post_as_get(order_url, what="poll").json_object()
    pem = client.post_as_get(order["certificate"], what="download").body
    return x509.load_pem_x509_certificates(pem)[0], key


def problem_of(call: Callable[[], object]) -> str | None:
    with pytest.raises(AcmeError) as info:
        call()
    return info.value.problem_type


def test_accounts_lookup_update_and_deactivation(ca: FakeCA) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    assert problem_of(lambda: acme_client(ca, key).new_account([], True, only_existing=True)) == (
        "accountDoesNotExist"
    )
    client = acme_client(ca, key)
    url, body = client.new_account(["mailto:a@example.com"], tos_agreed=True)
    assert body["status"] == "valid" and body["contact"] == ["mailto:a@example.com"]
    again = acme_client(ca, key)
    assert again.new_account([], True, only_existing=True)[0] == url
    assert client.update_account({"contact": ["mailto:b@example.com"]}, "update")["contact"] == [
        "mailto:b@example.com"
    ]
    assert problem_of(lambda: client.update_account({"contact": ["tel:1"]}, "bad")) == (
        "unsupportedContact"
    )
    assert client.update_account({"status": "deactivated"}, "bye")["status"] == "deactivated"
    assert problem_of(lambda: client.update_account({}, "after")) == "unauthorized"
    assert problem_of(lambda: acme_client(ca).new_account([], tos_agreed=False)) == "malformed"


def test_key_change_retires_the_old_key(ca: FakeCA) -> None:
    client = registered(ca)
    old_key = client.key
    new_key = JWKEC(key=ec.generate_private_key(ec.SECP384R1()))
    url = str(client.directory.key_change)
    inner_payload = {"account": client.kid, "oldKey": old_key.public_key().to_partial_json()}
    inner = jws.JWS.sign(
        json.dumps(inner_payload).encode(),
        key=new_key,
        alg=jws_alg_for(new_key),
        nonce=None,
        url=url,
    )
    client.post(url, json.loads(inner.json_dumps()), what="key change")
    assert problem_of(lambda: client.update_account({}, "old key")) == "unauthorized"
    client.set_account(new_key, client.kid)
    assert client.update_account({}, "new key")["status"] == "valid"
    stale = acme_client(ca)
    stale.set_account(old_key, None)
    assert problem_of(lambda: stale.new_account([], True)) == "unauthorized"


def test_revocation_by_account_and_by_certificate_key(ca: FakeCA) -> None:
    client = registered(ca)
    first, _ = issue(client, "rev1.test")
    second, second_key = issue(client, "rev2.test")
    url = str(client.directory.revoke_cert)
    der = first.public_bytes(serialization.Encoding.DER)
    assert problem_of(
        lambda: client.post(url, {"certificate": b64(der), "reason": 2}, what="r")
    ) == ("badRevocationReason")
    client.post(url, {"certificate": b64(der), "reason": 4}, what="revoke")
    assert ca.revoked == {first.serial_number: 4}
    assert problem_of(lambda: client.post(url, {"certificate": b64(der)}, what="again")) == (
        "alreadyRevoked"
    )
    stranger = registered(ca)
    der2 = second.public_bytes(serialization.Encoding.DER)
    assert problem_of(lambda: stranger.post(url, {"certificate": b64(der2)}, what="x")) == (
        "unauthorized"
    )
    by_cert_key = acme_client(ca, second_key)
    by_cert_key.post(url, {"certificate": b64(der2)}, what="revoke", embed_jwk=True)
    assert set(ca.revoked) == {first.serial_number, second.serial_number}


def test_renewal_info_windows_and_retry_after(ca: FakeCA) -> None:
    client = registered(ca)
    cert, _ = issue(client, "ari.test")
    cert_id = ari_cert_id(cert)
    assert cert_id == client_ari_cert_id(cert)
    info = fetch_renewal_info(client, cert_id)
    assert info is not None
    assert cert.not_valid_before_utc < info.start < info.end < cert.not_valid_after_utc
    start = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    ca.ari_window[cert_id] = (start, start + datetime.timedelta(hours=5))
    ca.ari_retry_after, ca.ari_explanation_url = 3600, "https://fakeca.test/why"
    now = datetime.datetime.now(datetime.UTC)
    info = fetch_renewal_info(client, cert_id, now=now)
    assert (
        info is not None and info.start == start and info.explanation == "https://fakeca.test/why"
    )
    assert info.next_check == now + datetime.timedelta(seconds=3600)
    del ca.ari_window[cert_id]
    der = cert.public_bytes(serialization.Encoding.DER)
    client.post(str(client.directory.revoke_cert), {"certificate": b64(der)}, what="revoke")
    info = fetch_renewal_info(client, cert_id)
    assert info is not None and info.end < datetime.datetime.now(datetime.UTC)
    assert ca.renewal_info_fetches == [cert_id] * 3
    assert problem_of(lambda: fetch_renewal_info(client, "AAAA.AAAA")) == "malformed"


def test_replaces_is_recorded_and_checked(ca: FakeCA) -> None:
    client = registered(ca)
    cert, _ = issue(client, "renew.test")
    cert_id = ari_cert_id(cert)
    issue(client, "renew.test", replaces=cert_id, profile="classic")
    assert (ca.orders[-1].replaces, ca.orders[-1].profile) == (cert_id, "classic")
    assert cert_id in ca.replaced
    assert problem_of(lambda: issue(client, "renew.test", replaces=cert_id)) == "alreadyReplaced"
    assert problem_of(lambda: issue(client, "renew.test", profile="nope")) == "invalidProfile"


def test_external_account_binding(make_ca: MakeCA, tmp_path: Path) -> None:
    hmac_key = b64(b"0123456789abcdef0123456789abcdef")
    ca = make_ca(eab_keys={"kid-1": hmac_key})
    assert problem_of(lambda: acme_client(ca).new_account([], True)) == "externalAccountRequired"
    wrong = b64(b"another key, not the right one!!")
    assert problem_of(lambda: acme_client(ca).new_account([], True, ("kid-1", wrong, "HS256"))) == (
        "unauthorized"
    )
    client = client_for(ca, tmp_path / "client")
    name = unique_name("eab")
    result = obtain_manual(client, name, extra=["--eab-kid", "kid-1", "--eab-hmac-key", hmac_key])
    assert result.returncode == 0, result
    assert [a.eab_kid for a in ca.accounts.values()] == ["kid-1"]


def test_jws_rules(ca: FakeCA) -> None:
    client = registered(ca)
    transport = client.transport
    nonce = client._nonce()
    url = ca.url(f"/acct/{next(iter(ca.accounts))}")
    body = client.sign(url, None, nonce)
    headers = {"Content-Type": JOSE}
    assert transport.request("POST", url, body=body, headers=headers).status == 200
    replay = transport.request("POST", url, body=body, headers=headers)
    assert (replay.status, json.loads(replay.body)["type"]) == (
        400,
        "urn:ietf:params:acme:error:badNonce",
    )
    wrong_url = client.sign(url + "x", None, client._nonce())
    assert _problem(transport.request("POST", url, body=wrong_url, headers=headers)) == (
        "unauthorized"
    )
    signed = client.sign(url, None, client._nonce())
    wrong_type = transport.request("POST", url, body=signed, headers={"Content-Type": "text/x"})
    assert wrong_type.status == 415
    garbage = transport.request("POST", url, body=b"{}", headers=headers)
    assert _problem(garbage) == "malformed"
    assert garbage.headers["Content-Type"] == "application/problem+json"
    assert garbage.header("Replay-Nonce")
    with fake_ca(ca.workdir / "other") as other:  # a kid this CA never issued
        foreign = acme_client(other)
        foreign.set_account(client.key, client.kid)
        foreign_body = foreign.sign(other.url("/new-order"), {}, foreign._nonce())
        answer = foreign.transport.request(
            "POST", other.url("/new-order"), body=foreign_body, headers=headers
        )
        assert _problem(answer) == "accountDoesNotExist"


def _problem(resp: Any) -> str:
    return str(json.loads(resp.body)["type"]).rsplit(":", 1)[-1]
