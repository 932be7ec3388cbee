"""HTTPS transport to the CA with hard bounds: HTTPS only, size cap, per-request deadline.

Every response body is read in chunks up to :data:`MAX_BODY` bytes and within the request's
deadline, so a CA that stalls, trickles or floods cannot hang or exhaust the client. Network
and TLS failures become :mod:`certbot_like.errors` here, with the host in the message.
"""

from __future__ import annotations

import json
import logging
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
    """A requests session to one CA with timeouts, size bounds and a shared rate limit."""

    def __init__(
        self,
        ca_bundle: Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        limiter: RateLimiter = UNLIMITED,
    ) -> None:
        import requests

        self.limiter = limiter
        self._requests = requests
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.verify: str | bool = str(ca_bundle) if ca_bundle else True
        self.timeout = timeout
        self.request_count = 0

    def close(self) -> None:
        self.session.close()

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
        require_https(url, f"{method} request")
        requests = self._requests
        host = urlparse(url).netloc
        self.limiter.acquire()
        deadline = time.monotonic() + self.timeout
        self.request_count += 1
        try:
            resp = self.session.request(
                method,
                url,
                data=body,
                headers=dict(headers or {}),
                stream=True,
                timeout=(min(10.0, self.timeout), self.timeout),
                verify=self.verify,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "certificate verify failed" in str(exc):
                raise CaTrustError(
                    f"The CA's HTTPS certificate at {host} is not trusted",
                    "If the CA uses a private root, pass --ca-bundle FILE",
                ) from None
            raise TemporaryAcmeError(
                f"TLS handshake with the CA at {host} failed", "Check --server and the network"
            ) from None
        except requests.exceptions.Timeout:
            raise TemporaryAcmeError(
                f"The CA at {host} did not answer within {self.timeout:g} s", "Try again later"
            ) from None
        except requests.exceptions.RequestException as exc:
            reason = _short_reason(exc)
            raise TemporaryAcmeError(
                f"Cannot reach the CA at {host}: {reason}",
                "Check --server, DNS and the network, then try again",
            ) from None
        try:
            data = self._read_bounded(resp, deadline, host)
        finally:
            resp.close()
        logger.debug("%s %s -> %d (%d bytes)", method, url, resp.status_code, len(data))
        return HttpResponse(url=url, status=resp.status_code, headers=resp.headers, body=data)

    def _read_bounded(self, resp: Any, deadline: float, host: str) -> bytes:
        requests = self._requests
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY:
            raise ProtocolViolation(
                f"The CA at {host} sent a {declared}-byte response",
                f"Responses are limited to {MAX_BODY} bytes",
            )
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in resp.iter_content(chunk_size=65536):
                size += len(chunk)
                if size > MAX_BODY:
                    raise ProtocolViolation(
                        f"The CA at {host} sent more than {MAX_BODY} bytes",
                        "Responses are limited in size; nothing was stored",
                    )
                if time.monotonic() > deadline:
                    raise TemporaryAcmeError(
                        f"The CA at {host} sent its answer too slowly", "Try again later"
                    )
                chunks.append(chunk)
        except requests.exceptions.RequestException:
            raise TemporaryAcmeError(
                f"The connection to the CA at {host} broke or timed out while reading its answer",
                "Try again later",
            ) from None
        return b"".join(chunks)


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
