"""The scriptable fake CA (tests/harness/fakeca) against the real client.

First: with no fault set, `certbot-like obtain` cannot tell it from a real CA. Then each
fault is shown to reach the client and to produce the outcome the client promises. Last, the
parts of RFC 8555 / RFC 9773 the CLI does not drive (key change, revocation, ARI, EAB, the
JWS rules) are exercised in-process with the client's own protocol classes, in
test_fakeca_protocol.py.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from certbot_like.crypto.certs import ari_cert_id as client_ari_cert_id
from certbot_like.protocol.http import RateLimiter
from certbot_like.storage.layout import Layout
from tests.harness.fakeca import ENDPOINTS, FakeCA
from tests.harness.fakeca.issuer import ALT_ROOT_CN
from tests.harness.lineages import account_id, make_lineages
from tests.integration.checks import (
    assert_chain_verifies,
    assert_lineage,
    busiest_window,
    load_chain,
)
from tests.integration.conftest import Client, Result, unique_name
from tests.integration.fakeca_support import MakeCA, client_for, fake_cas, obtain_manual


@pytest.fixture
def make_ca(tmp_path: Path) -> Iterator[MakeCA]:
    with fake_cas(tmp_path) as make:
        yield make


@pytest.fixture
def ca(make_ca: MakeCA) -> FakeCA:
    return make_ca()


@pytest.fixture
def client(ca: FakeCA, tmp_path: Path) -> Client:
    return client_for(ca, tmp_path / "client")


def timed(run: Callable[[], Result]) -> tuple[Result, float]:
    start = time.monotonic()
    result = run()
    return result, time.monotonic() - start


def ca_endpoints_except(*names: str) -> set[str]:
    return set(ENDPOINTS) - set(names)


def assert_nothing_stored(client: Client) -> None:
    """No lineage in live/ (certbot's live/README may be there) and nothing archived."""
    for kind in ("live", "archive"):
        where = client.config_dir / kind
        assert not where.exists() or not [p for p in where.iterdir() if p.is_dir()], kind


# -- no fault: indistinguishable from a real CA ----------------------------------------------


def test_standalone_with_real_http01_validation(make_ca: MakeCA, tmp_path: Path) -> None:
    ca = make_ca(auto_valid=False)
    client = client_for(ca, tmp_path / "client")
    a, b = unique_name("www"), unique_name("api")
    result = client.obtain(a, b)
    assert result.returncode == 0, result
    leaf = assert_lineage(client.live(a), {a, b}, ca.root_pem())
    assert {v[:2] for v in ca.validations} == {("http-01", a), ("http-01", b)}
    assert ca.certificates[-1].leaf == leaf
    assert client_ari_cert_id(leaf) == ca.certificates[-1].ari_id
    assert ca.orders[-1].profile is None and ca.orders[-1].replaces is None
    assert ca.count("/new-order") == 1


def test_standalone_with_real_tls_alpn01_validation(make_ca: MakeCA, tmp_path: Path) -> None:
    ca = make_ca(auto_valid=False)
    client = client_for(ca, tmp_path / "client")
    name = unique_name("alpn")
    result = client.obtain(name, extra=["--preferred-challenges", "tls-alpn-01"])
    assert result.returncode == 0, result
    assert_lineage(client.live(name), {name}, ca.root_pem())
    assert [v[0] for v in ca.validations] == ["tls-alpn-01"]


def test_failed_real_validation_reports_the_ca_detail(make_ca: MakeCA, tmp_path: Path) -> None:
    ca = make_ca(auto_valid=False)  # nobody listens on ca.http_port: the hook does nothing
    client = client_for(ca, tmp_path / "client")
    result = obtain_manual(client, unique_name("down"))
    assert result.returncode == 6, result
    assert "connection" in result.stderr and "Connection refused" in result.stderr
    assert ca.orders[-1].status == "invalid"
    assert_nothing_stored(client)


def test_manual_hook_with_auto_valid(ca: FakeCA, client: Client) -> None:
    name = unique_name("manual")
    result = obtain_manual(client, name)
    assert result.returncode == 0, result
    assert_lineage(client.live(name), {name}, ca.root_pem())
    assert ca.orders[-1].status == "valid"


def test_preferred_chain_follows_link_alternate(make_ca: MakeCA, tmp_path: Path) -> None:
    ca = make_ca(alternate_chain=True)
    client = client_for(ca, tmp_path / "client")
    name = unique_name("alt")
    result = obtain_manual(client, name, extra=["--preferred-chain", ALT_ROOT_CN])
    assert result.returncode == 0, result
    assert_chain_verifies(client.live(name) / "fullchain.pem", ca.root_pem(1))
    cert_id = ca.certificates[-1].id
    assert f"POST /cert/{cert_id}/1" in ca.request_lines()


# -- profiles ---------------------------------------------------------------------------------


def test_required_profile_reaches_the_server(ca: FakeCA, client: Client) -> None:
    name = unique_name("short")
    result = obtain_manual(client, name, extra=["--profile", "shortlived"])
    assert result.returncode == 0, result
    assert ca.orders[-1].profile == "shortlived"
    leaf = load_chain(client.live(name) / "cert.pem")[0]
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc < datetime.timedelta(days=7)


def test_unknown_required_profile_fails_before_any_order(ca: FakeCA, client: Client) -> None:
    result = obtain_manual(client, unique_name("nope"), extra=["--profile", "nope"])
    assert result.returncode == 2, result
    assert "nope" in result.stderr and "shortlived" in result.stderr
    assert ca.orders == [] and ca.new_order_payloads == [] and ca.count("/new-order") == 0


def test_unknown_preferred_profile_falls_back_silently(ca: FakeCA, client: Client) -> None:
    name = unique_name("pref")
    result = obtain_manual(client, name, extra=["--preferred-profile", "nope"])
    assert result.returncode == 0, result
    assert ca.orders[-1].profile is None
    assert "nope" not in result.stderr


# -- nonces -----------------------------------------------------------------------------------


def test_half_of_the_nonces_rejected_still_succeeds(ca: FakeCA, client: Client) -> None:
    ca.faults.bad_nonce_rate = 0.5
    result = obtain_manual(client, unique_name("nonce"))
    assert result.returncode == 0, result
    assert ca.nonces_rejected >= 5


def test_every_nonce_rejected_is_a_temporary_failure(ca: FakeCA, client: Client) -> None:
    ca.faults.bad_nonce_rate = 1.0
    result = obtain_manual(client, unique_name("nonce"))
    assert result.returncode == 75, result
    assert "nonces" in result.stderr
    assert ca.nonces_rejected == 16


def test_missing_nonces_fall_back_to_new_nonce(ca: FakeCA, client: Client) -> None:
    ca.faults.set("replay_nonce", "", on=ca_endpoints_except("newNonce"))
    result = obtain_manual(client, unique_name("nononce"))
    assert result.returncode == 0, result
    assert ca.count("/nonce", "HEAD") >= 8


def test_malformed_nonces_are_ignored(ca: FakeCA, client: Client) -> None:
    ca.faults.set("replay_nonce", "not a nonce!", on=ca_endpoints_except("newNonce"))
    result = obtain_manual(client, unique_name("badnonce"))
    assert result.returncode == 0, result
    assert ca.count("/nonce", "HEAD") >= 8


def test_no_nonce_anywhere_is_a_protocol_violation(ca: FakeCA, client: Client) -> None:
    ca.faults.replay_nonce = ""
    result = obtain_manual(client, unique_name("nononce"))
    assert result.returncode == 10, result
    assert "Replay-Nonce" in result.stderr


# -- rate limits and Retry-After --------------------------------------------------------------


def test_rate_limited_new_order_shows_retry_after(ca: FakeCA, client: Client) -> None:
    ca.faults.rate_limited = "3600"
    result = obtain_manual(client, unique_name("limited"))
    assert result.returncode == 75, result
    assert "rateLimited" in result.stderr and "3600 s" in result.stderr
    assert_nothing_stored(client)


def test_rate_limit_for_one_identifier_only(ca: FakeCA, tmp_path: Path) -> None:
    limited, free = unique_name("limited"), unique_name("free")
    ca.faults.rate_limited, ca.faults.rate_limited_identifier = "60", limited
    ok = obtain_manual(client_for(ca, tmp_path / "a"), free)
    assert ok.returncode == 0, ok
    refused = obtain_manual(client_for(ca, tmp_path / "b"), limited)
    assert refused.returncode == 75, refused
    assert "60 s" in refused.stderr
    assert [o.names for o in ca.orders] == [[free]]
    assert [p["identifiers"][0]["value"] for p in ca.new_order_payloads] == [free, limited]


def _http_date(delta: datetime.timedelta) -> str:
    return email.utils.format_datetime(datetime.datetime.now(datetime.UTC) + delta, usegmt=True)


@pytest.mark.parametrize(
    "value",
    ["garbage", "-5", _http_date(datetime.timedelta(hours=-1))],
    ids=["garbage", "negative", "past-date"],
)
def test_unusable_retry_after_on_polls_still_completes_quickly(
    ca: FakeCA, client: Client, value: str
) -> None:
    ca.faults.retry_after, ca.faults.processing_polls = value, 3
    name = unique_name("poll")
    result, elapsed = timed(lambda: obtain_manual(client, name))
    assert result.returncode == 0, result
    assert elapsed < 10
    assert ca.count(f"/order/{ca.orders[-1].id}") >= 5  # validation poll + 4 issuance polls


@pytest.mark.parametrize("form", ["delta-seconds", "http-date"])
def test_sane_retry_after_on_polls_is_honoured(ca: FakeCA, client: Client, form: str) -> None:
    # an HTTP date has whole seconds: "now + 2 s" is 1 to 2 s away when the client reads it
    value = "1" if form == "delta-seconds" else _http_date(datetime.timedelta(seconds=2))
    ca.faults.retry_after, ca.faults.processing_polls = value, 1
    result, elapsed = timed(lambda: obtain_manual(client, unique_name("wait")))
    assert result.returncode == 0, result
    assert 0.9 < elapsed < 10


def test_retry_after_on_the_finalize_answer_is_honoured(ca: FakeCA, client: Client) -> None:
    ca.faults.set("retry_after", "2", on={"finalize"})
    result, elapsed = timed(lambda: obtain_manual(client, unique_name("fin")))
    assert result.returncode == 0, result
    assert elapsed > 2


def test_retry_after_of_a_year_gives_up_at_once(ca: FakeCA, client: Client) -> None:
    ca.faults.retry_after, ca.faults.stuck_processing = "31536000", True
    result, elapsed = timed(lambda: obtain_manual(client, unique_name("year")))
    assert result.returncode == 75, result
    assert elapsed < 10
    assert "in time" in result.stderr
    assert_nothing_stored(client)


# -- --max-requests-per-second across --jobs workers ------------------------------------------

# certbot_like.protocol.http.RateLimiter is a token bucket shared by every worker: RATE
# tokens a second, at most BURST (rate // 2) saved up. Over any one second it lets through
# at most BURST + RATE requests, and the last of N goes (N - BURST) / RATE s after the first.
# The CA sees each request a network delay after the client sent it, and the delays differ
# by a few milliseconds: SLACK allows for one request more in a second at the CA (0.1 s).
RATE, BURST, JOBS, LINEAGES, SLACK = 10, 5, 8, 8, 1


def forced_renewal_times(ca: FakeCA, root: Path, limit: int) -> list[float]:
    """When each request of one ``renew --force-renewal --jobs 8`` of LINEAGES lineages
    reached the CA (a client and lineages of its own under *root*)."""
    client = client_for(ca, root)
    assert client.run("register").returncode == 0
    names = [unique_name("rate") for _ in range(LINEAGES)]
    params = {
        "account": account_id(client.config_dir),
        "server": ca.directory_url,
        "authenticator": "manual",
        "manual_auth_hook": "true",
        "key_type": "ecdsa",
        "ca_bundle": str(ca.ca_bundle),
    }
    make_lineages(Layout(client.config_dir, client.work_dir, client.logs_dir), names, params)
    before = len(ca.request_log())
    result = client.run(
        "renew",
        "--force-renewal",
        "--no-random-sleep-on-renew",
        "--json",
        "--jobs",
        str(JOBS),
        "--max-requests-per-second",
        str(limit),
        register=False,
    )
    assert result.returncode == 0, result
    assert {o["name"] for o in json.loads(result.stdout)["renewed"]} == set(names)
    return [at for at, _ in ca.request_log()[before:]]


def test_max_requests_per_second_holds_across_jobs_workers(ca: FakeCA, tmp_path: Path) -> None:
    assert RateLimiter(RATE).capacity == BURST, "the bucket's burst is not what this test says"
    free = forced_renewal_times(ca, tmp_path / "free", 0)
    limited = forced_renewal_times(ca, tmp_path / "limited", RATE)
    span = limited[-1] - limited[0]
    measured = (
        f"busiest second at the CA: {busiest_window(free)} requests without the limit, "
        f"{busiest_window(limited)} with it; {len(limited)} requests in {span:.2f} s"
    )
    assert len(free) >= 7 * LINEAGES and len(limited) >= 7 * LINEAGES, measured
    # without the limit the same run goes far past it, so the check below can fail
    assert busiest_window(free) > BURST + RATE + SLACK, measured
    # with it, no second of requests at the CA holds more than the bucket lets through
    assert busiest_window(limited) <= BURST + RATE + SLACK, measured
    assert span >= (len(limited) - BURST - SLACK) / RATE, measured
    # and the limit, not a slow client, is what paced the run
    assert busiest_window(limited) >= RATE, measured


# -- the CA sends something wrong -------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    ["../../etc/passwd", "a/b", "x#y", "$(touch {pwned})", "tok\nen", "abcdefghij"],
    ids=["traversal", "slash", "hash", "shell", "newline", "short"],
)
def test_hostile_tokens_are_refused_before_anything_is_done(
    ca: FakeCA, client: Client, tmp_path: Path, token: str
) -> None:
    pwned = tmp_path / "pwned"
    ca.faults.token = token.format(pwned=pwned)
    hook = f"touch {tmp_path / 'hook-ran'}"
    result = client.obtain(
        unique_name("tok"), extra=["--manual", "--manual-auth-hook", hook], standalone=False
    )
    assert result.returncode == 10, result
    assert "token" in result.stderr
    assert not pwned.exists() and not (tmp_path / "hook-ran").exists()
    assert ca.validations == []


def test_authorization_for_an_unrequested_name_is_refused(ca: FakeCA, client: Client) -> None:
    ca.faults.foreign_identifier = "evil.test"
    result = obtain_manual(client, unique_name("mine"))
    assert result.returncode == 10, result
    assert "evil.test" in result.stderr
    assert ca.validations == []


@pytest.mark.parametrize(
    ("fault", "value", "words"),
    [
        ("cert_wrong_key", True, "public key"),
        ("cert_names", ("other.test",), "names differ"),
        ("cert_expired", True, "expired"),
        ("chain_private_key", True, "private key block"),
    ],
)
def test_bad_certificates_are_not_stored(
    ca: FakeCA, client: Client, fault: str, value: object, words: str
) -> None:
    ca.faults.set(fault, value)
    result = obtain_manual(client, unique_name("cert"))
    assert result.returncode == 10, result
    assert words in result.stderr
    assert_nothing_stored(client)


@pytest.mark.parametrize("where", ["newOrder", "finalize", "challenge", "certificate"])
def test_plain_http_urls_are_refused(ca: FakeCA, client: Client, where: str) -> None:
    ca.faults.http_urls = frozenset({where})
    result = obtain_manual(client, unique_name("http"))
    assert result.returncode == 10, result
    assert "non-HTTPS" in result.stderr
    assert_nothing_stored(client)


@pytest.mark.parametrize("unframed", [False, True], ids=["content-length", "unframed"])
def test_oversized_answers_are_refused(ca: FakeCA, client: Client, unframed: bool) -> None:
    ca.faults.set("oversized", True, on={"newOrder"})
    ca.faults.oversized_unframed = unframed
    result = obtain_manual(client, unique_name("big"))
    assert result.returncode == 10, result
    assert "bytes" in result.stderr


def test_stalled_endpoint_hits_the_http_timeout(ca: FakeCA, client: Client) -> None:
    ca.faults.set("stall", 20.0, on={"newOrder"})
    extra = ["--http-timeout", "1"]
    result, elapsed = timed(lambda: obtain_manual(client, unique_name("stall"), extra=extra))
    assert result.returncode == 75, result
    assert "did not answer within 1 s" in result.stderr
    assert elapsed < 8


def test_stall_once_is_survived_by_a_patient_client(ca: FakeCA, client: Client) -> None:
    ca.faults.set("stall", 1.0, on={"finalize"}, times=1)
    result, elapsed = timed(lambda: obtain_manual(client, unique_name("slow")))
    assert result.returncode == 0, result
    assert elapsed >= 1.0
    assert ca.faults.stall is None  # used up


# -- protocol features the CLI does not drive, in-process -------------------------------------
