"""A TCP proxy that adds network latency on loopback (this kernel has no ``netem``).

Each direction of every connection is delayed by half of a round-trip time: a chunk read
at time *t* is written on at ``t + rtt / 2``, chunks in the order they arrived, so one
request and its response through the proxy take one RTT more than without it. A new
connection costs one RTT more (the TCP handshake a real network would have): nothing is
released before ``accepted + rtt``, so the first request's bytes leave at
``accepted + 1.5 rtt`` at the earliest. TLS and everything else pass through untouched.

The proxy runs on an asyncio loop in a daemon thread of the process that starts it (the
benchmark's process, which otherwise only waits for its children), so it needs no port
other than its own. ``rtt`` may be changed while it runs; it applies to chunks read from
then on.

    python -m tests.bench.latency --listen 8443 --target 127.0.0.1:14000 --rtt 50
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

_CHUNK = 65536


@dataclass
class LatencyProxy:
    """Listens on 127.0.0.1:*port* (0: a free one) and forwards to *target* with delay."""

    target_port: int
    rtt: float  # seconds
    port: int = 0
    target_host: str = "127.0.0.1"
    handshake: bool = True  # one RTT more for each new connection
    connections: int = 0  # accepted so far
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _server: asyncio.Server | None = field(default=None, repr=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, repr=False)

    def start(self) -> LatencyProxy:
        """Start listening (returns once the port is bound).

        Raises:
            OSError: the port cannot be bound.
        """
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._listen())
            except BaseException as exc:  # handed to start()'s caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name=f"latency-{self.port}", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Close the listener and every open connection; wait for the thread to end."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(close(), loop)
        thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        loop = asyncio.get_running_loop()
        opened = loop.time() + (self.rtt if self.handshake else 0.0)
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.close()
            self._tasks.discard(task)
            return
        for w in (writer, up_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, opened), self._pipe(up_reader, writer, opened)
            )
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for w in (writer, up_writer):
                w.close()
            self._tasks.discard(task)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, opened: float
    ) -> None:
        """Copy one direction: each chunk released at max(arrival, opened) + rtt/2."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read() -> None:
            try:
                while data := await reader.read(_CHUNK):
                    queue.put_nowait((max(loop.time(), opened) + self.rtt / 2, data))
            except OSError:
                pass
            queue.put_nowait((max(loop.time(), opened) + self.rtt / 2, b""))

        reading = asyncio.create_task(read())
        try:
            while True:
                release, data = await queue.get()
                wait = release - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
        finally:
            reading.cancel()


@dataclass
class PathPair:
    """The two proxies of a bench run: client -> ACME API and CA validator -> responder.

    *acme* listens on a free port and forwards to Pebble's ACME port; *validation* listens
    on Pebble's ``httpPort`` (where its validator connects) and forwards to
    *responder_port*, where the client's standalone or webroot server must listen.
    """

    acme: LatencyProxy
    validation: LatencyProxy

    @property
    def responder_port(self) -> int:
        return self.validation.target_port

    def set_rtt(self, rtt: float) -> None:
        self.acme.rtt = self.validation.rtt = rtt


@contextlib.contextmanager
def proxied(acme_port: int, http_port: int, rtt: float) -> Iterator[PathPair]:
    """Both proxies for a Pebble on *acme_port* validating HTTP-01 on *http_port*.

    Raises:
        OSError: *http_port* is taken (something else serves Pebble's HTTP-01 port).
    """
    responder_port = _free_port()
    acme = LatencyProxy(acme_port, rtt).start()
    try:
        validation = LatencyProxy(responder_port, rtt, port=http_port).start()
    except BaseException:
        acme.stop()
        raise
    try:
        yield PathPair(acme, validation)
    finally:
        validation.stop()
        acme.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=int, default=0, help="port on 127.0.0.1 (0: free)")
    parser.add_argument("--target", required=True, help="HOST:PORT to forward to")
    parser.add_argument("--rtt", type=float, default=50.0, help="round-trip time in ms")
    parser.add_argument("--no-handshake", action="store_true", help="no RTT per connection")
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")
    proxy = LatencyProxy(
        int(port), args.rtt / 1000, args.listen, host or "127.0.0.1", not args.no_handshake
    ).start()
    print(f"127.0.0.1:{proxy.port} -> {args.target}, RTT {args.rtt:g} ms", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
