"""Pure logic of monitoring: thresholds, state compatibility, failure signatures, CAA rules,
ping URLs, and the notification plan on a MemoryStore."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from certbot_like.services.doctor_net import caa_allows, parse_resolver
from certbot_like.services.due import Outcome, RenewReport
from certbot_like.services.health import (
    CRITICAL,
    OK,
    WARNING,
    HealthReport,
    LineageHealth,
    Thresholds,
    expiry_status,
)
from certbot_like.services.notify import (
    NotifySettings,
    describe_url,
    plan,
    register_url_secrets,
    send_all,
    signature,
)
from certbot_like.services.ping import ping_url
from certbot_like.storage.renewal_state import (
    FIELD_ORDER,
    STATE_VERSION,
    LineageState,
    RenewalState,
    state_path,
)

DAY = 86400.0


def judged(lifetime_days: float, left_days: float, limits: Thresholds | None = None) -> int:
    window = lifetime_days * DAY / (2 if lifetime_days < 10 else 3)
    return expiry_status(left_days * DAY, window, limits or Thresholds())


@pytest.mark.parametrize(
    ("lifetime", "left", "status"),
    [
        (90, 20, OK),
        (90, 14, WARNING),  # under half of the 30-day window
        (90, 5, CRITICAL),  # under a fifth
        (6, 1.6, OK),  # a 6-day certificate's window is its last 3 days (half)
        (6, 1.4, WARNING),  # under 36 hours
        (6, 0.5, CRITICAL),  # under 14.4 hours
    ],
)
def test_thresholds_scale_with_the_lifetime(lifetime: float, left: float, status: int) -> None:
    assert judged(lifetime, left) == status


def test_absolute_thresholds() -> None:
    assert judged(90, 20, Thresholds(warning_days=21)) == WARNING
    assert judged(90, 20, Thresholds(warning_days=30, critical_days=25)) == CRITICAL


def test_a_missing_lineage_or_none_at_all_is_unknown_unless_something_is_critical() -> None:
    assert HealthReport([]).status == 3
    assert HealthReport([LineageHealth("a")], missing=["b"]).status == 3
    assert HealthReport([LineageHealth("a", status=CRITICAL)], missing=["b"]).status == CRITICAL


def test_an_older_state_file_loads_with_the_new_fields_unset(tmp_path: Path) -> None:
    old_fields = [f for f in FIELD_ORDER if f not in {"last_success", "failures", "health",
                  "health_token", "notified_error", "notified_at"}]  # fmt: skip
    row = [None] * len(old_fields)
    row[old_fields.index("last_outcome")] = "failed"
    path = state_path(tmp_path)
    path.parent.mkdir(parents=True)
    doc = {"version": STATE_VERSION, "fields": old_fields, "lineages": {"a": row}, "servers": {}}
    path.write_text(json.dumps(doc))
    state = RenewalState.load(tmp_path)
    assert state.lineages["a"].last_outcome == "failed"
    assert state.lineages["a"].failures == 0 and state.last_run is None
    state.lineages["a"].failures = 3
    state.dirty = True
    state.save(tmp_path)
    assert RenewalState.load(tmp_path).lineages["a"].failures == 3


def test_a_bad_failure_count_drops_the_row_for_a_rescan(tmp_path: Path) -> None:
    path = state_path(tmp_path)
    path.parent.mkdir(parents=True)
    row = [None] * len(FIELD_ORDER)
    row[FIELD_ORDER.index("failures")] = "many"
    doc = {"version": STATE_VERSION, "fields": list(FIELD_ORDER), "lineages": {"a": row}}
    path.write_text(json.dumps({**doc, "servers": {}}))
    state = RenewalState.load(tmp_path)
    assert "a" not in state.lineages and state.dirty


def test_a_failure_keeps_its_identity_across_attempts() -> None:
    one = "Invalid response from http://a.test/.well-known/acme-challenge/abcdefghijklmnopqrstuvwx"
    two = "Invalid response from http://a.test/.well-known/acme-challenge/zyxwvutsrqponmlkjihgfedc"
    assert signature(one) == signature(two)
    assert signature("Connection refused") != signature("DNS problem: NXDOMAIN")


@pytest.mark.parametrize(
    ("records", "wildcard", "allowed"),
    [
        ([], False, True),
        ([(0, "iodef", "mailto:sec@a.test")], False, True),
        ([(0, "issue", "pebble.test")], False, True),
        ([(0, "issue", "pebble.test; accounturi=https://x/1")], False, True),
        ([(0, "issue", "otherca.test")], False, False),
        ([(0, "issue", ";")], False, False),
        ([(0, "issue", "pebble.test"), (0, "issuewild", ";")], True, False),
        ([(0, "issuewild", "pebble.test")], True, True),
        ([(0, "issuewild", "pebble.test")], False, True),  # issuewild says nothing of others
        ([(128, "future", "x")], False, False),  # an unknown critical property forbids
    ],
)
def test_caa_rules(records: list[tuple[int, str, str]], wildcard: bool, allowed: bool) -> None:
    assert caa_allows(records, {"pebble.test"}, wildcard) is allowed


def test_ping_urls_follow_the_healthchecks_convention() -> None:
    base = "https://hc-ping.com/5b1c"
    assert ping_url(base, "success") == base
    assert ping_url(base, "start") == base + "/start"
    assert ping_url(base + "/?rid=1", "fail") == base + "/fail?rid=1"


def test_resolver_addresses() -> None:
    assert parse_resolver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_resolver("::1") == ("::1", 53)
    with pytest.raises(ValueError):
        parse_resolver("dns.example")


def test_url_secrets_never_reach_the_log_or_a_warning() -> None:
    from certbot_like.logs import scrub

    url = "slack://TokenA1234/TokenB5678/TokenC9012abcdef"
    register_url_secrets([url])
    assert "TokenB5678" not in scrub(f"posting to {url} part TokenB5678")
    assert describe_url(url, 2) == "notify URL #2 (slack://...)"
    warnings = send_all_failing([url])
    assert warnings and "Token" not in warnings[0]


def send_all_failing(urls: list[str]) -> list[str]:
    from certbot_like.services.notify import Message

    return send_all([Message(urls, "t", "b")], urls, send=lambda *_: False)


def test_one_message_per_url_dedup_and_recovery_on_a_memory_store() -> None:
    from certbot_like.storage.memory_store import MemoryStore

    store = MemoryStore()
    state = RenewalState()
    state.lineages["a.test"] = LineageState(names=["a.test"])
    settings = NotifySettings(urls=("json://h/1", "json://h/2"), repeat=3600)
    failed = RenewReport([Outcome("a.test", "failed", ["a.test"], "Connection refused", 6)])
    health = HealthReport([LineageHealth("a.test")])
    first = plan(store, failed, health, state, settings, 1000.0)
    assert len(first) == 1 and first[0].urls == ["json://h/1", "json://h/2"]
    assert "Renewal failed:" in first[0].body and "Connection refused" in first[0].body
    assert plan(store, failed, health, state, settings, 2000.0) == []  # within the hour
    assert len(plan(store, failed, health, state, settings, 5000.0)) == 1  # an hour later
    renewed = RenewReport([Outcome("a.test", "renewed", ["a.test"], None, 0, 9e9)])
    (recovery,) = plan(store, renewed, health, state, settings, 6000.0)
    assert "Recovered:" in recovery.body
    assert plan(store, renewed, health, state, settings, 7000.0) == []
    change = NotifySettings(urls=("json://h/1",), on="change")
    (news,) = plan(store, renewed, health, state, change, 8000.0)
    assert "Renewed:" in news.body
    always = NotifySettings(urls=("json://h/1",), on="always")
    quiet = RenewReport([Outcome("a.test", "not-due", ["a.test"])])
    (every,) = plan(store, quiet, health, state, always, 9000.0)
    assert "nothing to renew" in every.title
