"""A small threaded accept loop that starts and stops at once.

``socketserver.serve_forever`` polls every 0.5 s for shutdown; this loop waits on a selector
holding the listening socket and a wakeup socket pair instead, so :meth:`Listener.stop`
returns within milliseconds. Each connection is handled in its own daemon thread (CAs
validate from several places at once); open connections are shut down on stop.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

CONNECTION_TIMEOUT = 10.0
MAX_CONNECTIONS = 128
_STOP_JOIN_BUDGET = 0.1

Handler = Callable[[socket.socket], None]
Wrapper = Callable[[socket.socket], socket.socket]


class Listener:
    """Serves connections accepted on an already listening socket.

    ``handle(conn)`` runs in a thread per connection; exceptions it raises are client
    noise, logged at DEBUG. ``wrap`` (e.g. ``SSLContext.wrap_socket`` without handshake)
    turns each accepted socket into the object given to ``handle``. The listener owns
    *sock* and closes it on :meth:`stop`.
    """

    def __init__(
        self,
        sock: socket.socket,
        handle: Handler,
        *,
        name: str,
        wrap: Wrapper | None = None,
        timeout: float = CONNECTION_TIMEOUT,
    ) -> None:
        self._sock = sock
        self._handle = handle
        self._wrap = wrap
        self._timeout = timeout
        self.name = name
        self.address: tuple[Any, ...] = tuple(sock.getsockname())
        self._wake_r, self._wake_w = socket.socketpair()
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._workers: set[threading.Thread] = set()
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self) -> None:
        """Start accepting; return once the accept loop is waiting for connections.

        Raises:
            RuntimeError: the listener was already stopped.
        """
        if self._closed:
            raise RuntimeError(f"{self.name}: listener already stopped")
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        self._ready.wait()

    def stop(self) -> None:
        """Stop accepting, close the socket and shut down open connections (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        if self._thread is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
            self._thread.join(timeout=1.0)
        self._sock.close()
        self._wake_r.close()
        self._wake_w.close()
        with self._lock:
            conns = list(self._conns)
            workers = list(self._workers)
        for conn in conns:
            # The plain socket method: also wakes a thread blocked inside an SSLSocket
            # without touching its SSL state from this thread.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(conn, socket.SHUT_RDWR)
        deadline = time.monotonic() + _STOP_JOIN_BUDGET
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        logger.debug("%s: stopped listening on %s", self.name, self.address)

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            self._ready.set()
            while not self._stopping.is_set():
                events = selector.select()
                if any(key.fileobj is self._wake_r for key, _ in events):
                    return
                self._accept_all()

    def _accept_all(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, peer = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                logger.debug("%s: accept failed: %s", self.name, exc)
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self._stopping.wait(0.05)  # do not spin while out of resources
                return
            self._start_worker(conn, peer)

    def _start_worker(self, conn: socket.socket, peer: Any) -> None:
        with self._lock:
            busy = len(self._conns) >= MAX_CONNECTIONS
        if busy:
            logger.debug("%s: too many connections, dropping %s", self.name, peer)
            conn.close()
            return
        try:
            conn.setblocking(True)
            conn.settimeout(self._timeout)
            served = self._wrap(conn) if self._wrap is not None else conn
        except (OSError, ValueError) as exc:
            logger.debug("%s: cannot set up connection from %s: %s", self.name, peer, exc)
            conn.close()
            return
        worker = threading.Thread(
            target=self._serve, args=(served, peer), name=f"{self.name}-conn", daemon=True
        )
        with self._lock:
            self._conns.add(served)
            self._workers.add(worker)
        worker.start()

    def _serve(self, conn: socket.socket, peer: Any) -> None:
        try:
            self._handle(conn)
        except Exception as exc:  # whatever a client does is noise to us
            logger.debug("%s: connection from %s ended: %r", self.name, peer, exc)
        finally:
            with self._lock:
                self._conns.discard(conn)
            try:
                conn.close()
            finally:
                with self._lock:
                    self._workers.discard(threading.current_thread())
