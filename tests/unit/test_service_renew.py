"""``renew`` as a service against an in-memory CA and store: due and not due, ARI and
``replaces``, alreadyReplaced, rate limits and deferral, hooks once per run, one failing
lineage beside good ones (milliseconds each; ``tests/integration/test_renew*.py`` runs the
same against Pebble)."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import pytest

from certbot_like.errors import AcmeError, ValidationFailed
from certbot_like.services.due import RenewOptions, RenewReport
from certbot_like.services.renew import renew_all
from certbot_like.settings import HookSettings
from tests.unit.service_env import ServiceEnv, make_env

NOW = datetime.datetime.now(datetime.UTC)
PAST_WINDOW = (NOW - datetime.timedelta(hours=2), NOW - datetime.timedelta(hours=1))
OPTS = RenewOptions(jobs=3)


@pytest.fixture
def env(tmp_path: Path) -> ServiceEnv:
    return make_env(tmp_path)


def _renew(env: ServiceEnv, opts: RenewOptions = OPTS, **run: object) -> RenewReport:
    return renew_all(env.with_run(**run), opts, env.display, env.hooks)


def _statuses(report: RenewReport) -> dict[str, str]:
    return {o.name: o.status for o in report.outcomes}


def _cert_id(env: ServiceEnv, name: str) -> str:
    ids = [o.cert_id for o in env.ca.orders if o.names[0] == name]
    assert ids[-1] is not None
    return ids[-1]


def _make_due(env: ServiceEnv, *names: str) -> None:
    """The CA's renewal window for these lineages' certificates is already over."""
    for name in names:
        env.ca.windows[_cert_id(env, name)] = PAST_WINDOW


def test_only_the_lineage_the_ca_says_is_due_is_renewed_and_replaces_its_predecessor(
    env: ServiceEnv,
) -> None:
    env.obtain("a.test")
    env.obtain("b.test")
    old = _cert_id(env, "a.test")
    _make_due(env, "a.test")
    report = _renew(env)
    assert _statuses(report) == {"a.test": "renewed", "b.test": "not-due"}
    assert report.exit_code() == 0
    assert env.ca.orders[-1].names == ("a.test",) and env.ca.orders[-1].replaces == old
    assert env.store.read_lineage("a.test").version == 2
    assert env.store.read_lineage("b.test").version == 1
    asked = env.ca.ari_queries
    assert _statuses(_renew(env)) == {"a.test": "not-due", "b.test": "not-due"}
    assert env.ca.ari_queries == asked + 1  # only about a.test's new certificate
    assert _statuses(_renew(env)) == {"a.test": "not-due", "b.test": "not-due"}
    assert env.ca.ari_queries == asked + 1, "ARI was asked again before its next check time"
    assert len(env.ca.orders) == 3


def test_an_already_replaced_certificate_is_still_renewed(env: ServiceEnv) -> None:
    env.obtain("a.test")
    _make_due(env, "a.test")
    env.ca.replaced.add(_cert_id(env, "a.test"))  # another client replaced it already
    assert _statuses(_renew(env)) == {"a.test": "renewed"}
    assert env.ca.orders[-1].replaces is None


def test_a_rate_limited_lineage_fails_then_is_deferred_without_asking_the_ca(
    env: ServiceEnv,
) -> None:
    env.obtain("a.test")
    _make_due(env, "a.test")
    env.ca.fail_names["a.test"] = AcmeError(
        "Rate limited: too many certificates", problem_type="rateLimited", retry_after=3600
    )
    first = _renew(env)
    assert _statuses(first) == {"a.test": "failed"} and first.exit_code() == AcmeError.exit_code
    connections = env.ca.connections
    second = _renew(env)
    assert _statuses(second) == {"a.test": "deferred"}
    assert "Rate limited" in (second.outcomes[0].reason or "")
    assert env.ca.connections == connections, "a deferred lineage reached the CA"
    assert env.store.read_lineage("a.test").version == 1


def test_pre_and_post_hooks_run_once_per_run_and_deploy_hooks_once_per_lineage(
    env: ServiceEnv,
) -> None:
    hooks = HookSettings(pre_hook="stop-web", post_hook="start-web", deploy_hook="reload")
    names = ("a.test", "b.test", "c.test")
    for name in names:
        env.obtain(name, hooks=hooks)
    _make_due(env, *names)
    env.hooks.calls.clear()
    report = _renew(env)
    assert set(_statuses(report).values()) == {"renewed"}
    whats = env.hooks.whats()
    assert whats[0] == "pre-hook" and whats[-1] == "post-hook"
    assert whats.count("pre-hook") == 1 and whats.count("post-hook") == 1
    assert whats.count("deploy-hook") == 3
    post_env = env.hooks.calls[-1][2]
    assert sorted(post_env["RENEWED_DOMAINS"].split()) == list(names)
    deployed = sorted(e["RENEWED_DOMAINS"] for w, _, e in env.hooks.calls if w == "deploy-hook")
    assert deployed == list(names)


def test_a_failing_lineage_does_not_stop_the_others(env: ServiceEnv) -> None:
    for name in ("a.test", "b.test", "c.test"):
        env.obtain(name)
    _make_due(env, "a.test", "b.test", "c.test")
    env.ca.fail_names["b.test"] = ValidationFailed(
        "The CA could not validate b.test: 404", "Check that the webroot is served"
    )
    report = _renew(env)
    assert _statuses(report) == {"a.test": "renewed", "b.test": "failed", "c.test": "renewed"}
    assert report.exit_code() == ValidationFailed.exit_code
    assert "b.test: 404" in (report.by_status("failed")[0].reason or "")
    assert env.store.read_lineage("b.test").version == 1


def test_a_failing_pre_hook_is_reported_and_the_lineage_still_renewed(env: ServiceEnv) -> None:
    env.obtain("a.test")
    params = env.store.read_lineage("a.test").params
    env.store.write_params("a.test", params.merged({"pre_hook": "fail-pre"}))
    _make_due(env, "a.test")
    orders = len(env.ca.orders)
    report = _renew(env)
    assert _statuses(report) == {"a.test": "renewed"} and len(env.ca.orders) == orders + 1
    assert report.exit_code() == 0  # certbot 5.8: a hook failure is a warning
    assert env.hooks.whats() == ["pre-hook"]


def test_without_ari_the_lifetime_rule_decides_and_no_replaces_is_sent(tmp_path: Path) -> None:
    env = make_env(tmp_path, ari=False)
    env.obtain("a.test")
    assert _statuses(_renew(env)) == {"a.test": "not-due"}
    forced = dataclasses.replace(OPTS, overrides=dataclasses.replace(OPTS.overrides, force=True))
    assert _statuses(_renew(env, forced)) == {"a.test": "renewed"}
    assert env.ca.orders[-1].replaces is None and env.ca.ari_queries == 0


def test_a_dry_run_rehearses_every_lineage_and_stores_nothing(env: ServiceEnv) -> None:
    env.obtain("a.test", hooks=HookSettings(deploy_hook="reload"))
    env.obtain("b.test")
    env.hooks.calls.clear()
    report = _renew(env, dry_run=True)
    assert _statuses(report) == {"a.test": "dry-run", "b.test": "dry-run"}
    assert len(env.ca.orders) == 4 and all(o.replaces is None for o in env.ca.orders[2:])
    assert env.store.read_lineage("a.test").version == 1
    assert "deploy-hook" not in env.hooks.whats()


def test_a_renewed_lineages_facts_are_kept_from_the_run_not_parsed_again(
    env: ServiceEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state saved after a renewal already holds the new certificate's facts and change
    token, exactly as a fresh parse gives them: the scan at the end of the run (monitoring)
    and the next run parse nothing."""
    from certbot_like.services.health import evaluate
    from certbot_like.services.scan import scan

    env.obtain("a.test")
    env.obtain("b.test")
    _make_due(env, "a.test")
    assert _statuses(_renew(env)) == {"a.test": "renewed", "b.test": "not-due"}
    parsed: list[str] = []
    real = env.store.lineage_facts

    def counting(name: str) -> object:
        parsed.append(name)
        return real(name)

    monkeypatch.setattr(env.store, "lineage_facts", counting)
    state = env.store.load_state()
    st = state.lineages["a.test"]
    fresh = real("a.test")
    assert (st.names, st.serial, st.cert_id, st.not_after) == (
        fresh.names,
        fresh.serial,
        fresh.cert_id,
        fresh.not_after.timestamp(),
    )
    assert st.token == env.store.change_token("a.test", st.hint)
    assert not any(e.refreshed for e in scan(env.store, state))
    evaluate(env.store)
    assert parsed == []
