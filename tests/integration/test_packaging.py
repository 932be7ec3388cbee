"""The ways a sysadmin installs certbot-like, each obtaining a real certificate from Pebble:

* the wheel that ``make dist`` builds (``python -m build``: sdist, then the wheel from it),
  installed with pipx into a fresh virtualenv: no extras, so ``plugins`` names them and a
  plugin that needs one says which;
* the Debian package that ``make deb`` builds, installed with apt on this machine (root
  only), its timer, man pages and completion, then removed, reinstalled and purged, with
  the certificates and ``/etc/letsencrypt`` untouched throughout.

Each build runs once per session (per xdist worker); the machine is left as it was.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from certbot_like import __version__
from tests.integration.conftest import Client, unique_name

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "certbot-like"
VENV = Path("/opt/venvs/certbot-like")
BIN = Path("/usr/bin/certbot-like")
UNIT_DIR = Path("/lib/systemd/system")
TIMER = "certbot-like-renew.timer"
WANTS_LINK = Path("/etc/systemd/system/timers.target.wants") / TIMER
DROP_IN = Path("/etc/systemd/system") / f"{TIMER}.d" / "zz-certbot-like-test.conf"
LETSENCRYPT = Path("/etc/letsencrypt")
APT = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=300"]


def _run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload, no-any-return]


def _ok(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    proc = _run(argv, **kw)
    assert proc.returncode == 0, (
        f"{' '.join(argv)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    )
    return proc


# -- the wheel, with pipx ---------------------------------------------------------------------


@dataclass(frozen=True)
class Pipx:
    """pipx with its own home and bin directory, and the wheel it installed."""

    wheel: Path
    env: dict[str, str]
    binary: Path

    def install(self, spec: str) -> None:
        pipx = Path(sys.executable).parent / "pipx"
        argv = [str(pipx), "install", "--force", "--python", sys.executable, spec]
        _ok(argv, env=self.env, timeout=600)


@pytest.fixture(scope="session")
def pipx(tmp_path_factory: pytest.TempPathFactory) -> Pipx:
    """``make dist``'s build (sdist and wheel) installed with ``pipx install``."""
    work = tmp_path_factory.mktemp("wheel")
    _ok([sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(ROOT)], timeout=600)
    wheels = sorted((work / "dist").glob("certbot_like-*.whl"))
    assert len(wheels) == 1 and list((work / "dist").glob("certbot_like-*.tar.gz")), wheels
    env = {
        **os.environ,
        "PIPX_HOME": str(work / "pipx"),
        "PIPX_BIN_DIR": str(work / "bin"),
        "PIPX_MAN_DIR": str(work / "man"),
    }
    installed = Pipx(wheels[0], env, work / "bin" / "certbot-like")
    installed.install(str(wheels[0]))
    assert installed.binary.is_file()
    return installed


def test_the_wheel_installed_with_pipx_obtains_and_names_missing_extras(
    pipx: Pipx, client: Client
) -> None:
    run = [str(pipx.binary)]
    version = client.run_raw(["--version"], launcher=run)
    lines = version.stdout.splitlines()
    assert version.returncode == 0 and lines[0] == f"certbot-like {__version__}", version
    assert lines[1].startswith("acme ") and "cryptography " in lines[1] and "OpenSSL" in lines[1]
    assert lines[-1].startswith(f"Installed in {pipx.binary.parent.parent / 'pipx'}"), lines

    plugins = client.run_raw(["plugins"], launcher=run)
    assert plugins.returncode == 0, plugins
    for extra, dist in (
        ("apache", "python-augeas"),
        ("lexicon", "dns-lexicon"),
        ("notify", "apprise"),
    ):
        assert f"Extra [{extra}] not installed: {dist}" in plugins.stdout, plugins
        assert f"pip install 'certbot-like[{extra}]'" in plugins.stdout

    name = unique_name("wheel")
    obtained = client.run("obtain", "-d", name, *client.standalone_args(), launcher=run)
    assert obtained.returncode == 0, obtained
    assert (client.live(name) / "fullchain.pem").read_text().startswith("-----BEGIN CERTIFICATE")

    lexicon = client.run(
        "obtain",
        "-d",
        unique_name("lex"),
        "--dns-lexicon",
        "--dns-lexicon-provider",
        "ovh",
        launcher=run,
    )
    assert lexicon.returncode == 4, lexicon
    assert lexicon.stderr.count("\n") == 1, lexicon
    assert "pip install 'certbot-like[lexicon]'" in lexicon.stderr

    # the same wheel with [all]: nothing missing any more
    pipx.install(f"{pipx.wheel}[all]")
    full = client.run_raw(["plugins"], launcher=run)
    assert full.returncode == 0 and "Extra [" not in full.stdout, full
    assert "UNAVAILABLE: dns-lexicon" not in full.stdout


# -- the Debian package -----------------------------------------------------------------------


def _snapshot(directory: Path) -> dict[str, tuple[int, float, str]]:
    """Every path under *directory* with its mode, mtime and link target (empty if absent)."""
    if not directory.exists():
        return {}
    found = {}
    for path in [directory, *directory.rglob("*")]:
        info = path.lstat()
        target = os.readlink(path) if path.is_symlink() else ""
        found[str(path)] = (info.st_mode, info.st_mtime, target)
    return found


def _installed() -> bool:
    status = _run(["dpkg-query", "-W", "-f=${Status}", PACKAGE])
    return status.returncode == 0 and "installed" in status.stdout.split()


@pytest.fixture(scope="session")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``make deb``'s package, built once; the package is purged from the machine after."""
    if os.geteuid() != 0:
        pytest.skip("installs a Debian package on this machine: run as root (CI does)")
    if _installed():
        pytest.skip("certbot-like's Debian package is already installed here; not replacing it")
    work = tmp_path_factory.mktemp("deb")
    _ok(
        [
            "make",
            "-C",
            str(ROOT),
            "deb",
            f"DIST={work / 'dist'}",
            f"DEB_BUILD_DIR={work / 'build'}",
        ],
        timeout=900,
    )
    (package,) = (work / "dist").glob(f"certbot-like_{__version__}_*.deb")
    yield package
    if _installed():
        _run([*APT, "purge", PACKAGE])
    shutil.rmtree(DROP_IN.parent, ignore_errors=True)


@pytest.mark.root
def test_the_debian_package_installs_obtains_and_leaves_certificates_on_remove(
    deb: Path, client: Client
) -> None:
    before = _snapshot(LETSENCRYPT)
    _ok([*APT, "install", str(deb)], timeout=600)

    # on PATH, says what and where it is, documented, completed, and its timer enabled
    version = client.run_raw(["--version"], launcher=["certbot-like"])
    assert version.returncode == 0 and version.stdout.startswith(f"certbot-like {__version__}\n")
    assert f"Installed in {VENV}/lib/python3" in version.stdout, version
    assert BIN.resolve() == VENV / "bin" / "certbot-like"
    assert _ok(["man", "-w", "certbot-like"]).stdout.strip().startswith("/usr/share/man/man1/")
    assert (
        _ok(["man", "-w", "certbot-like-obtain"])
        .stdout.strip()
        .endswith("certbot-like-obtain.1.gz")
    )
    for completion in (
        "/usr/share/bash-completion/completions/certbot-like",
        "/usr/share/zsh/vendor-completions/_certbot-like",
        "/usr/share/fish/vendor_completions.d/certbot-like.fish",
    ):
        assert "_CERTBOT_LIKE_COMPLETE" in Path(completion).read_text(), completion
    _ok(["systemd-analyze", "verify", str(UNIT_DIR / TIMER)])
    assert (
        "ExecStart=/usr/bin/certbot-like renew"
        in (UNIT_DIR / "certbot-like-renew.service").read_text()
    )
    assert WANTS_LINK.is_symlink(), "the timer is not enabled after install"

    # the installed binary obtains a certificate; status and doctor see the package's timer
    name = unique_name("deb")
    obtained = client.run("obtain", "-d", name, *client.standalone_args(), launcher=[str(BIN)])
    assert obtained.returncode == 0, obtained
    cert = client.live(name) / "cert.pem"
    cert_text = cert.read_text()
    status = client.run("schedule", "status", "--json", register=False, launcher=[str(BIN)])
    assert status.returncode == 0 and f'"{UNIT_DIR / TIMER}"' in status.stdout, status
    doctor = client.run("doctor", "--offline", register=False, launcher=[str(BIN)])
    assert "no renewal timer" not in doctor.stdout + doctor.stderr, doctor

    # the admin customizes the timer and turns it off: the package keeps both over upgrades
    DROP_IN.parent.mkdir(parents=True, exist_ok=True)
    DROP_IN.write_text("[Timer]\nRandomizedDelaySec=2h\n")
    _ok(["systemctl", "disable", TIMER])
    assert not WANTS_LINK.exists()
    _ok([*APT, "install", "--reinstall", str(deb)], timeout=600)
    assert not WANTS_LINK.exists(), "the upgrade enabled a timer the admin had disabled"
    assert DROP_IN.read_text() == "[Timer]\nRandomizedDelaySec=2h\n"
    _ok(["systemctl", "enable", TIMER])

    # apt remove: the client goes, the certificates and the admin's files stay
    _ok([*APT, "remove", PACKAGE], timeout=600)
    assert not BIN.exists() and not VENV.exists(), "files left under /opt/venvs/certbot-like"
    assert cert.read_text() == cert_text
    assert DROP_IN.exists()
    assert _snapshot(LETSENCRYPT) == before, "apt remove changed /etc/letsencrypt"

    # reinstall: the same certificate is there for the new copy; purge removes the enabling
    _ok([*APT, "install", str(deb)], timeout=600)
    listed = client.run("certificates", register=False, launcher=[str(BIN)])
    assert listed.returncode == 0 and name in listed.stdout, listed
    assert WANTS_LINK.is_symlink()
    _ok([*APT, "purge", PACKAGE], timeout=600)
    assert not WANTS_LINK.exists() and not (UNIT_DIR / TIMER).exists()
    assert cert.read_text() == cert_text
    assert _snapshot(LETSENCRYPT) == before, "apt purge changed /etc/letsencrypt"
