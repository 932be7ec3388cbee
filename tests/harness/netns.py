"""A network namespace per fleet node (``ip netns``), reaching only what the test forwards.

Each namespace has nothing but its own loopback: a node run inside it (``launcher``) cannot
reach another node, the host's services or anything else, except the ports the test
forwards. :meth:`NetNs.forward` opens a listening socket on ``127.0.0.1:PORT`` *inside* the
namespace (a thread enters it with ``setns(2)`` just to create the socket) and relays each
connection to ``127.0.0.1:PORT`` on the host, byte for byte: TLS stays end to end, so Pebble's
certificate for 127.0.0.1 still verifies. Making namespaces needs root; without them
:func:`unavailable_reason` says why (tests skip, or fail when
``CERTBOT_LIKE_REQUIRE_NETNS=1``).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Sequence

CLONE_NEWNET = 0x40000000
REQUIRE_ENV = "CERTBOT_LIKE_REQUIRE_NETNS"


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def unavailable_reason() -> str | None:
    """Why namespaces cannot be made here (None: they can)."""
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is missing"
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    probe = NetNs.create("probe")
    if probe is None:
        return "`ip netns add` failed"
    probe.delete()
    return None


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


class NetNs:
    """One namespace; ``launcher`` runs a command in it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._sockets: list[socket.socket] = []
        self._stop = threading.Event()

    @classmethod
    def create(cls, label: str) -> NetNs | None:
        """A new namespace with its loopback up (None when ``ip netns add`` fails)."""
        name = f"cl-{label}-{uuid.uuid4().hex[:8]}"
        if _ip("netns", "add", name).returncode != 0:
            return None
        made = cls(name)
        if _ip("netns", "exec", name, "ip", "link", "set", "lo", "up").returncode != 0:
            made.delete()
            return None
        return made

    def launcher(self, command: Sequence[str]) -> list[str]:
        """*command* run inside this namespace."""
        return ["ip", "netns", "exec", self.name, *command]

    def forward(self, port: int) -> None:
        """Relay ``127.0.0.1:port`` inside the namespace to the host's ``127.0.0.1:port``."""
        made: list[socket.socket] = []
        failure: list[BaseException] = []

        def enter_and_listen() -> None:
            try:
                with open(f"/run/netns/{self.name}") as handle:
                    _setns(handle.fileno())  # this thread only; it ends right after
                listener = socket.create_server(("127.0.0.1", port))
                made.append(listener)
            except BaseException as exc:
                failure.append(exc)

        thread = threading.Thread(target=enter_and_listen)
        thread.start()
        thread.join()
        if failure:
            raise failure[0]
        listener = made[0]
        self._sockets.append(listener)
        threading.Thread(target=self._accept, args=(listener, port), daemon=True).start()

    def _accept(self, listener: socket.socket, port: int) -> None:
        while not self._stop.is_set():
            try:
                inner, _ = listener.accept()
            except OSError:
                return
            try:
                outer = socket.create_connection(("127.0.0.1", port), timeout=10)
            except OSError:
                inner.close()
                continue
            outer.settimeout(None)
            for src, dst in ((inner, outer), (outer, inner)):
                threading.Thread(target=_pump, args=(src, dst), daemon=True).start()

    def reaches(self, port: int) -> bool:
        """Whether a process in this namespace can connect to ``127.0.0.1:port``."""
        probe = (
            "import socket,sys; s=socket.socket(); "
            f"sys.exit(s.connect_ex(('127.0.0.1', {port})) != 0)"
        )
        done = subprocess.run(self.launcher(["python3", "-c", probe]), check=False)
        return done.returncode == 0

    def delete(self) -> None:
        """Stop forwarding and remove the namespace."""
        self._stop.set()
        for sock in self._sockets:
            sock.close()
        _ip("netns", "delete", self.name)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
