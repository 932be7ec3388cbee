"""A real nginx started from a generated tree on free ports, and how to talk to it.

The tree looks like Debian's (``nginx.conf`` including ``sites-enabled/*``, each site a
symlink into ``sites-available``); everything nginx writes (pid, logs, temp files) stays
inside it. nginx runs in the foreground (``daemon off``) as a child of the test, and
``ctl`` is the wrapper the plugin is given as ``--nginx-ctl``. A missing nginx binary
raises :class:`~tests.harness.servers.ServerMissing`: the tests fail, they never skip.
"""

from __future__ import annotations

import datetime
import http.client
import os
import signal
import socket
import ssl
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.harness.servers import popen_logged, require_binary, wait_until

MAIN_CONF = """\
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log;

events {{
    worker_connections 64;
}}

http {{
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    default_type text/plain;

    include {prefix}/sites-enabled/*;
}}
"""


CTL_NAME = "nginx-ctl"


def write_ctl(prefix: Path, binary: str | None = None) -> Path:
    """Write ``PREFIX/nginx-ctl``: nginx with ``-p PREFIX -c PREFIX/nginx.conf`` and the
    error log inside the tree, then the plugin's own flags (``-t``, ``-T``, ``-s reload``)."""
    binary = binary or require_binary("nginx")
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    ctl = prefix / CTL_NAME
    ctl.write_text(
        f"#!/bin/sh\nexec {binary} -p {prefix} -c {prefix}/nginx.conf "
        f'-e {prefix}/logs/error.log "$@"\n'
    )
    ctl.chmod(0o755)
    return ctl


@dataclass
class NginxServer:
    """One nginx with its own tree: ``prefix`` holds nginx.conf, sites, logs and the pid."""

    prefix: Path
    http_port: int
    https_port: int
    proc: subprocess.Popen[bytes] | None = None
    binary: str = field(default_factory=lambda: require_binary("nginx"))

    @classmethod
    def create(cls, prefix: Path, http_port: int, https_port: int) -> NginxServer:
        """Write the tree (no site yet) and the ``--nginx-ctl`` wrapper."""
        server = cls(prefix, http_port, https_port)
        for sub in ("logs", "tmp", "sites-available", "sites-enabled", "www"):
            (prefix / sub).mkdir(parents=True, exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers read the tmp tree
        (prefix / "nginx.conf").write_text(MAIN_CONF.format(prefix=prefix, user=user))
        (prefix / "www" / "index.html").write_text("hello from nginx\n")
        server.ctl.write_text(
            f"#!/bin/sh\nexec {server.binary} -p {prefix} -c {prefix}/nginx.conf "
            f'-e {prefix}/logs/error.log "$@"\n'
        )
        server.ctl.chmod(0o755)
        return server

    @property
    def ctl(self) -> Path:
        return self.prefix / CTL_NAME

    def site(self, name: str) -> Path:
        """The file of site *name* (in sites-available)."""
        return self.prefix / "sites-available" / name

    def write_site(self, name: str, text: str) -> Path:
        """Write a site (``{http}``, ``{https}`` and ``{prefix}`` are filled in) and enable
        it with a symlink, as Debian's ``sites-enabled`` does."""
        path = self.site(name)
        path.write_text(
            text.replace("{http}", str(self.http_port))
            .replace("{https}", str(self.https_port))
            .replace("{prefix}", str(self.prefix))
        )
        link = self.prefix / "sites-enabled" / name
        if not link.is_symlink():
            link.symlink_to(path)
        return path

    def plugin_args(self) -> list[str]:
        """The flags pointing certbot-like's nginx plugin at this server."""
        return [
            "--nginx-server-root",
            str(self.prefix),
            "--nginx-ctl",
            str(self.ctl),
            "--http-01-port",
            str(self.http_port),
            "--https-port",
            str(self.https_port),
        ]

    def start(self, wait_port: int | None = None) -> NginxServer:
        """Run nginx in the foreground; return once it accepts connections on *wait_port*
        (default: the HTTP port)."""
        log = self.prefix / "logs" / "stderr.log"
        self.proc = popen_logged(
            [
                self.binary,
                "-p",
                str(self.prefix),
                "-c",
                str(self.prefix / "nginx.conf"),
                "-e",
                str(self.prefix / "logs" / "error.log"),
                "-g",
                "daemon off;",
            ],
            log,
        )
        port = self.http_port if wait_port is None else wait_port
        wait_until(lambda: _accepts(port), 10, "nginx", self.proc, log)
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """Stop nginx (fast shutdown) and wait for it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def error_log(self) -> str:
        path = self.prefix / "logs" / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def self_signed(cert_path: Path, key_path: Path, names: tuple[str, ...]) -> x509.Certificate:
    """Write a self-signed ECDSA certificate for *names* and its key (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert


def _accepts(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


def peer_certificate(port: int, server_name: str, host: str = "127.0.0.1") -> bytes:
    """The DER certificate nginx presents on *port* for SNI *server_name* (not verified)."""
    context = ssl.create_default_context(cafile=None)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((host, port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def get(
    port: int, host_header: str, path: str = "/", *, tls: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """A GET to 127.0.0.1:*port* with ``Host: host_header`` (and SNI when *tls*); returns
    the status, the headers (lower-case names) and the body."""
    conn: http.client.HTTPConnection
    if tls:
        context = ssl.create_default_context(cafile=None)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = _SniConnection("127.0.0.1", port, timeout=5, context=context, sni=host_header)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host_header})
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


class _SniConnection(http.client.HTTPSConnection):
    """HTTPS to an IP address with a chosen SNI name."""

    def __init__(self, host: str, port: int, *, timeout: float, context: ssl.SSLContext, sni: str):
        super().__init__(host, port, timeout=timeout, context=context)
        self._sni = sni
        self._ctx = context

    def connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(raw, server_hostname=self._sni)
