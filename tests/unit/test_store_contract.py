"""The storage contract: FileStore (certbot's layout) and MemoryStore pass the same tests."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certbot_like.errors import ConfigError, LockError, StorageError, UsageError
from certbot_like.storage.file_store import FileStore
from certbot_like.storage.layout import Layout
from certbot_like.storage.memory_store import MemoryStore
from certbot_like.storage.renewal_params import RenewalParams
from certbot_like.storage.renewal_state import LineageState
from certbot_like.storage.store import CertFiles, Store, StoredAccount
from tests.harness.lineages import LocalIssuer

SERVER = "https://ca.test/directory"
ISSUER = LocalIssuer()


def _files(names: list[str]) -> CertFiles:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = ISSUER.issue(names, key)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return CertFiles(key_pem, cert, ISSUER.chain_pem, cert + ISSUER.chain_pem)


@pytest.fixture(params=["file", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "file":
        yield FileStore(Layout(tmp_path / "config", tmp_path / "work", tmp_path / "logs"))
    else:
        yield MemoryStore(tmp_path / "memory")


PARAMS = RenewalParams(
    account="a" * 32,
    server=SERVER,
    authenticator="standalone",
    key_type="ecdsa",
    reuse_key=True,
    pref_challs=("http-01",),
    deploy_hook="systemctl reload nginx",
    extra={"http01_port": "8080", "webroot_map": {"a.test": "/srv"}, "custom": "kept"},
)


def test_a_new_lineage_is_listed_and_reads_back_typed(store: Store) -> None:
    files = _files(["a.test", "www.a.test"])
    saved = store.save_version("a.test", files, PARAMS, expect_version=None)
    assert store.lineage_names() == ["a.test"] and store.has_lineage("a.test")
    lineage = store.read_lineage("a.test")
    assert lineage == saved
    assert lineage.version == 1 and lineage.versions == (1,) and not lineage.problems
    assert lineage.params.to_conf() == PARAMS.to_conf()
    assert lineage.params.reuse_key is True and lineage.params.pref_challs == ("http-01",)
    assert store.read_files("a.test") == files
    facts = store.lineage_facts("a.test")
    assert facts.names == ["a.test", "www.a.test"] and facts.server == SERVER
    assert facts.cert_id and facts.not_after > facts.not_before


def test_a_renewal_adds_a_version_and_keeps_the_old_one(store: Store) -> None:
    first, second = _files(["a.test"]), _files(["a.test"])
    store.save_version("a.test", first, PARAMS, expect_version=None)
    store.save_version("a.test", second, PARAMS, expect_version=1)
    lineage = store.read_lineage("a.test")
    assert lineage.version == 2 and lineage.versions == (1, 2)
    assert store.read_files("a.test") == second
    assert store.read_files("a.test", 1) == first


def test_a_writer_that_read_an_old_version_is_refused(store: Store) -> None:
    store.save_version("a.test", _files(["a.test"]), PARAMS, expect_version=None)
    current = _files(["a.test"])
    store.save_version("a.test", current, PARAMS, expect_version=1)
    with pytest.raises(StorageError, match="changed while it was being renewed"):
        store.save_version("a.test", _files(["a.test"]), PARAMS, expect_version=1)
    assert store.read_files("a.test") == current and store.read_lineage("a.test").version == 2


def test_the_change_token_moves_only_when_the_lineage_does(store: Store) -> None:
    store.save_version("a.test", _files(["a.test"]), PARAMS, expect_version=None)
    hint = store.lineage_facts("a.test").hint
    token = store.change_token("a.test", hint)
    assert token is not None and store.change_token("a.test", hint) == token
    store.save_version("a.test", _files(["a.test"]), PARAMS, expect_version=1)
    hint = store.lineage_facts("a.test").hint
    renewed = store.change_token("a.test", hint)
    assert renewed != token
    store.write_params("a.test", PARAMS.merged({"deploy_hook": "true"}))
    assert store.change_token("a.test", hint) != renewed


def test_write_params_changes_settings_not_certificates(store: Store) -> None:
    files = _files(["a.test"])
    store.save_version("a.test", files, PARAMS, expect_version=None)
    store.write_params("a.test", PARAMS.merged({"account": "b" * 32, "custom": None}))
    params = store.read_lineage("a.test").params
    assert params.account == "b" * 32 and not params.has("custom")
    assert params.get("http01_port") == "8080"
    assert store.read_files("a.test") == files


def test_delete_removes_the_lineage_and_unknown_names_are_usage_errors(store: Store) -> None:
    store.save_version("a.test", _files(["a.test"]), PARAMS, expect_version=None)
    assert store.unused_name("a.test") == "a.test-0001"
    assert store.delete_lineage("a.test")
    assert store.lineage_names() == [] and not store.has_lineage("a.test")
    with pytest.raises(UsageError):
        store.read_lineage("a.test")
    with pytest.raises(UsageError):
        store.delete_lineage("a.test")
    assert store.unused_name("a.test") == "a.test"


def _account(account_id: str) -> StoredAccount:
    jwk = {"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "d": "secret"}
    return StoredAccount(account_id, SERVER, f"https://ca.test/acct/{account_id}", jwk)


def test_accounts_round_trip_and_key_rollover_steps(store: Store) -> None:
    old, new_key = "a" * 32, {"kty": "EC", "crv": "P-256", "x": "2", "y": "2", "d": "new"}
    store.save_account(_account(old))
    assert store.account_ids(SERVER) == [old] and store.account_ids("https://x.test/") == []
    loaded = store.load_account(SERVER, old)
    assert loaded.key_jwk["d"] == "secret" and "secret" not in repr(loaded)
    loaded.body = {"status": "valid", "contact": ["mailto:a@b.test"]}
    store.save_registration(loaded)
    assert store.load_account(SERVER, old).body["contact"] == ["mailto:a@b.test"]
    assert store.pending_account_key(SERVER, old) is None
    store.save_pending_account_key(SERVER, old, new_key)
    assert store.pending_account_key(SERVER, old) == new_key
    store.replace_account_key(loaded, "b" * 32, new_key)
    assert store.account_ids(SERVER) == ["b" * 32]
    assert store.moved_pending_keys(SERVER) == [(old, new_key)]
    store.drop_pending_account_key(SERVER, old)
    assert store.moved_pending_keys(SERVER) == []
    assert store.load_account(SERVER, "b" * 32).key_jwk == new_key
    with pytest.raises(ConfigError):
        store.load_account(SERVER, old)


def test_renewal_state_round_trips_and_keeps_only_named_lineages(store: Store) -> None:
    state = store.load_state()
    assert state.lineages == {}
    state.lineages["a.test"] = LineageState(names=["a.test"], retry_not_before=5.0)
    state.lineages["gone.test"] = LineageState()
    state.dirty = True
    store.save_state(state, keep={"a.test"})
    again = store.load_state()
    assert set(again.lineages) == {"a.test"} and again.lineages["a.test"].retry_not_before == 5.0


def test_the_run_lock_excludes_a_second_holder_and_lineage_locks_are_per_name(
    store: Store,
) -> None:
    first, second = store.lineage_lock("a.test"), store.lineage_lock("a.test")
    assert first.try_acquire() and not second.try_acquire()
    assert store.lineage_lock("b.test").try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()
    if isinstance(store, MemoryStore):  # FileStore's lockf lock is per process (see test_lock)
        with store.run_lock(), pytest.raises(LockError), store.run_lock():
            pass
    with store.run_lock():
        pass


def test_a_malformed_typed_setting_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"a\.conf: \[renewalparams\] reuse_key"):
        RenewalParams.from_conf({"reuse_key": "maybe"}, "a.conf")


def test_file_store_keys_are_private_and_writes_certbots_layout(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "config", tmp_path / "work", tmp_path / "logs")
    store = FileStore(layout)
    store.save_version("a.test", _files(["a.test"]), PARAMS, expect_version=None)
    key = layout.archive_dir("a.test") / "privkey1.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (layout.live_dir("a.test") / "fullchain.pem").is_symlink()
    text = layout.renewal_conf("a.test").read_text()
    assert "renew_hook = systemctl reload nginx" in text and "custom = kept" in text


def test_certificates_without_settings_are_orphans(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "config", tmp_path / "work", tmp_path / "logs")
    store = FileStore(layout)
    store.save_version("kept.test", _files(["kept.test"]), RenewalParams(), expect_version=None)
    (layout.config_dir / "live" / "lost.test").mkdir(parents=True)
    (layout.config_dir / "live" / "README").write_text("certbot's note")
    assert store.orphan_certificates() == ["lost.test"]
    assert MemoryStore().orphan_certificates() == []
