"""``obtain``, ``reconfigure``, ``revoke`` and ``account rollover`` as services, against an
in-memory CA and store (milliseconds each); the same paths run against Pebble in
``tests/integration``."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from certbot_like.crypto.keys import load_private_key, public_der
from certbot_like.errors import AcmeError, ValidationFailed
from certbot_like.interfaces import PluginContext
from certbot_like.services.accounts import load_session
from certbot_like.services.obtain import obtain
from certbot_like.services.reconfigure import reconfigure
from certbot_like.services.renew_request import RenewOverrides
from certbot_like.services.revoke import RevokeRequest, revoke_certificate
from certbot_like.services.rollover import rollover
from certbot_like.settings import HookSettings
from certbot_like.storage.renewal_params import RenewalParams
from tests.unit.memory_ca import SERVER
from tests.unit.service_env import ServiceEnv, make_env

HOOKS = HookSettings(pre_hook="pre", post_hook="post", deploy_hook="deploy")


@pytest.fixture
def env(tmp_path: Path) -> ServiceEnv:
    return make_env(tmp_path)


def _leaf(env: ServiceEnv, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(env.store.read_files(name).cert)


def test_obtain_stores_a_certificate_for_the_names_with_its_key(env: ServiceEnv) -> None:
    result = obtain(
        env.run, env.request("a.test", "www.a.test", hooks=HOOKS), env.display, env.hooks
    )
    assert result.action == "issued" and result.lineage == "a.test"
    files = env.store.read_files("a.test")
    leaf = _leaf(env, "a.test")
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == ["a.test", "www.a.test"]
    assert public_der(load_private_key(files.privkey, "key")) == public_der(leaf)
    params = env.store.read_lineage("a.test").params
    assert params.authenticator == "webroot" and params.server == SERVER
    assert params.account in env.store.account_ids(SERVER)
    assert env.hooks.whats() == ["pre-hook", "deploy-hook", "post-hook"]
    deploy_env = env.hooks.calls[1][2]
    assert deploy_env["RENEWED_DOMAINS"] == "a.test www.a.test"
    assert [o.names for o in env.ca.orders] == [("a.test", "www.a.test")]
    assert not list(env.webroot.rglob("*.*")), "the challenge files were not cleaned up"


def test_a_second_obtain_keeps_a_certificate_that_is_not_due(env: ServiceEnv) -> None:
    env.obtain("a.test")
    again = obtain(env.run, env.request("a.test"), env.display, env.hooks)
    assert again.action == "kept" and len(env.ca.orders) == 1
    assert env.store.read_lineage("a.test").version == 1


def test_forced_renewal_adds_a_version_with_a_new_key(env: ServiceEnv) -> None:
    env.obtain("a.test")
    first = env.store.read_files("a.test").privkey
    result = obtain(env.run, env.request("a.test", force_renewal=True), env.display, env.hooks)
    assert result.action == "renewed" and env.store.read_lineage("a.test").version == 2
    assert env.store.read_files("a.test").privkey != first


def test_failed_validation_stores_nothing_and_still_runs_the_post_hook(
    env: ServiceEnv, tmp_path: Path
) -> None:
    env.ca.webroot = tmp_path / "elsewhere"  # the CA reads another docroot: 404
    with pytest.raises(ValidationFailed, match=r"a\.test"):
        obtain(env.run, env.request("a.test", hooks=HOOKS), env.display, env.hooks)
    assert env.store.lineage_names() == []
    assert env.hooks.whats() == ["pre-hook", "post-hook"]


def test_a_failing_pre_hook_is_reported_and_the_certificate_still_obtained(
    env: ServiceEnv,
) -> None:
    """certbot 5.8's rule: a hook failure is a warning, never the end of the run."""
    hooks = HookSettings(pre_hook="fail-pre", post_hook="post", deploy_hook="fail-deploy")
    result = obtain(env.run, env.request("a.test", hooks=hooks), env.display, env.hooks)
    assert result.action == "issued" and len(env.ca.orders) == 1
    assert env.hooks.whats() == ["pre-hook", "deploy-hook", "post-hook"]


def watching_webroot(options: Any, context: PluginContext) -> Any:
    """The webroot authenticator, noting in the hook log when it prepares (binds ports)."""
    from certbot_like.plugin_catalog import get

    inner = get("webroot", "authenticator").load_factory()(options, context)
    calls = context.hooks.calls  # type: ignore[attr-defined]  # the RecordingHooks

    class Watching:
        def __getattr__(self, name: str) -> Any:
            return getattr(inner, name)

        def prepare(self, types: Any) -> None:
            calls.append(("prepare", "", {}))
            inner.prepare(types)

    return Watching()


def test_the_pre_hook_runs_before_the_authenticator_takes_its_ports(env: ServiceEnv) -> None:
    """A pre-hook stops the web server holding port 80 before standalone binds it."""
    webroot = env.webroot_choice()
    spec = dataclasses.replace(webroot.spec, factory=f"{__name__}:watching_webroot")
    req = dataclasses.replace(
        env.request("a.test", hooks=HookSettings(pre_hook="stop-web", post_hook="start-web")),
        authenticator=dataclasses.replace(webroot, spec=spec),
    )
    assert obtain(env.run, req, env.display, env.hooks).action == "issued"
    assert env.hooks.whats() == ["pre-hook", "prepare", "post-hook"]


def test_a_dry_run_orders_but_stores_nothing(env: ServiceEnv) -> None:
    result = obtain(
        env.with_run(dry_run=True), env.request("a.test", hooks=HOOKS), env.display, env.hooks
    )
    assert result.action == "dry-run" and len(env.ca.orders) == 1
    assert env.store.lineage_names() == []
    assert "deploy-hook" not in env.hooks.whats()


def test_reconfigure_stores_new_settings_only_after_a_dry_run(env: ServiceEnv) -> None:
    env.obtain("a.test")
    overrides = RenewOverrides(params=RenewalParams(deploy_hook="systemctl reload nginx"))
    result = reconfigure(env.run, "a.test", overrides, env.display, env.hooks)
    assert result.changes == {"deploy_hook": (None, "systemctl reload nginx")}
    assert len(env.ca.orders) == 2 and env.store.read_lineage("a.test").version == 1
    assert env.store.read_lineage("a.test").params.deploy_hook == "systemctl reload nginx"


def test_reconfigure_leaves_the_settings_alone_when_the_dry_run_fails(
    env: ServiceEnv, tmp_path: Path
) -> None:
    env.obtain("a.test")
    before = env.store.read_lineage("a.test").params
    env.ca.webroot = tmp_path / "elsewhere"
    overrides = RenewOverrides(params=RenewalParams(deploy_hook="x"))
    with pytest.raises(ValidationFailed):
        reconfigure(env.run, "a.test", overrides, env.display, env.hooks)
    assert env.store.read_lineage("a.test").params == before


def test_revoke_by_name_revokes_at_the_ca_and_deletes_the_lineage(env: ServiceEnv) -> None:
    env.obtain("a.test")
    serial = _leaf(env, "a.test").serial_number
    result = revoke_certificate(
        env.run, RevokeRequest(cert_name="a.test", reason=4, delete_after=True), env.display
    )
    assert env.ca.revoked == [(serial, 4)] and result.deleted
    assert env.store.lineage_names() == []


def test_revoking_twice_is_the_cas_refusal_and_keeps_the_lineage(env: ServiceEnv) -> None:
    env.obtain("a.test")
    request = RevokeRequest(cert_name="a.test", delete_after=False)
    revoke_certificate(env.run, request, env.display)
    with pytest.raises(AcmeError, match="alreadyRevoked"):
        revoke_certificate(env.run, request, env.display)
    assert env.store.lineage_names() == ["a.test"]


def test_rollover_switches_the_key_at_the_ca_and_repoints_the_lineages(env: ServiceEnv) -> None:
    env.obtain("a.test")
    old_id = env.store.read_lineage("a.test").params.account
    session = load_session(env.store, env.run.ca, env.run.account, env.display, connector=env.ca)
    uri = session.account.uri
    result = rollover(session, env.store)
    assert result.old_id == old_id and result.new_id != old_id
    assert env.store.account_ids(SERVER) == [result.new_id]
    assert env.store.read_lineage("a.test").params.account == result.new_id
    assert list(env.ca.accounts.values()) == [uri]  # the same account, only its key changed
    forced = dataclasses.replace(env.request("a.test"), force_renewal=True)
    assert obtain(env.run, forced, env.display, env.hooks).action == "renewed"
    assert env.ca.orders[-1].account == uri
