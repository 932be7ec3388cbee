"""`renew` with ACME Renewal Information (RFC 9773), `replaces`, and rate limits.

Pebble 2.4 has neither ARI nor `replaces` nor Retry-After, so these run against the
in-test CA of tests/harness/fakeca, which implements the renewalInfo resource, the
`replaces` field with `alreadyReplaced`, and `rateLimited` with Retry-After faithfully
(RFC 9773 sections 4.1-4.3, RFC 8555 section 6.6).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from certbot_like.crypto.certs import ari_cert_id
from certbot_like.storage.renewal_state import RenewalState
from tests.harness.fakeca import FakeCA, fake_ca
from tests.integration.conftest import Client, unique_name

RENEW = ("--no-random-sleep-on-renew", "--json")


@pytest.fixture
def ca(tmp_path: Path) -> Iterator[FakeCA]:
    with fake_ca(tmp_path / "ca") as server:
        yield server
        assert not server.errors


def obtain(client: Client, name: str) -> str:
    """Obtain through the manual plugin (the fake CA validates automatically); the cert id."""
    result = client.run("obtain", "-d", name, "--manual", "--manual-auth-hook", "true")
    assert result.returncode == 0, result
    cert = x509.load_pem_x509_certificate((client.live(name) / "cert.pem").read_bytes())
    cert_id = ari_cert_id(cert)
    assert cert_id is not None
    return cert_id


def renew(client: Client, *args: str) -> tuple[int, dict[str, Any]]:
    result = client.run("renew", *RENEW, *args, register=False)
    assert result.stdout, result
    return result.returncode, json.loads(result.stdout)


def by_name(doc: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in doc[key]}


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def test_ari_window_in_the_future_is_not_due_and_is_not_asked_again(
    ca: FakeCA, tmp_path: Path
) -> None:
    client = Client(ca, tmp_path)
    name = unique_name("ari")
    cert_id = obtain(client, name)
    start, end = now() + datetime.timedelta(days=10), now() + datetime.timedelta(days=11)
    ca.ari_window[cert_id] = (start, end)
    ca.ari_retry_after = 21600
    code, doc = renew(client)
    assert code == 0
    item = by_name(doc, "not_due")[name]
    assert item["via_ari"] is True
    chosen = datetime.datetime.fromisoformat(item["renew_at"])
    assert start <= chosen <= end, "a moment inside the suggested window"
    assert ca.renewal_info_fetches.count(cert_id) == 1
    requests_before = len(ca.request_lines())
    code, doc = renew(client)
    assert code == 0 and name in by_name(doc, "not_due")
    assert len(ca.request_lines()) == requests_before, "the stored next check is honoured"


def test_ari_window_in_the_past_renews_now_with_replaces(ca: FakeCA, tmp_path: Path) -> None:
    client = Client(ca, tmp_path)
    name = unique_name("ari")
    cert_id = obtain(client, name)
    ca.ari_window[cert_id] = (
        now() - datetime.timedelta(days=2),
        now() - datetime.timedelta(days=1),
    )
    code, doc = renew(client)
    assert code == 0, doc
    assert name in by_name(doc, "renewed")
    assert ca.orders[-1].replaces == cert_id
    assert cert_id in ca.replaced


def test_already_replaced_is_retried_without_replaces(ca: FakeCA, tmp_path: Path) -> None:
    client = Client(ca, tmp_path)
    name = unique_name("ari")
    cert_id = obtain(client, name)
    ca.ari_window[cert_id] = (
        now() - datetime.timedelta(days=2),
        now() - datetime.timedelta(days=1),
    )
    ca.replaced.add(cert_id)  # e.g. another host already renewed it
    code, doc = renew(client)
    assert code == 0, doc
    assert name in by_name(doc, "renewed")
    refused, accepted = ca.new_order_payloads[-2:]
    assert refused.get("replaces") == cert_id and "replaces" not in accepted


def test_without_ari_the_lifetime_rule_decides(tmp_path: Path) -> None:
    with fake_ca(tmp_path / "ca", ari=False) as server:
        client = Client(server, tmp_path)
        name = unique_name("noari")
        obtain(client, name)
        code, doc = renew(client)
        assert code == 0
        assert by_name(doc, "not_due")[name]["via_ari"] is False
        assert server.renewal_info_fetches == []


def test_rate_limit_on_one_lineage_defers_it_and_the_others_carry_on(
    ca: FakeCA, tmp_path: Path
) -> None:
    client = Client(ca, tmp_path)
    limited, fine_a, fine_b = unique_name("rl"), unique_name("ok"), unique_name("ok")
    for name in (limited, fine_a, fine_b):
        obtain(client, name)
    ca.faults.rate_limited = "7200"
    ca.faults.rate_limited_identifier = limited
    code, doc = renew(client, "--force-renewal")
    assert code == 75, "a temporary failure"
    assert set(by_name(doc, "renewed")) == {fine_a, fine_b}
    failure = by_name(doc, "failed")[limited]
    assert "rateLimited" in failure["reason"] and "7200" in failure["reason"]
    retry = RenewalState.load(client.work_dir).lineages[limited].retry_not_before
    assert retry > now().timestamp() + 7000
    orders_before = ca.count("/new-order")
    code, doc = renew(client)
    assert code == 0
    assert limited in by_name(doc, "deferred")
    assert ca.count("/new-order") == orders_before, "no request for a deferred lineage"
