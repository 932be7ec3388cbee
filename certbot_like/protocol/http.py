"""HTTPS transport to the CA with hard bounds: HTTPS only, size cap, per-request deadline.

Every response body is read in chunks up to :data:`MAX_BODY` bytes and within the request's
deadline, so a CA that stalls, trickles or floods cannot hang or exhaust the client. Network
and TLS failures become :mod:`certbot_like.errors` here, with the host in the message.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from certbot_like import __version__
from certbot_like.errors import CaTrustError, ProtocolViolation, TemporaryAcmeError, UsageError

logger = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # 1 MiB: a certificate chain is a few KiB, a directory less
DEFAULT_TIMEOUT = 30.0
USER_AGENT = f"certbot-like/{__version__}"


@dataclass(frozen=True)
class HttpResponse:
    """A fully read response."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value if isinstance(value, str) else None

    def json(self) -> Any:
        """The body as JSON.

        Raises:
            ProtocolViolation: the body is not JSON.
        """
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            raise ProtocolViolation(
                f"The CA sent a response that is not JSON from {self.url}",
                "Check --server points at an ACME directory",
            ) from None

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object.

        Raises:
            ProtocolViolation: the body is not a JSON object.
        """
        data = self.json()
        if not isinstance(data, dict):
            raise ProtocolViolation(
                f"The CA sent a JSON {type(data).__name__} where an object "
                f"was expected from {self.url}"
            )
        return data


def _parse_url(url: str) -> Any:
    """``urlparse`` plus a host check; None where urllib raises (``https://[``, NFKC hosts)."""
    try:
        parsed = urlparse(url)
        _ = parsed.hostname, parsed.port
    except ValueError:
        return None
    return parsed


def require_https(url: object, what: str) -> str:
    """Check that a URL (from the operator or the CA) is an absolute ``https://`` URL.

    Raises:
        ProtocolViolation: the URL is missing, not a string or not HTTPS.
    """
    if not isinstance(url, str) or len(url) > 2048:
        raise ProtocolViolation(f"The CA sent no valid URL for {what}")
    parsed = _parse_url(url)
    if (
        parsed is None
        or parsed.scheme != "https"
        or not parsed.hostname
        or any(c in url for c in "\r\n \t")
    ):
        raise ProtocolViolation(
            f"The CA sent a non-HTTPS URL for {what}: {url[:80]!r}", "ACME traffic must use HTTPS"
        )
    return url


def check_server_url(url: str) -> str:
    """Validate the operator's ``--server`` value.

    Raises:
        UsageError: not an https:// URL.
    """
    parsed = _parse_url(url)
    if parsed is None or parsed.scheme != "https" or not parsed.hostname:
        raise UsageError(
            f"--server must be an https:// ACME directory URL, not {url!r}",
            "For example https://acme-v02.api.letsencrypt.org/directory",
        )
    return url


class RateLimiter:
    """A token bucket shared by every thread talking to CAs: at most *rate* requests per
    second on average, bursts of up to *burst*. ``rate <= 0`` means no limit."""

    def __init__(self, rate: float, burst: int | None = None) -> None:
        self.rate = rate
        self.capacity = float(burst if burst is not None else max(1, int(rate // 2) or 1))
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until a request may be sent."""
        if self.rate <= 0:
            return
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            time.sleep(wait)


UNLIMITED = RateLimiter(0)


class Transport:
    """Kept-alive HTTPS connections (stdlib ``http.client``) to CAs, with timeouts, size
    bounds and a shared rate limit. The standard library is used rather than requests to save
    ~50 ms of start-up per process (docs/adr/0006-stdlib-http-transport.md)."""

    def __init__(
        self,
        ca_bundle: Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        limiter: RateLimiter = UNLIMITED,
        user_agent: str | None = None,
    ) -> None:
        self.limiter = limiter
        self.user_agent = user_agent or USER_AGENT
        self.ca_bundle = ca_bundle or _env_bundle()
        self.timeout = timeout
        self.request_count = 0
        self._context: Any = None
        self._connections: dict[tuple[str, int], Any] = {}

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()

    def _ssl_context(self) -> Any:
        if self._context is None:
            import ssl

            self._context = ssl.create_default_context(
                cafile=str(self.ca_bundle) if self.ca_bundle else None
            )
        return self._context

    def _connection(self, host: str, port: int) -> tuple[Any, bool]:
        """A kept-alive connection to (host, port) and whether it was used before."""
        import http.client

        conn = self._connections.get((host, port))
        if conn is not None:
            return conn, True
        conn = http.client.HTTPSConnection(
            host, port, timeout=min(10.0, self.timeout), context=self._ssl_context()
        )
        self._connections[(host, port)] = conn
        return conn, False

    def _drop(self, host: str, port: int) -> None:
        conn = self._connections.pop((host, port), None)
        if conn is not None:
            conn.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """Send one request and read the whole bounded response.

        Raises:
            CaTrustError: the CA's TLS certificate did not verify.
            TemporaryAcmeError: connection failure, timeout or deadline exceeded.
            ProtocolViolation: the response is larger than :data:`MAX_BODY`.
        """
        import http.client
        import ssl

        require_https(url, f"{method} request")
        parsed = urlparse(url)
        host, port = parsed.hostname or "", parsed.port or 443
        where = parsed.netloc
        target = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
        send_headers = {"User-Agent": self.user_agent, **(headers or {})}
        self.limiter.acquire()
        self.request_count += 1
        for attempt in (1, 2):
            conn, reused = self._connection(host, port)
            deadline = time.monotonic() + self.timeout
            try:
                conn.request(method, target, body=body, headers=send_headers)
                if conn.sock is not None:
                    conn.sock.settimeout(self.timeout)
                resp = conn.getresponse()
                status, reply_headers = resp.status, _headers(resp)
                try:
                    data = self._read_bounded(resp, deadline, where, reply_headers)
                finally:
                    resp.close()  # the connection stays open for the next request
                if resp.will_close:
                    self._drop(host, port)
                break
            except ssl.SSLCertVerificationError:
                self._drop(host, port)
                raise CaTrustError(
                    f"The CA's HTTPS certificate at {where} is not trusted",
                    "If the CA uses a private root, pass --ca-bundle FILE",
                ) from None
            except ssl.SSLError:
                self._drop(host, port)
                raise TemporaryAcmeError(
                    f"TLS handshake with the CA at {where} failed", "Check --server and the network"
                ) from None
            except TimeoutError:
                self._drop(host, port)
                raise TemporaryAcmeError(
                    f"The CA at {where} did not answer within {self.timeout:g} s",
                    "Try again later",
                ) from None
            except (http.client.HTTPException, ConnectionError) as exc:
                self._drop(host, port)
                stale = isinstance(
                    exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                )
                if reused and stale and attempt == 1:
                    continue  # the server had closed the idle kept-alive connection
                raise TemporaryAcmeError(
                    f"Cannot reach the CA at {where}: {_short_reason(exc)}",
                    "Check --server, DNS and the network, then try again",
                ) from None
            except OSError as exc:
                self._drop(host, port)
                raise TemporaryAcmeError(
                    f"Cannot reach the CA at {where}: {_short_reason(exc)}",
                    "Check --server, DNS and the network, then try again",
                ) from None
            except BaseException:
                self._drop(host, port)
                raise
        logger.debug("%s %s -> %d (%d bytes)", method, url, status, len(data))
        return HttpResponse(url=url, status=status, headers=reply_headers, body=data)

    def _read_bounded(
        self, resp: Any, deadline: float, where: str, headers: Mapping[str, str]
    ) -> bytes:
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY:
            raise ProtocolViolation(
                f"The CA at {where} sent a {declared}-byte response",
                f"Responses are limited to {MAX_BODY} bytes",
            )
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_BODY:
                raise ProtocolViolation(
                    f"The CA at {where} sent more than {MAX_BODY} bytes",
                    "Responses are limited in size; nothing was stored",
                )
            if time.monotonic() > deadline:
                raise TemporaryAcmeError(
                    f"The CA at {where} sent its answer too slowly", "Try again later"
                )
            chunks.append(chunk)
        return b"".join(chunks)


class _Headers(dict[str, str]):
    """Response headers with case-insensitive lookup; repeated headers joined by ", "."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


def _headers(resp: Any) -> _Headers:
    out = _Headers()
    for name, value in resp.getheaders():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _env_bundle() -> Path | None:
    """certbot users set REQUESTS_CA_BUNDLE for private CAs; honour it (and SSL_CERT_FILE,
    which the ssl module reads itself)."""
    value = os.environ.get("REQUESTS_CA_BUNDLE")
    return Path(value) if value else None


def _short_reason(exc: Exception) -> str:
    text = str(exc)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "No route to host",
        "Temporary failure in name resolution",
        "Network is unreachable",
        "Connection reset",
        "Remote end closed connection",
    ):
        if marker in text:
            return marker.lower()
    return type(exc).__name__
