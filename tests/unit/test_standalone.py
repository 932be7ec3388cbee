"""The standalone authenticator, against real sockets on free 127.0.0.1 ports."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import logging
import secrets
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pytest
from certbot_like_standalone import PLUGIN, StandaloneOptions
from certbot_like_standalone import binding as binding_mod
from certbot_like_standalone.authenticator import StandaloneAuthenticator
from certbot_like_standalone.tlsalpn import acme_identifier_value, sni_name
from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from certbot_like.errors import PluginError
from certbot_like.interfaces import (
    Authenticator,
    ChallengeTask,
    HookResult,
    Identifier,
    PluginContext,
)

ACME_IDENTIFIER = ObjectIdentifier("1.3.6.1.5.5.7.1.31")
HOST = "127.0.0.1"


class FakeDisplay:
    def __init__(self) -> None:
        self.messages: list[str] = []

    @property
    def interactive(self) -> bool:
        return False

    def notify(self, message: str) -> None:
        self.messages.append(message)

    def pause(self, message: str) -> None:
        raise PluginError("No one can answer", message)


class FakeHooks:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def run(self, command: str, env: Mapping[str, str], *, what: str) -> HookResult:
        self.calls.append(command)
        return HookResult(0, "", "")


def free_port(host: str = HOST, family: socket.AddressFamily = socket.AF_INET) -> int:
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = HOST) -> bool:
    """Bind and listen the way a server restarting on the port would (SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(1)
        except OSError:
            return False
    return True


def make_task(
    kind: str = "http-01", name: str = "a.test", ident_kind: str = "dns"
) -> ChallengeTask:
    token = secrets.token_urlsafe(32)
    assert len(token) == 43
    return ChallengeTask(
        identifier=Identifier(ident_kind, name),
        kind=kind,
        token=token,
        key_authorization=token + ".thumb",
    )


@dataclass
class Harness:
    auth: StandaloneAuthenticator
    http_port: int
    tls_port: int
    work_dir: Path
    tasks: list[ChallengeTask] = field(default_factory=list)

    def task(self, *args: Any, **kwargs: Any) -> ChallengeTask:
        task = make_task(*args, **kwargs)
        self.tasks.append(task)
        return task


@pytest.fixture
def context(tmp_path: Path) -> PluginContext:
    return PluginContext(
        config_dir=tmp_path / "config",
        work_dir=tmp_path / "work",
        logs_dir=tmp_path / "logs",
        display=FakeDisplay(),
        hooks=FakeHooks(),
    )


@pytest.fixture
def make_auth(context: PluginContext) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(**overrides: Any) -> Harness:
        values: dict[str, Any] = {
            "http01_port": free_port(),
            "http01_address": HOST,
            "tls_alpn_01_port": free_port(),
            "tls_alpn_01_address": HOST,
        }
        values.update(overrides)
        options = StandaloneOptions(**values)
        harness = Harness(
            StandaloneAuthenticator(options, context),
            options.http01_port,
            options.tls_alpn_01_port,
            context.work_dir,
        )
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.auth.cleanup(harness.tasks)
        harness.auth.cleanup(harness.tasks)


@pytest.fixture
def harness(make_auth: Callable[..., Harness]) -> Harness:
    return make_auth()


def fetch(port: int, path: str, method: str = "GET") -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request(method, path, headers={"Host": "whatever.example"})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type", ""), resp.read()
    finally:
        conn.close()


def tls_handshake(port: int, sni: str) -> tuple[x509.Certificate, str | None]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["acme-tls/1"])
    with (
        socket.create_connection((HOST, port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=sni) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        alpn = tls.selected_alpn_protocol()
    assert der is not None
    return x509.load_der_x509_certificate(der), alpn


def check_challenge_cert(cert: x509.Certificate, task: ChallengeTask) -> None:
    ext = cert.extensions.get_extension_for_oid(ACME_IDENTIFIER)
    assert ext.critical
    assert isinstance(ext.value, x509.UnrecognizedExtension)
    digest = hashlib.sha256(task.key_authorization.encode()).digest()
    assert ext.value.value == b"\x04\x20" + digest
    assert task.tls_alpn_digest == digest


# --- the plugin spec ---------------------------------------------------------------------


def test_spec_and_options() -> None:
    assert PLUGIN.name == "standalone"
    assert PLUGIN.authenticator and not PLUGIN.installer
    assert PLUGIN.challenge_types == ("http-01", "tls-alpn-01")
    assert PLUGIN.load_factory() is StandaloneAuthenticator
    flags = {f.name: f.metadata["flags"] for f in fields(StandaloneOptions)}
    assert flags == {
        "http01_port": ("--http-01-port",),
        "http01_address": ("--http-01-address",),
        "tls_alpn_01_port": ("--tls-alpn-01-port",),
        "tls_alpn_01_address": ("--tls-alpn-01-address",),
    }
    assert StandaloneOptions() == StandaloneOptions(80, "", 443, "")
    assert all(f.metadata["help"] for f in fields(StandaloneOptions))


def test_package_import_is_light() -> None:
    code = (
        "import sys, certbot_like_standalone\n"
        "heavy = {'ssl', 'socket', 'cryptography', 'certbot_like_standalone.authenticator'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_is_an_authenticator(harness: Harness) -> None:
    assert isinstance(harness.auth, Authenticator)


def test_preferred_challenges(harness: Harness) -> None:
    both = ["http-01", "tls-alpn-01"]
    assert list(harness.auth.preferred_challenges(Identifier("dns", "a.test"))) == both
    assert list(harness.auth.preferred_challenges(Identifier("ip", "192.0.2.1"))) == both
    assert list(harness.auth.preferred_challenges(Identifier("dns", "*.a.test"))) == []


# --- HTTP-01 -------------------------------------------------------------------------------


def test_http01_answers_known_tokens_only(harness: Harness) -> None:
    task = harness.task()
    harness.auth.prepare(["http-01"])
    harness.auth.perform([task])
    port = harness.http_port

    assert fetch(port, task.http_path) == (200, "text/plain", task.key_authorization.encode())
    status, ctype, body = fetch(port, task.http_path, method="HEAD")
    assert (status, ctype, body) == (200, "text/plain", b"")
    for path in (
        "/.well-known/acme-challenge/" + make_task().token,
        "/.well-known/acme-challenge/",
        "/.well-known/acme-challenge",
        "/.well-known/acme-challenge/../../etc/passwd",
        "/",
        "/" + task.token,
    ):
        assert fetch(port, path)[0] == 404, path
    assert fetch(port, task.http_path, method="POST")[0] == 501


def test_http01_keep_alive_and_http10(harness: Harness) -> None:
    task = harness.task()
    harness.auth.perform([task])  # not prepared: bound on the fly
    conn = http.client.HTTPConnection(HOST, harness.http_port, timeout=5)
    try:
        absolute = f"http://a.test{task.http_path}"
        for path, status in (
            (task.http_path, 200),
            ("/nope", 404),
            (absolute, 200),
            (task.http_path + "?x=1", 200),
        ):
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            assert resp.status == status
            assert not resp.will_close
    finally:
        conn.close()

    with socket.create_connection((HOST, harness.http_port), timeout=5) as raw:
        raw.sendall(f"GET {task.http_path} HTTP/1.0\r\n\r\n".encode())
        reply = b""
        while chunk := raw.recv(4096):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert body == task.key_authorization.encode()


def test_http01_concurrent_connections(harness: Harness) -> None:
    tasks = [harness.task(name=f"n{i}.test") for i in range(5)]
    harness.auth.prepare(["http-01"])
    harness.auth.perform(tasks)
    # An idle connection must not block the others.
    with (
        socket.create_connection((HOST, harness.http_port), timeout=5),
        ThreadPoolExecutor(max_workers=10) as pool,
    ):
        results = list(pool.map(lambda t: fetch(harness.http_port, t.http_path), tasks * 4))
    assert [r[2] for r in results] == [t.key_authorization.encode() for t in tasks * 4]


# --- TLS-ALPN-01 ---------------------------------------------------------------------------


def test_tls_alpn_dns_identifier(harness: Harness) -> None:
    task = harness.task("tls-alpn-01", "a.test")
    other = harness.task("tls-alpn-01", "b.test")
    harness.auth.prepare(["tls-alpn-01"])
    harness.auth.perform([task, other])

    for t in (task, other):
        cert, alpn = tls_handshake(harness.tls_port, t.identifier.value)
        assert alpn == "acme-tls/1"
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [t.identifier.value]
        assert san.get_values_for_type(x509.IPAddress) == []
        check_challenge_cert(cert, t)

    with pytest.raises((ssl.SSLError, ConnectionError)):
        tls_handshake(harness.tls_port, "unknown.test")
    # The PEM files were deleted as soon as they were loaded.
    assert list(harness.work_dir.iterdir()) == []


def test_tls_alpn_ip_identifier(harness: Harness) -> None:
    task = harness.task("tls-alpn-01", "127.0.0.1", ident_kind="ip")
    harness.auth.perform([task])
    assert sni_name(task.identifier) == "1.0.0.127.in-addr.arpa"
    cert, alpn = tls_handshake(harness.tls_port, "1.0.0.127.in-addr.arpa")
    assert alpn == "acme-tls/1"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == []
    check_challenge_cert(cert, task)


def test_sni_names_and_extension_encoding() -> None:
    assert sni_name(Identifier("ip", "::1")).endswith(".ip6.arpa")
    assert sni_name(Identifier("dns", "A.Test")) == "a.test"
    assert acme_identifier_value(bytes(32)) == b"\x04\x20" + bytes(32)
    with pytest.raises(ValueError):
        acme_identifier_value(b"short")


# --- ports ---------------------------------------------------------------------------------


def test_busy_http_port(make_auth: Callable[..., Harness]) -> None:
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        h = make_auth(http01_port=port)
        with pytest.raises(PluginError) as info:
            h.auth.prepare(["http-01", "tls-alpn-01"])
    assert f"Port {port} on {HOST} is already in use" in str(info.value)
    assert "--http-01-port" in (info.value.hint or "")
    assert "\n" not in str(info.value)
    assert port_is_free(h.tls_port)


def test_busy_tls_port_leaves_nothing_bound(make_auth: Callable[..., Harness]) -> None:
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        h = make_auth(tls_alpn_01_port=port)
        with pytest.raises(PluginError, match=f"Port {port} "):
            h.auth.prepare(["http-01", "tls-alpn-01"])
    # HTTP-01 was bound first and must have been released.
    with socket.socket() as again:
        again.bind((HOST, h.http_port))


def test_busy_port_at_perform_time(make_auth: Callable[..., Harness]) -> None:
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen(1)
        h = make_auth(http01_port=busy.getsockname()[1])
        task = h.task()
        with pytest.raises(PluginError, match="already in use"):
            h.auth.perform([task])
        h.auth.cleanup([task])


def test_same_port_for_both_types(make_auth: Callable[..., Harness]) -> None:
    port = free_port()
    h = make_auth(http01_port=port, tls_alpn_01_port=port)
    with pytest.raises(PluginError, match="cannot both listen"):
        h.auth.prepare(["http-01", "tls-alpn-01"])
    assert port_is_free(h.http_port)


def test_permission_denied_hint(
    make_auth: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(*args: Any, **kwargs: Any) -> socket.socket:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(binding_mod, "_bind_one", denied)
    h = make_auth(http01_port=80, http01_address="")
    with pytest.raises(PluginError) as info:
        h.auth.prepare(["http-01"])
    assert "Permission denied to listen on port 80 on all interfaces" in str(info.value)
    assert "root" in (info.value.hint or "")


def test_all_interfaces_falls_back_to_ipv4(monkeypatch: pytest.MonkeyPatch) -> None:
    real = binding_mod._bind_one

    def no_ipv6(family: socket.AddressFamily, *args: Any, **kwargs: Any) -> socket.socket:
        if family == socket.AF_INET6:
            raise OSError(errno.EAFNOSUPPORT, "Address family not supported")
        return real(family, *args, **kwargs)

    monkeypatch.setattr(binding_mod, "_bind_one", no_ipv6)
    any_v4 = "0.0.0.0"  # noqa: S104 - that is the point
    endpoint = binding_mod.Endpoint("http-01", "", free_port(any_v4), "-p", "-a", "x")
    with binding_mod.bind(endpoint) as sock:
        assert sock.family == socket.AF_INET
        assert sock.getsockname() == (any_v4, endpoint.port)


def test_all_interfaces_dual_stack(make_auth: Callable[..., Harness]) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        port = free_port("::", socket.AF_INET6)
    except OSError:
        pytest.skip("IPv6 unavailable")
    h = make_auth(http01_port=port, http01_address="")
    task = h.task()
    h.auth.perform([task])
    assert fetch(port, task.http_path)[0] == 200  # IPv4 client on the IPv6 socket


def test_invalid_port_and_address(make_auth: Callable[..., Harness]) -> None:
    with pytest.raises(PluginError, match="Invalid port 0"):
        make_auth(http01_port=0).auth.prepare(["http-01"])
    with pytest.raises(PluginError, match="not assigned to this machine"):
        make_auth(http01_address="192.0.2.1").auth.prepare(["http-01"])


# --- lifecycle -----------------------------------------------------------------------------


def test_cleanup_is_fast_and_frees_ports(harness: Harness) -> None:
    tasks = [harness.task(), harness.task("tls-alpn-01")]
    harness.auth.prepare(["http-01", "tls-alpn-01"])
    harness.auth.perform(tasks)
    assert fetch(harness.http_port, tasks[0].http_path)[0] == 200
    tls_handshake(harness.tls_port, "a.test")
    # Connections left hanging: an idle keep-alive and a TLS client that never says hello.
    idle = http.client.HTTPConnection(HOST, harness.http_port, timeout=5)
    idle.request("GET", tasks[0].http_path)
    idle.getresponse().read()
    silent = socket.create_connection((HOST, harness.tls_port), timeout=5)
    try:
        start = time.monotonic()
        harness.auth.cleanup(tasks)
        # a hang guard, not a benchmark: hanging connections must not hold cleanup up for
        # their 10 s timeout (issuance timing is measured in `make bench`)
        assert time.monotonic() - start < 3.0
        assert silent.recv(1) == b""  # the server side was shut down
    finally:
        idle.close()
        silent.close()
    assert port_is_free(harness.http_port)
    assert port_is_free(harness.tls_port)
    harness.auth.cleanup(tasks)  # twice is fine
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, harness.http_port), timeout=5).close()


def test_cleanup_after_prepare_only(harness: Harness) -> None:
    harness.auth.prepare(["http-01", "tls-alpn-01"])
    assert not port_is_free(harness.http_port)
    start = time.monotonic()
    harness.auth.cleanup([make_task(), make_task("tls-alpn-01")])  # never performed
    assert time.monotonic() - start < 0.2
    assert port_is_free(harness.http_port)
    assert port_is_free(harness.tls_port)


def test_several_tasks_then_partial_cleanup(harness: Harness) -> None:
    http_tasks = [harness.task(name=f"h{i}.test") for i in range(3)]
    tls_tasks = [harness.task("tls-alpn-01", f"t{i}.test") for i in range(3)]
    harness.auth.prepare(["http-01", "tls-alpn-01"])
    harness.auth.perform(http_tasks + tls_tasks)

    with ThreadPoolExecutor(max_workers=6) as pool:
        http_results = list(pool.map(lambda t: fetch(harness.http_port, t.http_path), http_tasks))
        certs = list(
            pool.map(lambda t: tls_handshake(harness.tls_port, t.identifier.value), tls_tasks)
        )
    assert [r[0] for r in http_results] == [200, 200, 200]
    for (cert, _), task in zip(certs, tls_tasks, strict=True):
        check_challenge_cert(cert, task)

    harness.auth.cleanup([http_tasks[0], tls_tasks[0]])
    assert fetch(harness.http_port, http_tasks[0].http_path)[0] == 404
    assert fetch(harness.http_port, http_tasks[1].http_path)[0] == 200
    with pytest.raises((ssl.SSLError, ConnectionError)):
        tls_handshake(harness.tls_port, "t0.test")
    check_challenge_cert(tls_handshake(harness.tls_port, "t1.test")[0], tls_tasks[1])

    harness.auth.cleanup(http_tasks + tls_tasks)
    assert port_is_free(harness.http_port)
    assert port_is_free(harness.tls_port)


def test_perform_rejects_unsupported_type(harness: Harness) -> None:
    with pytest.raises(PluginError, match="cannot answer dns-01"):
        harness.auth.perform([make_task("dns-01")])


def test_perform_again_after_cleanup(harness: Harness) -> None:
    first = harness.task()
    harness.auth.perform([first])
    harness.auth.cleanup([first])
    second = harness.task()
    harness.auth.perform([second])
    assert fetch(harness.http_port, second.http_path)[0] == 200
    assert fetch(harness.http_port, first.http_path)[0] == 404


def test_no_error_logs_for_client_noise(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    task = harness.task()
    tls = harness.task("tls-alpn-01")
    harness.auth.perform([task, tls])
    with socket.create_connection((HOST, harness.http_port), timeout=5) as raw:
        raw.sendall(b"garbage\r\n\r\n")
        raw.recv(4096)
    with socket.create_connection((HOST, harness.tls_port), timeout=5) as raw:
        raw.sendall(b"not a client hello at all\r\n\r\n")
        with contextlib.suppress(ConnectionResetError):
            raw.recv(4096)
    harness.auth.cleanup([task, tls])
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("http-01" in r.getMessage() for r in caplog.records)  # noise goes to DEBUG
