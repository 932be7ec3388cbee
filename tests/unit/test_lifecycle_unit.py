"""Pure parts of the lifecycle commands: reason names, update_param, paths, arguments."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import click
import pytest

from certbot_like.cli.account import account_cmd
from certbot_like.cli.command import SubcommandGroup
from certbot_like.errors import (
    AcmeError,
    ConfigError,
    StorageError,
    TemporaryAcmeError,
    UsageError,
)
from certbot_like.protocol.account_keys import key_id
from certbot_like.services import delete, revoke, rollover
from certbot_like.storage.file_store import PENDING_KEY_NAME, FileStore
from certbot_like.storage.layout import Layout
from certbot_like.storage.renewal_conf import read_renewal_conf


def update_param(path: Path, key: str, value: str) -> None:
    """Set one stored setting through the file store (what rollover and install do)."""
    store = FileStore(Layout(config_dir=path.parent.parent))
    name = path.name[: -len(".conf")]
    store.write_params(name, store.read_lineage(name).params.merged({key: value}))


CONF = """\
# Written by certbot; a comment the administrator added.
version = 2.11.0
archive_dir = {root}/archive/example.com
cert = {root}/live/example.com/cert.pem
privkey = {root}/live/example.com/privkey.pem
chain = {root}/live/example.com/chain.pem
fullchain = {root}/live/example.com/fullchain.pem
custom_top_level = kept

# Options used in the renewal process
[renewalparams]
account = 0123456789abcdef0123456789abcdef
authenticator = webroot
server = https://acme-v02.api.letsencrypt.org/directory
# a comment inside the section
pref_challs = http-01,
renew_hook = systemctl reload nginx
unknown_key = something certbot wrote
[[webroot_map]]
example.com = /var/www/html
www.example.com = /var/www/html
"""


# -- reasons ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("unspecified", 0),
        ("keyCompromise", 1),
        ("keycompromise", 1),
        ("KEYCOMPROMISE", 1),
        ("key-compromise", 1),
        ("affiliationChanged", 3),
        ("affiliationchanged", 3),
        ("superseded", 4),
        ("cessationOfOperation", 5),
        ("cessationofoperation", 5),
        ("  superseded ", 4),
    ],
)
def test_reason_names(text: str, code: int) -> None:
    assert revoke.parse_reason(text) == code


@pytest.mark.parametrize("text", ["", "stolen", "2", "1", "certificateHold", "removeFromCRL"])
def test_unknown_reasons_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as info:
        revoke.parse_reason(text)
    assert info.value.exit_code == 2
    assert "keyCompromise" in info.value.one_line()


def test_unprintable_reason_is_shown_safely() -> None:
    with pytest.raises(UsageError) as info:
        revoke.parse_reason("bad\x1b[31m" + "x" * 100)
    line = info.value.one_line()
    assert "\x1b" not in line.replace("\\x1b", "") and len(line) < 250


def test_every_reason_has_a_name_back() -> None:
    assert len(revoke.REVOCATION_REASONS) >= 5  # RFC 5280 reasons an ACME CA accepts
    for name, code in revoke.REVOCATION_REASONS.items():
        assert revoke.REASON_NAMES[code] == name
    assert 2 not in revoke.REASON_NAMES  # certificateHold is not offered (RFC 8555 CAs)


# -- update_param ----------------------------------------------------------------------------


def _conf(tmp_path: Path, mode: int = 0o640) -> Path:
    path = tmp_path / "renewal" / "example.com.conf"
    path.parent.mkdir()
    path.write_text(CONF.format(root=tmp_path))
    path.chmod(mode)
    return path


def test_update_param_changes_one_key_and_keeps_everything_else(tmp_path: Path) -> None:
    path = _conf(tmp_path)
    before = read_renewal_conf(path)
    update_param(path, "account", "fedcba9876543210fedcba9876543210")
    after = read_renewal_conf(path)
    assert after.params.get("account") == "fedcba9876543210fedcba9876543210"
    assert {k: v for k, v in after.params.to_conf().items() if k != "account"} == {
        k: v for k, v in before.params.to_conf().items() if k != "account"
    }
    assert after.live == before.live and after.archive_dir == before.archive_dir
    text = path.read_text()
    assert "# Written by certbot; a comment the administrator added." in text
    # [renewalparams] is rewritten whole, as certbot does; comments above it are kept
    assert "custom_top_level = kept" in text and "renew_hook = systemctl reload nginx" in text
    assert "0123456789abcdef" not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


def test_update_param_adds_a_missing_key_and_section(tmp_path: Path) -> None:
    path = _conf(tmp_path)
    update_param(path, "reuse_key", "True")
    assert read_renewal_conf(path).params.reuse_key is True
    bare = tmp_path / "renewal" / "bare.conf"
    bare.write_text(CONF.format(root=tmp_path).split("# Options used")[0])
    update_param(bare, "account", "x" * 32)
    assert read_renewal_conf(bare).params.get("account") == "x" * 32


def test_update_param_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        update_param(tmp_path / "renewal" / "missing.conf", "account", "x")
    (tmp_path / "renewal").mkdir()
    broken = tmp_path / "renewal" / "broken.conf"
    broken.write_text("[renewalparams\nnot configobj")
    with pytest.raises(ConfigError):
        update_param(broken, "account", "x")
    assert broken.read_text() == "[renewalparams\nnot configobj"
    no_paths = tmp_path / "renewal" / "nopaths.conf"
    no_paths.write_text("[renewalparams]\naccount = a\n")
    with pytest.raises(ConfigError):
        update_param(no_paths, "account", "x")


# -- delete path safety ----------------------------------------------------------------------


class _NoPrompt:
    interactive = False

    def confirm(self, question: str, *, default: bool, flag_hint: str) -> bool:
        raise AssertionError("must not ask")

    def ask(self, question: str, *, flag_hint: str) -> str:
        raise AssertionError("must not ask")

    def notify(self, message: str) -> None:
        pass


def test_delete_refuses_a_conf_pointing_outside_the_config_dir(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "config", tmp_path / "work", tmp_path / "logs")
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "data").write_text("keep me")
    (layout.renewal_dir).mkdir(parents=True)
    text = CONF.format(root=layout.config_dir).replace(
        f"archive_dir = {layout.config_dir}/archive/example.com", f"archive_dir = {outside}"
    )
    layout.renewal_conf("example.com").write_text(text)
    with pytest.raises(ConfigError) as info:
        delete.delete_lineage(FileStore(layout), "example.com", _NoPrompt(), confirmed=True)
    assert "outside" in info.value.one_line()
    assert (outside / "data").read_text() == "keep me"
    assert layout.renewal_conf("example.com").exists()


def test_delete_rejects_unsafe_and_unknown_names(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "config", tmp_path / "work", tmp_path / "logs")
    for name in ("../etc", "a/b", "nothing-here.test"):
        with pytest.raises(UsageError):
            delete.delete_lineage(FileStore(layout), name, _NoPrompt(), confirmed=True)


def test_delete_with_a_broken_conf_removes_the_default_paths(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "config", tmp_path / "work", tmp_path / "logs")
    for directory in (layout.live_dir("x.test"), layout.archive_dir("x.test")):
        directory.mkdir(parents=True)
        (directory / "f").write_text("")
    layout.renewal_dir.mkdir()
    layout.renewal_conf("x.test").write_text("garbage without paths\n")
    delete.delete_lineage(FileStore(layout), "x.test", _NoPrompt(), confirmed=True)
    assert not layout.live_dir("x.test").exists() and not layout.archive_dir("x.test").exists()
    assert not layout.renewal_conf("x.test").exists()


# -- key ids and the account group -----------------------------------------------------------


def test_key_id_is_certbots_account_id() -> None:
    """certbot's rule (certbot/_internal/account.py): MD5 of the PEM SubjectPublicKeyInfo."""
    import hashlib

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from josepy.jwk import JWKEC

    from certbot_like.protocol.account_keys import key_id

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key_id(JWKEC(key=key)) == hashlib.md5(pem, usedforsecurity=False).hexdigest()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["rollover", "-n"], ["rollover", "-n"]),
        (["-n", "rollover"], ["rollover", "-n"]),
        (["--config-dir", "/x", "rollover", "-q"], ["rollover", "--config-dir", "/x", "-q"]),
        (["--config-dir", "rollover", "rollover"], ["rollover", "--config-dir", "rollover"]),
        (["--help"], ["--help"]),
    ],
)
def test_account_group_takes_options_before_the_subcommand(
    args: list[str], expected: list[str]
) -> None:
    assert isinstance(account_cmd, SubcommandGroup)
    ctx = click.Context(account_cmd)
    assert account_cmd._subcommand_first(ctx, list(args)) == expected


def test_pending_rollover_finds_only_unmoved_accounts(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "config", tmp_path / "work", tmp_path / "logs")
    server = "https://ca.test/dir"
    base = layout.accounts_dir(server)
    moved, waiting = base / ("a" * 32), base / ("b" * 32)
    for directory in (moved, waiting):
        directory.mkdir(parents=True)
        (directory / PENDING_KEY_NAME).write_text("{}")
    (waiting / "private_key.json").write_text("{}")
    (waiting / "regr.json").write_text("{}")
    assert rollover.pending_rollover(FileStore(layout), server) == waiting.name
    assert rollover.pending_rollover(FileStore(layout), "https://other.test/dir") is None


# -- the delete offer after revocation -------------------------------------------------------


class _FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple[bytes, int, object]] = []

    def revoke(self, cert_der: bytes, reason: int, *, cert_key: object = None) -> None:
        self.calls.append((cert_der, reason, cert_key))


class _Answer:
    def __init__(self, interactive: bool, answer: bool) -> None:
        self.interactive, self.answer = interactive, answer
        self.questions: list[tuple[str, bool]] = []

    def confirm(self, question: str, *, default: bool, flag_hint: str) -> bool:
        self.questions.append((question, default))
        return self.answer

    def ask(self, question: str, *, flag_hint: str) -> str:
        raise AssertionError("must not ask")

    def notify(self, message: str) -> None:
        pass


def _lineage(tmp_path: Path) -> tuple[Layout, revoke.RevocationTarget]:
    layout = Layout(tmp_path / "config", tmp_path / "work", tmp_path / "logs")
    for directory in (layout.live_dir("example.com"), layout.archive_dir("example.com")):
        directory.mkdir(parents=True)
    layout.renewal_dir.mkdir()
    layout.renewal_conf("example.com").write_text(CONF.format(root=layout.config_dir))
    target = revoke.RevocationTarget(
        cert_der=b"der", serial="1f", names=("example.com",), source=tmp_path, lineage="example.com"
    )
    return layout, target


@pytest.mark.parametrize(
    ("interactive", "answer", "flag", "deleted", "asked"),
    [
        (False, True, None, False, False),  # -n: certbot keeps the lineage
        (True, True, None, True, True),  # a terminal: asked, default yes
        (True, False, None, False, True),
        (False, True, True, True, False),  # --delete-after-revoke
        (True, True, False, False, False),  # --no-delete-after-revoke
    ],
)
def test_delete_offer_after_revocation(
    tmp_path: Path,
    interactive: bool,
    answer: bool,
    flag: bool | None,
    deleted: bool,
    asked: bool,
) -> None:
    layout, target = _lineage(tmp_path)
    fake = _FakeClient()
    client: Any = fake
    display = _Answer(interactive, answer)
    result = revoke.revoke(FileStore(layout), client, target, 1, display, delete_after=flag)
    assert fake.calls == [(b"der", 1, None)]
    assert result.deleted is deleted and result.reason_name == "keyCompromise"
    assert layout.renewal_conf("example.com").exists() is not deleted
    assert layout.live_dir("example.com").exists() is not deleted
    assert bool(display.questions) is asked
    if asked:
        assert display.questions[0][1] is True


def test_a_bare_certificate_is_revoked_without_a_delete_offer(tmp_path: Path) -> None:
    layout, _ = _lineage(tmp_path)
    client: Any = _FakeClient()
    display = _Answer(True, True)
    bare = revoke.RevocationTarget(cert_der=b"d", serial="2", names=(), source=tmp_path)
    result = revoke.revoke(FileStore(layout), client, bare, 0, display, delete_after=True)
    assert not result.deleted and not display.questions
    assert layout.renewal_conf("example.com").exists()


# -- rollover ordering without a CA ----------------------------------------------------------

SERVER = "https://ca.test/dir"


class _KeyChangeClient:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.key: Any = None

    def key_change(self, new_key: Any) -> None:
        if self.error is not None:
            raise self.error
        self.key = new_key

    def use_account(self, key: Any, uri: str | None) -> None:
        self.key = key


def _account(tmp_path: Path) -> tuple[Layout, Any, Path]:
    from cryptography.hazmat.primitives.asymmetric import ec
    from josepy.jwk import JWKEC

    from certbot_like.services.accounts import Session
    from certbot_like.storage.accounts import AccountStore, StoredAccount

    layout = Layout(tmp_path / "config", tmp_path / "work", tmp_path / "logs")
    key = JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    old_id = key_id(key)
    account = StoredAccount(old_id, SERVER, "https://ca.test/acct/1", json.loads(key.json_dumps()))
    AccountStore(layout, SERVER).save(account)
    layout.renewal_dir.mkdir(parents=True)
    conf = layout.renewal_conf("example.com")
    text = CONF.format(root=layout.config_dir).replace("0123456789abcdef" * 2, old_id)
    conf.write_text(text.replace("https://acme-v02.api.letsencrypt.org/directory", SERVER))
    client: Any = _KeyChangeClient()
    session = Session(ca=client, account=account)
    return layout, session, layout.accounts_dir(SERVER) / old_id


def test_rollover_moves_the_account_and_repoints_the_confs(tmp_path: Path) -> None:
    layout, session, old_dir = _account(tmp_path)
    old_id = old_dir.name
    result = rollover.rollover(session, FileStore(layout))
    assert result.old_id == old_id and result.lineages == ("example.com",)
    assert result.new_id == key_id(session.ca.key)
    assert not old_dir.exists()
    new_dir = layout.accounts_dir(SERVER) / result.new_id
    assert {p.name for p in new_dir.iterdir()} == {"private_key.json", "regr.json", "meta.json"}
    conf = read_renewal_conf(layout.renewal_conf("example.com"))
    assert conf.params.get("account") == result.new_id


@pytest.mark.parametrize(
    ("error", "kept"),
    [
        (TemporaryAcmeError("The CA at ca.test did not answer within 30 s"), True),
        (AcmeError("The CA refused the account key change: malformed"), False),
    ],
)
def test_rollover_keeps_the_pending_key_only_when_the_outcome_is_unknown(
    tmp_path: Path, error: Exception, kept: bool
) -> None:
    layout, session, old_dir = _account(tmp_path)
    session.ca.error = error
    with pytest.raises(type(error)) as info:
        rollover.rollover(session, FileStore(layout))
    assert (old_dir / PENDING_KEY_NAME).exists() is kept
    assert (old_dir / "private_key.json").exists()
    if kept:
        assert "run `certbot-like account rollover` again" in info.value.one_line()
        mode = (old_dir / PENDING_KEY_NAME).stat().st_mode
        assert stat.S_IMODE(mode) == 0o600


def test_a_rollover_stopped_after_the_files_moved_is_finished_without_the_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout, session, old_dir = _account(tmp_path)
    old_id = old_dir.name

    def broken(*args: Any, **kwargs: Any) -> None:
        raise StorageError("Could not write the conf: No space left on device")

    monkeypatch.setattr(FileStore, "write_params", broken)
    with pytest.raises(StorageError) as info:
        rollover.rollover(session, FileStore(layout))
    assert "switched to the new account key" in info.value.one_line()
    pending = old_dir / PENDING_KEY_NAME
    assert pending.exists() and not (old_dir / "private_key.json").exists()
    new_id = key_id(session.ca.key)
    assert read_renewal_conf(layout.renewal_conf("example.com")).params.get("account") == old_id

    monkeypatch.undo()
    from certbot_like.services.accounts import Session
    from certbot_like.storage.accounts import AccountStore

    moved = AccountStore(layout, SERVER).load(new_id)
    refusing: Any = _KeyChangeClient(AcmeError("must not be asked"))
    again = Session(ca=refusing, account=moved)
    result = rollover.rollover(again, FileStore(layout))  # finishes; does not roll the key again
    assert result.resumed and (result.old_id, result.new_id) == (old_id, new_id)
    assert result.lineages == ("example.com",)
    assert not old_dir.exists()
    assert read_renewal_conf(layout.renewal_conf("example.com")).params.get("account") == new_id
