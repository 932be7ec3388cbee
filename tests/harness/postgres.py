"""A real PostgreSQL 15 (Debian's ``postgresql`` package) for the fleet tests.

``initdb`` refuses to run as root, and the tests do: the cluster belongs to an unprivileged
user (``nobody``), lives in a fresh directory under ``/tmp`` (pytest's own temp directories
are 0700 root), listens on a free loopback port only (no Unix socket) and demands a
password (scram-sha-256) that clients read from a ``PGPASSFILE``, as a production node would.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness.leaks import register_secret
from tests.harness.servers import ServerMissing, free_port, wait_until

PG_BINDIRS = ("/usr/lib/postgresql/15/bin",)
USER = "nobody"


def pg_binary(name: str) -> str:
    """The path of PostgreSQL's *name* (Debian keeps them off PATH)."""
    for directory in PG_BINDIRS:
        path = os.path.join(directory, name)
        if os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if found is None:
        raise ServerMissing(
            f"{name} is not installed; run `make deps` (apt-get install postgresql)"
        )
    return found


@dataclass
class Postgres:
    """One cluster: ``start``, ``stop`` (kept on disk), ``start`` again on the same port."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cl-pg-")))
    port: int = 0
    password: str = field(default_factory=lambda: "pw-" + secrets.token_hex(12))
    role: str = "fleet"
    _databases: int = 0

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    @property
    def passfile(self) -> Path:
        return self.root / "pgpass"

    def _as_owner(self) -> dict[str, Any]:
        if os.geteuid() != 0:
            return {}
        entry = pwd.getpwnam(USER)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _run(self, *args: str) -> None:
        subprocess.run(
            list(args), check=True, capture_output=True, cwd=self.root, **self._as_owner()
        )

    def start(self) -> Postgres:
        """initdb (first time), then start and wait until it accepts connections."""
        register_secret(self.password)
        new = not self.data.exists()
        if new:
            self._init()
        self._run(
            pg_binary("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30",
            "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''",
            "start",
        )  # fmt: skip
        wait_until(self._ready, 30, "postgres")
        if new:
            self._admin_sql(f"CREATE ROLE {self.role} LOGIN PASSWORD '{self.password}'")
        return self

    def _init(self) -> None:
        self.port = self.port or free_port()
        os.chmod(self.root, 0o755)
        owner = self._as_owner()
        if owner:
            os.chown(self.root, owner["user"], owner["group"])
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if owner:
            os.chown(pwfile, owner["user"], owner["group"])
        self._run(
            pg_binary("initdb"), "-D", str(self.data), "-U", "postgres", "--pwfile", str(pwfile),
            "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        pwfile.unlink()
        self.passfile.write_text(f"127.0.0.1:*:*:*:{self.password}\n")
        self.passfile.chmod(0o600)

    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(
                self.admin_url("postgres"), password=self.password, connect_timeout=1
            ):
                return True
        except psycopg.OperationalError:
            return False

    def stop(self) -> None:
        """Stop fast (connections are cut, as when a database restarts)."""
        if (self.data / "postmaster.pid").exists():
            self._run(pg_binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def env(self) -> dict[str, str]:
        """What a client process needs: the password file (never the password)."""
        return {"PGPASSFILE": str(self.passfile)}

    def admin_url(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def url(self, dbname: str) -> str:
        """The store URL of *dbname* for the least-privileged role (no password inside)."""
        return f"postgresql://{self.role}@127.0.0.1:{self.port}/{dbname}"

    def _admin_sql(self, *statements: str, dbname: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(
            self.admin_url(dbname), autocommit=True, password=self.password
        ) as conn:
            for statement in statements:
                conn.execute(statement.encode())

    def new_database(self, prefix: str = "fleet") -> str:
        """A fresh database owned by the fleet role; its store URL."""
        self._databases += 1
        name = f"{prefix}_{os.getpid()}_{self._databases}"
        self._admin_sql(f"CREATE DATABASE {name} OWNER {self.role}")
        self._admin_sql(f"REVOKE ALL ON DATABASE {name} FROM PUBLIC")
        return self.url(name)

    def dump(self, dbname: str) -> bytes:
        """``pg_dump`` of *dbname* (as the administrator), as text."""
        result = subprocess.run(
            [pg_binary("pg_dump"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             dbname],
            check=True, capture_output=True, env={**os.environ, **self.env},
        )  # fmt: skip
        return result.stdout
