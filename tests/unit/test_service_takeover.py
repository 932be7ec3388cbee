"""The services behind certbot's flags, against the in-memory CA and store: a revocation
that keeps the lineage, --no-autorenew, --duplicate (what `certificates` and `renew` then
decide)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from certbot_like.services.due import decide
from certbot_like.services.lineages import inspect
from certbot_like.services.obtain import obtain
from certbot_like.services.revoke import RevokeRequest, revoke_certificate
from certbot_like.services.scan import scan
from tests.unit.service_env import ServiceEnv, make_env


@pytest.fixture
def env(tmp_path: Path) -> ServiceEnv:
    return make_env(tmp_path)


def verdict(env: ServiceEnv, name: str, force: bool = False) -> str:
    state = env.store.load_state()
    entry = next(e for e in scan(env.store, state) if e.name == name)
    return decide(entry, state, time.time(), force)[0]


def test_a_kept_revoked_lineage_is_listed_revoked_and_due(env: ServiceEnv) -> None:
    env.obtain("a.test")
    env.obtain("b.test")
    assert verdict(env, "a.test") != "due"  # not due, or ARI to be asked first
    revoke_certificate(env.run, RevokeRequest(cert_name="a.test", delete_after=False), env.display)
    assert inspect(env.store, "a.test").problems == ["REVOKED"]
    assert inspect(env.store, "b.test").problems == []
    assert verdict(env, "a.test") == "due"
    assert verdict(env, "b.test") != "due"

    renewed = obtain(env.run, env.request("a.test"), env.display, env.hooks)
    assert renewed.action == "renewed"  # a revoked certificate is not kept
    assert inspect(env.store, "a.test").problems == []
    assert verdict(env, "a.test") != "due"  # not due, or ARI to be asked first


def test_no_autorenew_is_stored_and_only_forcing_renews(env: ServiceEnv) -> None:
    request = env.request("a.test", autorenew=False)
    obtain(env.run, request, env.display, env.hooks)
    assert env.store.read_lineage("a.test").params.autorenew is False
    assert verdict(env, "a.test") == "off"
    assert verdict(env, "a.test", force=True) == "due"


def test_duplicate_makes_a_new_lineage_with_the_same_names(env: ServiceEnv) -> None:
    env.obtain("a.test")
    again = obtain(env.run, env.request("a.test", duplicate=True), env.display, env.hooks)
    assert (again.action, again.lineage) == ("issued", "a.test-0001")
    assert env.store.lineage_names() == ["a.test", "a.test-0001"]
