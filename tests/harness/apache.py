"""Run Debian's ``apache2`` on a generated configuration tree (Debian or RHEL layout).

The tree is copied from ``tests/data/apache/<layout>/`` into a world-readable temporary
directory (Apache's children run as ``www-data`` and must read the document roots and the
challenge files), placeholders are replaced, and a control script ``ctl`` is written:
``exec apache2 -d ROOT -f ROOT/<main file> "$@"`` with the variables Debian's configuration
uses. The tests pass that script as ``--apache-ctl``. A missing ``apache2`` is a failure
(:class:`~tests.harness.servers.ServerMissing`), never a skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from tests.harness.servers import (
    ServerMissing,
    free_port,
    popen_logged,
    require_binary,
    wait_until,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "apache"
SYSTEM_MODULES = Path("/usr/lib/apache2/modules")
SYSTEM_MODS_AVAILABLE = Path("/etc/apache2/mods-available")
DEBIAN_ENABLED = ("mpm_event", "authz_core", "authz_host", "alias", "dir", "mime")
DEBIAN_ENABLED += ("setenvif", "rewrite")
DEBIAN_SITES = ("000-default.conf", "shop.conf", "blog.conf", "legacy.conf")
MAIN = {"debian": "apache2.conf", "rhel": "conf/httpd.conf"}
DOCROOTS = ("default", "html", "a", "b", "c", "d", "e", "old")


def world_readable_dir(prefix: str) -> Path:
    """A fresh directory under /tmp that Apache's user can traverse."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


@dataclass
class ApacheServer:
    """One apache2 on a generated tree: HTTP on ``http_port``, HTTPS (once installed) on
    ``https_port``; ``names`` maps placeholders (``A``, ``B`` ...) to the site names."""

    root: Path
    layout: str
    http_port: int
    https_port: int
    names: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def ctl(self) -> Path:
        return self.root / "ctl"

    @property
    def main_config(self) -> Path:
        return self.root / MAIN[self.layout]

    @property
    def error_log(self) -> Path:
        return self.root / "logs" / ("error.log" if self.layout == "debian" else "error_log")

    def start(self) -> ApacheServer:
        """Start apache2 in the foreground and wait until it answers on the HTTP port.

        Raises:
            ServerMissing: apache2 is not installed.
        """
        log = self.root / "logs" / "stdout.log"
        self.proc = popen_logged([str(self.ctl), "-DFOREGROUND"], log)
        wait_until(lambda: self.get("localhost", "/")[0] > 0, 15, "apache2", self.proc, log)
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- what a user sees --------------------------------------------------------------

    def get(
        self, host: str, path: str = "/", *, https: bool = False
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, lower-cased headers, body) of ``GET path`` with ``Host: host``; status 0
        when nothing answers. Redirects are not followed; HTTPS is not verified here (see
        :meth:`certificate`)."""
        import http.client

        port = self.https_port if https else self.http_port
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            if https:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                raw = socket.create_connection(("127.0.0.1", port), timeout=5)
                conn.sock = context.wrap_socket(raw, server_hostname=host)
            conn.request("GET", path, headers={"Host": host})
            response = conn.getresponse()
            headers = {k.lower(): v for k, v in response.getheaders()}
            return response.status, headers, response.read()
        except OSError:
            return 0, {}, b""
        finally:
            conn.close()

    def certificate(self, host: str, root_pem: bytes | None = None) -> x509.Certificate | None:
        """The leaf certificate the HTTPS port presents for SNI *host* (``None`` when the
        handshake fails); with *root_pem* the chain and the name must verify against it."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if root_pem is None:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            context.load_verify_locations(cadata=root_pem.decode())
        try:
            with (
                socket.create_connection(("127.0.0.1", self.https_port), timeout=5) as raw,
                context.wrap_socket(raw, server_hostname=host) as tls,
            ):
                der = tls.getpeercert(binary_form=True)
        except (OSError, ssl.SSLError):
            return None
        return x509.load_der_x509_certificate(der) if der else None

    def wait_for_certificate(
        self,
        host: str,
        check: Callable[[x509.Certificate | None], bool],
        timeout: float = 10,
        root_pem: bytes | None = None,
    ) -> x509.Certificate | None:
        """Poll the HTTPS port until the certificate for *host* passes *check*."""
        deadline = time.monotonic() + timeout
        while True:
            cert = self.certificate(host, root_pem)
            if check(cert) or time.monotonic() > deadline:
                return cert
            time.sleep(0.05)

    def snapshot(self) -> dict[str, bytes | str]:
        """Every configuration file (bytes) and link (``-> target``) under the tree, except
        logs and runtime files: what a byte-for-byte restore must give back."""
        found: dict[str, bytes | str] = {}
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root).as_posix()
            if relative.split("/", 1)[0] in ("logs", "run", "lock", "www", "modules"):
                continue
            if path.is_symlink():
                found[relative] = "-> " + os.readlink(path)
            elif path.is_file():
                found[relative] = path.read_bytes()
        return found

    def plugin_args(self) -> list[str]:
        """The flags that point certbot-like's apache plugin at this server."""
        return [
            "--apache-server-root",
            str(self.root),
            "--apache-ctl",
            str(self.ctl),
            "--http-01-port",
            str(self.http_port),
            "--https-port",
            str(self.https_port),
        ]


def make_tree(
    layout: str,
    root: Path,
    names: Mapping[str, str],
    http_port: int,
    https_port: int | None = None,
) -> ApacheServer:
    """Generate the *layout* tree (``debian`` or ``rhel``) under *root* (created).

    Raises:
        ServerMissing: apache2 or its modules are not installed.
    """
    binary = require_binary("apache2")
    if not SYSTEM_MODULES.is_dir():
        raise ServerMissing(f"{SYSTEM_MODULES} is missing; install apache2")
    https_port = https_port or free_port()
    user = "www-data"
    values = {
        "ROOT": str(root),
        "HTTP_PORT": str(http_port),
        "HTTPS_PORT": str(https_port),
        "USER": user,
        "GROUP": user,
        **names,
    }
    render_tree(layout, root, values)
    for folder in ("logs", "run", "lock"):
        (root / folder).mkdir(exist_ok=True)
    for docroot in DOCROOTS:
        (root / "www" / docroot).mkdir(parents=True, exist_ok=True)
        (root / "www" / docroot / "index.html").write_text(f"site {docroot}\n")
    for path in [root, *root.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    if layout == "debian":
        _debian_links(root)
    else:
        (root / "modules").symlink_to(SYSTEM_MODULES)
    main = MAIN[layout]
    env = {
        "APACHE_RUN_DIR": root / "run",
        "APACHE_LOCK_DIR": root / "lock",
        "APACHE_LOG_DIR": root / "logs",
        "APACHE_PID_FILE": root / "run" / "apache2.pid",
        "APACHE_RUN_USER": user,
        "APACHE_RUN_GROUP": user,
    }
    exports = "".join(f"export {key}={value}\n" for key, value in env.items())
    ctl = root / "ctl"
    ctl.write_text(f'#!/bin/sh\n{exports}exec {binary} -d {root} -f {root / main} "$@"\n')
    ctl.chmod(0o755)
    return ApacheServer(root, layout, http_port, https_port, dict(names))


def render_tree(layout: str, root: Path, values: Mapping[str, str]) -> None:
    """Copy ``tests/data/apache/<layout>`` to *root* with ``@KEY@`` replaced by *values*
    (no system files, no links: enough for Augeas, not for Apache)."""
    shutil.copytree(DATA / layout, root, dirs_exist_ok=True)
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            text = path.read_text()
            for key, value in values.items():
                text = text.replace(f"@{key}@", value)
            path.write_text(text)
            path.chmod(0o644)


def _debian_links(root: Path) -> None:
    if not SYSTEM_MODS_AVAILABLE.is_dir():
        raise ServerMissing(f"{SYSTEM_MODS_AVAILABLE} is missing; install apache2")
    shutil.copytree(SYSTEM_MODS_AVAILABLE, root / "mods-available")
    (root / "mods-enabled").mkdir(mode=0o755)
    for module in DEBIAN_ENABLED:
        for extension in (".load", ".conf"):
            if (root / "mods-available" / f"{module}{extension}").exists():
                (root / "mods-enabled" / f"{module}{extension}").symlink_to(
                    f"../mods-available/{module}{extension}"
                )
    link_debian_sites(root)


def link_debian_sites(root: Path) -> None:
    """The ``sites-enabled`` and ``conf-enabled`` links of the Debian tree (a2ensite's)."""
    for folder in ("sites-enabled", "conf-enabled"):
        (root / folder).mkdir(mode=0o755, exist_ok=True)
    for site in DEBIAN_SITES:
        (root / "sites-enabled" / site).symlink_to(f"../sites-available/{site}")
    (root / "conf-enabled" / "security.conf").symlink_to("../conf-available/security.conf")
