"""The bench's latency proxy (tests/bench/latency.py) against a real TCP echo server."""

from __future__ import annotations

import socket
import socketserver
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.bench.latency import LatencyProxy, proxied

SLACK = 0.08  # scheduling on a shared, loaded 2-core machine (still < the next RTT step)


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


class _Hello(socketserver.BaseRequestHandler):
    """Speaks first: one line as soon as the connection is accepted."""

    def handle(self) -> None:
        self.request.sendall(b"hello\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # the default 5 drops SYNs of 64 concurrent connects


def _serve(handler: type[socketserver.BaseRequestHandler]) -> Iterator[int]:
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def echo() -> Iterator[int]:
    yield from _serve(_Echo)


@pytest.fixture
def hello() -> Iterator[int]:
    yield from _serve(_Hello)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    out = bytearray()
    while len(out) < size:
        chunk = sock.recv(size - len(out))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def _round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    started = time.perf_counter()
    sock.sendall(payload)
    assert _recv_exactly(sock, len(payload)) == payload
    return time.perf_counter() - started


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


@pytest.mark.parametrize("rtt", [0.05, 0.2])
def test_request_response_takes_one_rtt_more(echo: int, rtt: float) -> None:
    with LatencyProxy(echo, rtt, handshake=False) as proxy, _connect(proxy.port) as sock:
        walls = [_round_trip(sock) for _ in range(3)]
    assert all(rtt <= w < rtt + SLACK for w in walls), walls


def test_each_direction_is_delayed_by_half(hello: int) -> None:
    """A server that speaks first is heard RTT/2 after the connection opens, not RTT."""
    with LatencyProxy(hello, 0.2, handshake=False) as proxy:
        started = time.perf_counter()
        with _connect(proxy.port) as sock:
            assert _recv_exactly(sock, 6) == b"hello\n"
            wall = time.perf_counter() - started
    assert 0.1 <= wall < 0.1 + SLACK


def test_new_connection_costs_one_rtt_more(echo: int) -> None:
    rtt = 0.1
    with LatencyProxy(echo, rtt) as proxy:
        started = time.perf_counter()
        with _connect(proxy.port) as sock:
            first = _round_trip(sock)
            connected = time.perf_counter() - started
            second = _round_trip(sock)
    assert 2 * rtt <= connected < 2 * rtt + SLACK, connected
    assert first >= 2 * rtt - SLACK / 4  # connect() returns at once; the wait is in the data
    assert rtt <= second < rtt + SLACK, second


def test_order_of_bytes_is_kept(echo: int) -> None:
    """Many writes of varying size, sent back to back, come back in the same order."""
    chunks = [bytes([i % 251]) * (1 + (i * 7919) % 5000) for i in range(300)]
    payload = b"".join(chunks)
    with LatencyProxy(echo, 0.02) as proxy, _connect(proxy.port) as sock:

        def send() -> None:
            for chunk in chunks:
                sock.sendall(chunk)

        sender = threading.Thread(target=send)
        sender.start()
        got = _recv_exactly(sock, len(payload))
        sender.join()
    assert got == payload


def test_many_concurrent_connections_wait_in_parallel(echo: int) -> None:
    rtt, count = 0.1, 64

    def one(_: int) -> float:
        with _connect(proxy.port) as sock:
            return _round_trip(sock, b"x" * 1000)

    with LatencyProxy(echo, rtt) as proxy:
        started = time.perf_counter()
        with ThreadPoolExecutor(count) as pool:
            walls = list(pool.map(one, range(count)))
        total = time.perf_counter() - started
        assert proxy.connections == count
    assert min(walls) >= 2 * rtt - SLACK / 4
    # serialised, 64 connections would take 12.8 s; the margin is for a loaded 2-core CI box
    assert total < 2 * rtt + 2.0


@pytest.fixture
def echo_process(tmp_path: Path) -> Iterator[int]:
    """The echo server in a process of its own: in the bench the proxy's process only
    proxies (the servers and clients are other processes)."""
    port_file = tmp_path / "port"
    code = (
        "import socketserver, sys\n"
        "class E(socketserver.BaseRequestHandler):\n"
        "    def handle(self):\n"
        "        while d := self.request.recv(65536): self.request.sendall(d)\n"
        "class S(socketserver.ThreadingTCPServer):\n"
        "    daemon_threads = allow_reuse_address = True\n"
        "    request_queue_size = 256\n"
        "s = S(('127.0.0.1', 0), E)\n"
        "open(sys.argv[1], 'w').write(str(s.server_address[1]))\n"
        "s.serve_forever()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(port_file)])
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        yield int(port_file.read_text())
    finally:
        proc.terminate()
        proc.wait()


def test_adds_under_a_millisecond_at_rtt_zero(echo_process: int) -> None:
    """The proxy is not the bottleneck: at RTT 0 a request with its own connection costs
    less than 1 ms more than straight to the server (median of 200 pairs)."""
    echo = echo_process

    def request(port: int) -> float:
        started = time.perf_counter()
        with _connect(port) as sock:
            _round_trip(sock, b"GET / HTTP/1.1\r\n\r\n")
        return time.perf_counter() - started

    with LatencyProxy(echo, 0.0) as proxy:
        for port in (echo, proxy.port):  # warm up both paths
            request(port)
        # interleaved pairs, so a burst of other work on the machine hits both alike
        pairs = [(request(echo), request(proxy.port)) for _ in range(200)]
    added = statistics.median(through - direct for direct, through in pairs)
    assert added < 0.001, (added, statistics.median(d for d, _ in pairs))


def test_rtt_can_change_while_running(echo: int) -> None:
    with LatencyProxy(echo, 0.0, handshake=False) as proxy, _connect(proxy.port) as sock:
        fast = _round_trip(sock)
        proxy.rtt = 0.1
        slow = _round_trip(sock)
    assert fast < 0.02 and 0.1 <= slow < 0.1 + SLACK


def test_proxied_pair_puts_the_validation_proxy_on_the_http_port(echo: int) -> None:
    """proxied(): the validation proxy listens on the CA's HTTP-01 port and forwards to a
    fresh responder port; the ACME proxy forwards to the CA's port."""
    http_port = socket.create_server(("127.0.0.1", 0))
    port = http_port.getsockname()[1]
    http_port.close()
    responder = socket.create_server(("127.0.0.1", 0))
    with proxied(echo, port, 0.05) as pair:
        assert pair.validation.port == port
        assert pair.acme.target_port == echo
        with _connect(pair.acme.port) as sock:
            assert _round_trip(sock) >= 0.1  # handshake RTT + one request
        assert pair.responder_port not in (echo, port)
        pair.set_rtt(0.0)
        assert pair.acme.rtt == pair.validation.rtt == 0.0
    responder.close()
    with pytest.raises(OSError):  # closed with the block
        _connect(port).close()
