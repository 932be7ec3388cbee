"""The three clients as the benchmark runs them against one Pebble.

certbot-like and certbot share a command line (certbot's flag names), so one class drives
both; only how each trusts Pebble's TLS differs (``--ca-bundle`` for ours,
``REQUESTS_CA_BUNDLE`` for certbot). acme-tiny gets a key and CSR made by ``openssl`` in
the same timed shell command (key generation is part of every client's issuance) and a
webroot served on Pebble's HTTP-01 port while it runs.
"""

from __future__ import annotations

import functools
import http.server
import itertools
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from shlex import join, quote
from typing import Any

from certbot_like.storage.layout import Layout
from tests.bench.measure import Proc
from tests.harness.lineages import account_id, make_lineages
from tests.harness.servers import Pebble

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CERTBOT = ROOT / ".venv-certbot" / "bin" / "certbot"
BENCH_VENV = ROOT / ".venv-bench"
ACME_TINY_VERSION = "5.0.3"

_serial = itertools.count(1)


def fresh_names(tag: str, count: int) -> list[str]:
    """*count* names never used before in this run (no lineage or authorization reuse)."""
    k = next(_serial)
    return [f"{tag}{k}-{i}.bench.test" for i in range(count)]


def _check(argv: list[str], env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{join(argv)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


@dataclass
class CliClient:
    """certbot-like or certbot: same verbs and flags."""

    key: str  # "ours" or "certbot"
    binary: Path
    pebble: Pebble
    env: dict[str, str] = field(default_factory=dict)
    ca_args: list[str] = field(default_factory=list)
    renew_args: list[str] = field(default_factory=list)

    @classmethod
    def ours(cls, pebble: Pebble, binary: Path) -> CliClient:
        """certbot-like at *binary* (the bench's wheel install, ``tests/bench/ours.py``)."""
        return cls(
            "ours",
            binary,
            pebble,
            ca_args=["--ca-bundle", str(pebble.ca_bundle)],
            # --max-requests-per-second 0: Pebble on loopback needs no politeness limit.
            renew_args=["--jobs", "8", "--max-requests-per-second", "0"],
        )

    @classmethod
    def base(cls, pebble: Pebble, binary: Path) -> CliClient:
        """Another certbot-like build in certbot's place (``run.py --base``)."""
        ours = cls.ours(pebble, binary)
        return cls("certbot", binary, pebble, ca_args=ours.ca_args, renew_args=ours.renew_args)

    @classmethod
    def certbot(cls, pebble: Pebble, binary: Path) -> CliClient:
        return cls("certbot", binary, pebble, env={"REQUESTS_CA_BUNDLE": str(pebble.ca_bundle)})

    def proc(self, *args: str) -> Proc:
        return Proc([str(self.binary), *args], self.env)

    @staticmethod
    def dirs(config: Path, work: Path) -> list[str]:
        """--config-dir *config*; work and logs dirs under *work* (private per client)."""
        return [
            "--config-dir",
            str(config),
            "--work-dir",
            str(work / "work"),
            "--logs-dir",
            str(work / "logs"),
        ]

    def server_args(self) -> list[str]:
        return ["--server", self.pebble.directory_url, *self.ca_args, "-n"]

    def standalone_args(self) -> list[str]:
        port = str(self.pebble.http_port)
        return ["--standalone", "--http-01-address", "127.0.0.1", "--http-01-port", port]

    def register(self, config: Path, work: Path) -> str:
        """Register an account under *config* (not timed); return its id."""
        args = ["register", *self.dirs(config, work), *self.server_args()]
        _check(
            [str(self.binary), *args, "--agree-tos", "--register-unsafely-without-email"], self.env
        )
        return account_id(config)

    def obtain(self, config: Path, work: Path, names: list[str]) -> Proc:
        domains = [a for n in names for a in ("-d", n)]
        return self.proc(
            "certonly", *self.dirs(config, work), *self.server_args(), *self.standalone_args(),
            *domains,
        )  # fmt: skip

    def renew(self, config: Path, work: Path, *extra: str) -> Proc:
        args = ["renew", *self.dirs(config, work), "-n", "--no-random-sleep-on-renew"]
        if "--force-renewal" in extra:
            args += self.renew_args
        return self.proc(*args, *extra)

    def certificates(self, config: Path, work: Path) -> Proc:
        return self.proc("certificates", *self.dirs(config, work))

    def renewal_params(self, account: str) -> dict[str, Any]:
        """[renewalparams] as this client writes them for a standalone lineage on Pebble."""
        params: dict[str, Any] = {
            "account": account,
            "server": self.pebble.directory_url,
            "authenticator": "standalone",
            "key_type": "ecdsa",
            "http01_port": self.pebble.http_port,
            "http01_address": "127.0.0.1",
        }
        if self.ca_args:  # certbot-like (certbot reads REQUESTS_CA_BUNDLE instead)
            params["ca_bundle"] = str(self.pebble.ca_bundle)
        return params

    def make_tree(self, config: Path, work: Path, count: int, tag: str) -> list[str]:
        """Register an account and generate *count* renewable lineages for it."""
        account = self.register(config, work)
        names = fresh_names(tag, count)
        layout = Layout(config, work / "work", work / "logs")
        make_lineages(layout, names, self.renewal_params(account))
        return names

    def version(self) -> str:
        """The first line of ``--version`` (ours adds its libraries' versions below it)."""
        return _check([str(self.binary), "--version"]).strip().splitlines()[0]


def archive_versions(config: Path, name: str) -> int:
    """How many certificates the lineage *name* has in archive/ (one per issuance)."""
    return len(list((config / "archive" / name).glob("cert*.pem")))


class _ChallengeHandler(http.server.BaseHTTPRequestHandler):
    def __init__(self, *args: Any, acme_dir: Path, **kwargs: Any) -> None:
        self.acme_dir = acme_dir
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        token = self.path.rsplit("/", 1)[-1]
        path = self.acme_dir / token
        if not self.path.startswith("/.well-known/acme-challenge/") or not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class AcmeTiny:
    """acme-tiny with an RSA account key made beforehand and a webroot on Pebble's port."""

    binary: Path
    pebble: Pebble
    root: Path
    key: str = "acme-tiny"

    @property
    def acme_dir(self) -> Path:
        return self.root / "acme-challenge"

    @property
    def account_key(self) -> Path:
        return self.root / "account.key"

    def setup(self) -> None:
        """Make the account key and register it (one untimed issuance)."""
        self.acme_dir.mkdir(parents=True, exist_ok=True)
        _check(["openssl", "genrsa", "-out", str(self.account_key), "2048"])
        first = self.obtain(fresh_names("tinyreg", 1))
        with self.webroot():
            _check(first.argv, dict(first.env))

    def obtain(self, names: list[str]) -> Proc:
        """Key + CSR with openssl, then acme-tiny, as one shell command."""
        stem = self.root / names[0]
        san = ",".join(f"DNS:{n}" for n in names)
        keygen = [
            "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", f"{stem}.key", "-subj", f"/CN={names[0]}",
            "-addext", f"subjectAltName={san}", "-out", f"{stem}.csr",
        ]  # fmt: skip
        tiny = [
            str(self.binary), "--quiet", "--disable-check", "--account-key",
            str(self.account_key), "--csr", f"{stem}.csr", "--acme-dir", str(self.acme_dir),
            "--directory-url", self.pebble.directory_url,
        ]  # fmt: skip
        script = f"{join(keygen)} 2>/dev/null && {join(tiny)} > {quote(str(stem))}.crt"
        return Proc(["bash", "-c", script], {"SSL_CERT_FILE": str(self.pebble.ca_bundle)})

    def help(self) -> Proc:
        return Proc([str(self.binary), "--help"])

    @contextmanager
    def webroot(self) -> Iterator[None]:
        """Serve acme_dir on Pebble's HTTP-01 port (only while acme-tiny is measured)."""
        handler = functools.partial(_ChallengeHandler, acme_dir=self.acme_dir)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.pebble.http_port), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


def ensure_acme_tiny() -> Path:
    """acme-tiny from PyPI in its own venv .venv-bench/ (created on first use)."""
    binary = BENCH_VENV / "bin" / "acme-tiny"
    if not binary.exists():
        print(f"Installing acme-tiny {ACME_TINY_VERSION} into {BENCH_VENV} ...", flush=True)
        _check([sys.executable, "-m", "venv", str(BENCH_VENV)])
        pip = str(BENCH_VENV / "bin" / "pip")
        _check([pip, "install", "-q", f"acme-tiny=={ACME_TINY_VERSION}"])
    ignore = BENCH_VENV / ".gitignore"  # keep the venv out of `git status`
    if not ignore.exists():
        ignore.write_text("*\n")
    return binary


def acme_tiny_version() -> str:
    python = str(BENCH_VENV / "bin" / "python")
    code = "import importlib.metadata as m; print(m.version('acme-tiny'))"
    return "acme-tiny " + _check([python, "-c", code]).strip()
