"""certbot-like as users install it: a wheel of this tree in a venv of its own.

The bench never measures the editable development install (``.venv``): setuptools' editable
finder costs every interpreter start a few ms, and with ``PYTHONDONTWRITEBYTECODE=1`` (set on
this machine) an editable install recompiles every module it imports in every process. The
bench instead builds a wheel of the files git sees (tracked, plus untracked ones it does not
ignore; copied to a scratch directory, so no stale ``build/`` leaks in), installs it with pip
into ``.venv-bench-ours/`` (pip compiles the bytecode of every file it installs), and keeps
that venv while the wheel's content hash is unchanged. ``--base-rev REV`` builds a commit
the same way into ``.venv-bench-base/``.

    .venv/bin/python -m tests.bench.ours     # build and install, print the binary
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.bench.measure import BenchError

ROOT = Path(__file__).resolve().parents[2]
OURS_VENV = ROOT / ".venv-bench-ours"
BASE_VENV = ROOT / ".venv-bench-base"
STAMP = "wheel.sha256"
# The fleet bench runs ours against PostgreSQL (psycopg); the extra is installed with it.
EXTRAS = "postgresql"
VERBOSE_SOURCE = "# code object from "


@dataclass(frozen=True)
class Installed:
    """A wheel installed into a venv: its ``certbot-like`` and the wheel's content hash."""

    binary: Path
    wheel_sha256: str
    reused: bool


def _run(argv: list[str], env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc.stdout


def copy_worktree(root: Path, dest: Path) -> None:
    """Copy the files git sees in *root*'s working tree (tracked and untracked, not ignored).

    Raises BenchError when git fails.
    """
    listed = _run(["git", "-C", str(root), "ls-files", "-z", "-co", "--exclude-standard"])
    for name in sorted(set(filter(None, listed.split("\0")))):
        src = root / name
        if src.is_file():  # a tracked file deleted in the working tree is not there
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def export_revision(root: Path, rev: str) -> Callable[[Path], None]:
    """A function that writes the files of commit *rev* of *root* into a directory."""

    def export(dest: Path) -> None:
        archive = dest.parent / "rev.tar"
        _run(["git", "-C", str(root), "archive", "--format=tar", "-o", str(archive), rev])
        _run(["tar", "-x", "-f", str(archive), "-C", str(dest)])

    return export


def wheel_digest(wheel: Path) -> str:
    """SHA-256 over the names and contents of the wheel's files (not the zip's timestamps)."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            digest.update(name.encode() + b"\0")
            digest.update(hashlib.sha256(archive.read(name)).digest())
    return digest.hexdigest()


def build_wheel(populate: Callable[[Path], None], scratch: Path) -> Path:
    """Write the sources with *populate* into *scratch*/src and build their wheel.

    Raises BenchError when pip fails or builds no wheel.
    """
    src, out = scratch / "src", scratch / "dist"
    src.mkdir(parents=True)
    populate(src)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)])
    wheels = sorted(out.glob("certbot_like-*.whl"))
    if len(wheels) != 1:
        raise BenchError(f"expected one certbot_like wheel in {out}, found {wheels}")
    return wheels[0]


def uncompiled(venv: Path) -> list[Path]:
    """Modules of certbot-like in *venv* without bytecode next to them (pip compiles all)."""
    site = next((venv / "lib").glob("python3*/site-packages"))
    missing = []
    for package in sorted(site.glob("certbot_like*")):
        for source in sorted(package.rglob("*.py")):
            if not Path(importlib.util.cache_from_source(str(source))).is_file():
                missing.append(source)
    return missing


def install(populate: Callable[[Path], None], venv: Path) -> Installed:
    """Build a wheel of the sources *populate* writes and install it into *venv*.

    The venv is kept when the stamp in it names the same wheel content hash; otherwise it is
    made anew. pip runs without PYTHONDONTWRITEBYTECODE, and afterwards every module of
    certbot-like must have its bytecode. Raises BenchError when the build, the install or
    that check fails.
    """
    binary = venv / "bin" / "certbot-like"
    stamp = venv / STAMP
    with tempfile.TemporaryDirectory(prefix="certbot-like-wheel-") as tmp:
        wheel = build_wheel(populate, Path(tmp))
        digest = wheel_digest(wheel)
        if binary.exists() and stamp.is_file() and stamp.read_text().strip() == digest:
            return Installed(binary, digest, reused=True)
        print(f"Installing {wheel.name} ({digest[:12]}) into {venv} ...", flush=True)
        shutil.rmtree(venv, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(venv)])
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--compile"]
        _run([*pip, f"{wheel}[{EXTRAS}]"], env)
    missing = uncompiled(venv)
    if missing:
        raise BenchError(f"{len(missing)} module(s) installed without bytecode: {missing[:3]}")
    (venv / ".gitignore").write_text("*\n")
    stamp.write_text(digest + "\n")
    return Installed(binary, digest, reused=False)


def ensure_ours(root: Path = ROOT, venv: Path = OURS_VENV) -> Installed:
    """This working tree's certbot-like, installed from its wheel. Raises BenchError."""
    return install(lambda dest: copy_worktree(root, dest), venv)


def ensure_base(rev: str, root: Path = ROOT, venv: Path = BASE_VENV) -> Installed:
    """Commit *rev* of certbot-like, installed from its wheel. Raises BenchError."""
    return install(export_revision(root, rev), venv)


def compiled_from_source(verbose_output: str) -> list[str]:
    """The modules a ``python -v`` run compiled from source (it found no usable bytecode).

    ``python -v`` prints ``# code object from '…pyc'`` for bytecode it loaded and
    ``# code object from …py`` (unquoted) for a module it had to compile.
    """
    found = []
    for line in verbose_output.splitlines():
        if line.startswith(VERBOSE_SOURCE):
            path = line[len(VERBOSE_SOURCE) :].strip()
            if not path.startswith("'"):
                found.append(path)
    return found


if __name__ == "__main__":
    installed = ensure_ours()
    state = "reused" if installed.reused else "installed"
    print(f"{installed.binary} ({state}, wheel {installed.wheel_sha256[:12]})")
