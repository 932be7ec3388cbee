"""Deploy targets: parsing, each format's bytes, the safe writer, and the issuance run
writing them (in-memory CA and store; tests/integration/test_deploy.py does it with Pebble
and a real HAProxy)."""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from certbot_like.deploy.render import render, up_to_date
from certbot_like.deploy.spec import DeploySettings, parse_mode, parse_target, settings_from_flags
from certbot_like.deploy.writer import safe_path, write_target
from certbot_like.errors import DeployError, UsageError
from certbot_like.services.deploy import redeploy, status
from certbot_like.services.due import RenewOptions
from certbot_like.services.obtain import obtain
from certbot_like.services.renew import renew_all
from certbot_like.services.renew_request import RenewOverrides
from certbot_like.storage.store import CertFiles
from tests.unit.service_env import ServiceEnv, make_env

NOBODY = pwd.getpwnam("nobody")


@pytest.fixture
def env(tmp_path: Path) -> ServiceEnv:
    return make_env(tmp_path)


def _files(env: ServiceEnv, name: str = "a.test") -> CertFiles:
    if not env.store.has_lineage(name):
        env.obtain(name)
    return env.store.read_files(name)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- what the operator gives -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fmt"), [("combined:/etc/haproxy/a.pem", "combined"), ("PKCS12:/x.p12", "pkcs12")]
)
def test_a_target_is_format_colon_path(text: str, fmt: str) -> None:
    target = parse_target(text)
    assert target.format == fmt and target.path.is_absolute()


@pytest.mark.parametrize("text", ["pem:/x", "/etc/x.pem", "cert:", "combined: "])
def test_a_bad_target_is_one_line_naming_the_formats(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_target(text)
    assert "FORMAT:PATH" in info.value.one_line() and "\n" not in info.value.one_line()


def test_modes_are_octal_and_never_writable_by_others() -> None:
    assert parse_mode("0640") == 0o640
    for bad in ("640x", "0666", "0620", "1777"):
        with pytest.raises(UsageError):
            parse_mode(bad)


def test_pkcs12_needs_a_password_file_and_paths_are_given_once(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="password"):
        settings_from_flags([f"pkcs12:{tmp_path}/a.p12"])
    with pytest.raises(UsageError, match="twice"):
        settings_from_flags([f"cert:{tmp_path}/a", f"fullchain:{tmp_path}/a"])
    with pytest.raises(UsageError, match="No user"):
        settings_from_flags([f"cert:{tmp_path}/a"], owner="no-such-user-here")


# -- formats -----------------------------------------------------------------------------------


def test_combined_is_the_key_then_the_full_chain(env: ServiceEnv) -> None:
    files = _files(env)
    data = render(parse_target("combined:/x"), files)
    assert data.startswith(files.privkey.rstrip(b"\n")) and data.endswith(files.fullchain)


def test_der_is_the_leaf_certificate(env: ServiceEnv) -> None:
    files = _files(env)
    leaf = x509.load_der_x509_certificate(render(parse_target("der:/x"), files))
    assert leaf == x509.load_pem_x509_certificate(files.cert)


@pytest.mark.parametrize("legacy", [False, True])
def test_pkcs12_opens_with_its_password_in_cryptography_and_openssl(
    env: ServiceEnv, tmp_path: Path, legacy: bool
) -> None:
    files = _files(env)
    target = parse_target(f"pkcs12:{tmp_path}/a.p12")
    data = render(target, files, password=b"s3cret pass", legacy=legacy)
    key, cert, chain = pkcs12.load_key_and_certificates(data, b"s3cret pass")
    assert cert == x509.load_pem_x509_certificate(files.cert) and key is not None and chain
    assert up_to_date(target, data, files, password=b"s3cret pass")
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(data, b"wrong")
    target.path.write_bytes(data)
    (tmp_path / "pw").write_text("s3cret pass\n")
    info = subprocess.run(
        ["openssl", "pkcs12", "-info", "-noout", "-in", str(target.path), "-passin",
         f"file:{tmp_path}/pw", *(["-legacy"] if legacy else [])],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert info.returncode == 0, info.stderr
    assert ("AES-256-CBC" in info.stderr) is not legacy


# -- the writer ----------------------------------------------------------------------------------


def test_a_target_gets_its_owner_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    write_target(path, b"KEY", mode=0o640, owner=(NOBODY.pw_uid, NOBODY.pw_gid))
    info = path.stat()
    assert (info.st_uid, info.st_gid, _mode(path)) == (NOBODY.pw_uid, NOBODY.pw_gid, 0o640)
    assert path.read_bytes() == b"KEY" and [p.name for p in tmp_path.iterdir()] == ["key.pem"]


def test_a_symlink_planted_by_another_user_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "shadow"
    victim.write_text("root only")
    link = tmp_path / "site.pem"
    link.symlink_to(victim)
    os.lchown(link, NOBODY.pw_uid, NOBODY.pw_gid)
    with pytest.raises(DeployError, match="symlink owned by uid"):
        safe_path(link, tmp_path / "letsencrypt")
    assert victim.read_text() == "root only"


def test_a_symlinked_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "certs").symlink_to(tmp_path / "real")
    os.lchown(tmp_path / "certs", NOBODY.pw_uid, NOBODY.pw_gid)
    with pytest.raises(DeployError, match="refusing to follow"):
        safe_path(tmp_path / "certs" / "a.pem", tmp_path / "letsencrypt")


def test_a_root_owned_symlink_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real.pem").write_text("old")
    (tmp_path / "site.pem").symlink_to(tmp_path / "real.pem")
    assert safe_path(tmp_path / "site.pem", tmp_path / "le") == tmp_path / "real.pem"


def test_targets_inside_the_config_directory_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="inside the certificate store"):
        safe_path(tmp_path / "le" / "live" / "a" / "x.pem", tmp_path / "le")


def test_a_missing_directory_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(DeployError) as info:
        write_target(tmp_path / "nope" / "a.pem", b"x", mode=0o644, owner=None)
    assert "does not exist" in info.value.one_line() and info.value.exit_code == 12


# -- in the issuance run ---------------------------------------------------------------------


def _settings(tmp_path: Path, *targets: str, **kw: object) -> DeploySettings:
    return settings_from_flags([t.format(d=tmp_path) for t in targets], **kw)  # type: ignore[arg-type]


def test_obtain_writes_every_target_and_the_reload_runs_once(
    env: ServiceEnv, tmp_path: Path
) -> None:
    settings = _settings(
        tmp_path, "combined:{d}/haproxy.pem", "cert:{d}/cert.pem", reload="reload-haproxy"
    )
    result = obtain(env.run, env.request("a.test", deploy=settings), env.display, env.hooks)
    files = env.store.read_files("a.test")
    assert (tmp_path / "cert.pem").read_bytes() == files.cert
    assert _mode(tmp_path / "haproxy.pem") == 0o600 and _mode(tmp_path / "cert.pem") == 0o644
    assert env.hooks.whats() == ["deploy-reload"]
    assert env.hooks.calls[0][2]["RENEWED_DOMAINS"] == "a.test"
    stored = env.store.read_lineage("a.test").params
    assert stored.deploy_to == (f"combined:{tmp_path}/haproxy.pem", f"cert:{tmp_path}/cert.pem")
    assert stored.deploy_reload == "reload-haproxy" and result.action == "issued"


def test_a_failing_target_beside_a_good_one_keeps_the_certificate(
    env: ServiceEnv, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, "cert:{d}/missing/cert.pem", "fullchain:{d}/fullchain.pem")
    with pytest.raises(DeployError) as info:
        obtain(env.run, env.request("a.test", deploy=settings), env.display, env.hooks)
    assert "missing" in info.value.one_line() and "certbot-like deploy" in info.value.one_line()
    assert env.store.read_lineage("a.test").version == 1
    assert (tmp_path / "fullchain.pem").read_bytes() == env.store.read_files("a.test").fullchain


def test_renew_rewrites_targets_and_reloads_a_shared_command_once(
    env: ServiceEnv, tmp_path: Path
) -> None:
    for name in ("a.test", "b.test"):
        settings = _settings(tmp_path, f"fullchain:{{d}}/{name}.pem", reload="reload-web")
        obtain(env.run, env.request(name, deploy=settings), env.display, env.hooks)
    env.hooks.calls.clear()
    (tmp_path / "b.test.pem").chmod(0o600)  # wrong mode: rewritten too
    report = renew_all(env.run, RenewOptions(jobs=2, overrides=_forced()), env.display, env.hooks)
    assert {o.status for o in report.outcomes} == {"renewed"}
    for name in ("a.test", "b.test"):
        assert (tmp_path / f"{name}.pem").read_bytes() == env.store.read_files(name).fullchain
    assert env.hooks.whats() == ["deploy-reload"]
    assert sorted(env.hooks.calls[0][2]["RENEWED_DOMAINS"].split()) == ["a.test", "b.test"]


def test_a_renewal_whose_target_fails_is_renewed_with_exit_code_12(
    env: ServiceEnv, tmp_path: Path
) -> None:
    (tmp_path / "sub").mkdir()
    settings = _settings(tmp_path, "cert:{d}/sub/cert.pem")
    obtain(env.run, env.request("a.test", deploy=settings), env.display, env.hooks)
    (tmp_path / "sub" / "cert.pem").unlink()  # the service's directory is gone
    (tmp_path / "sub").rmdir()
    report = renew_all(env.run, RenewOptions(overrides=_forced()), env.display, env.hooks)
    outcome = report.outcomes[0]
    assert outcome.status == "renewed" and outcome.exit_code == DeployError.exit_code
    assert "does not exist" in (outcome.reason or "")
    assert env.store.read_lineage("a.test").version == 2


def test_redeploy_restores_a_wiped_target_and_status_tells_what_is_stale(
    env: ServiceEnv, tmp_path: Path
) -> None:
    settings = _settings(
        tmp_path, "key:{d}/key.pem", "chain:{d}/chain.pem", owner="nobody", reload="reload-x"
    )
    obtain(env.run, env.request("a.test", deploy=settings), env.display, env.hooks)
    files = env.store.read_files("a.test")
    assert [s for _, s in status(settings, files, env.run.layout.config_dir)] == ["up to date"] * 2
    (tmp_path / "key.pem").unlink()
    (tmp_path / "chain.pem").write_bytes(b"old chain")
    states = [s for _, s in status(settings, files, env.run.layout.config_dir)]
    assert states == ["missing", "stale"]
    done = redeploy(env.run, ["a.test"], env.hooks)
    assert [r.status for r in done.reports[0].results] == ["written", "written"]
    assert (tmp_path / "key.pem").stat().st_uid == NOBODY.pw_uid
    assert (tmp_path / "key.pem").stat().st_gid == grp.getgrgid(NOBODY.pw_gid).gr_gid
    assert env.hooks.whats() == ["deploy-reload", "deploy-reload"]  # obtain, then redeploy
    again = redeploy(env.run, ["a.test"], env.hooks)
    assert [r.status for r in again.reports[0].results] == ["unchanged", "unchanged"]
    assert env.hooks.whats() == ["deploy-reload", "deploy-reload"], "reloaded with no change"


def _forced() -> RenewOverrides:
    return RenewOverrides(force=True)
