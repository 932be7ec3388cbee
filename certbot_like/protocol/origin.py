"""Where a CA may send the client: its directory's origin, plus ``--ca-allow-origin``.

Every URL the client uses after the directory comes from the CA's answers (directory
entries, ``Location`` headers, order and authorization bodies, ``Link`` relations). A CA
endpoint that is compromised, misconfigured or impersonated, or a proxy that rewrites its
answers, could point those URLs at any host, and the client would send it JWS-signed
requests and fetch certificates from it. :class:`OriginPolicy` refuses every URL whose
origin (scheme, host, port) is not the directory URL's or one the operator allowed.

Origins are compared after normalisation (:func:`origin_of`): scheme and host in lower case,
the default port made explicit, internationalised names as A-labels (the stdlib ``idna``
codec, the one ``socket`` and ``ssl`` use to connect), one trailing dot dropped, IPv6
addresses without brackets and in their compressed form. Anything that does not normalise
(an unparsable URL, an invalid label) is refused, never guessed at.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import urlsplit

from certbot_like.errors import ConfigError, ForeignOriginError
from certbot_like.protocol.http import require_https

DEFAULT_PORTS = {"https": 443, "http": 80}
ORIGIN_HINT = "Nothing was sent there and nothing was stored"


class Origin(NamedTuple):
    """A normalised origin: ``host`` is ASCII, lower case, without trailing dot or brackets."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if DEFAULT_PORTS.get(self.scheme) == self.port else f":{self.port}"
        return f"{self.scheme}://{host}{port}"


def normalise_host(host: str) -> str | None:
    """*host* (as ``urlsplit().hostname`` gives it) in comparable form; None if invalid.

    IP addresses become their compressed text (``::0001`` -> ``::1``), names their lower-case
    A-labels without one trailing dot (``Bücher.Example.`` -> ``xn--bcher-kva.example``).
    """
    if not host:
        return None
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    if not name or ".." in name or name.startswith(".") or name.endswith("."):
        return None
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    if any(not (c.isalnum() or c in "-_.") for c in ascii_name):
        return None
    return ascii_name.lower()


def origin_of(url: str) -> Origin | None:
    """The normalised origin of an absolute ``http(s)://`` *url*; None if it has none."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or host is None:
        return None
    normal = normalise_host(host)
    if normal is None:
        return None
    return Origin(scheme, normal, DEFAULT_PORTS[scheme] if port is None else port)


def parse_origin(text: str) -> Origin:
    """An operator's ``--ca-allow-origin`` value: ``https://host[:port]`` (a final ``/`` is
    accepted, no path, query, fragment or user name).

    Raises:
        ValueError: *text* is not such an origin (the message says why).
    """
    value = text.strip()
    origin = origin_of(value)
    if origin is None or origin.scheme != "https":
        raise ValueError("it is not an https://host[:port] origin")
    parts = urlsplit(value)
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError("an origin has no path, query, fragment or user name")
    return origin


class OriginPolicy:
    """The origins one CA may send the client to: its directory URL's, plus *allowed*.

    Raises:
        ConfigError: an *allowed* value (``--ca-allow-origin``, ``ca_allow_origin`` in a
            renewal conf) is not an ``https://host[:port]`` origin, or the directory URL
            has no origin.
    """

    def __init__(self, directory_url: str, allowed: Iterable[str] = ()) -> None:
        home = origin_of(directory_url)
        if home is None:
            raise ConfigError(
                f"The ACME directory URL {directory_url[:200]!r} has no https origin",
                "Pass --server https://host[:port]/path",
            )
        extra: list[Origin] = []
        for value in allowed:
            try:
                origin = parse_origin(value)
            except ValueError as exc:
                raise ConfigError(
                    f"CA origin {value[:200]!r} (--ca-allow-origin or ca_allow_origin in the "
                    f"renewal conf) is invalid: {exc}",
                    "Give an origin like https://acme.example.com:8443",
                ) from None
            if origin != home and origin not in extra:
                extra.append(origin)
        self.home = home
        self.extra = tuple(extra)
        self._allowed = frozenset((home, *extra))

    def allows(self, url: str) -> bool:
        """Whether *url* is on one of the allowed origins."""
        return origin_of(url) in self._allowed

    def describe(self) -> str:
        """The allowed origins for a message: the CA's own first."""
        if not self.extra:
            return f"its origin {self.home}"
        return f"its origin {self.home} or an allowed one ({', '.join(map(str, self.extra))})"

    def check(self, url: object, what: str) -> str:
        """*url* if it is an HTTPS URL on an allowed origin.

        Raises:
            ProtocolViolation: the URL is missing, malformed or not HTTPS.
            ForeignOriginError: the URL is on another origin.
        """
        checked = require_https(url, what)
        if self.allows(checked):
            return checked
        from certbot_like.protocol.problems import clean_text

        shown = clean_text(checked, 200)
        raise ForeignOriginError(
            f"The CA pointed {what} at {shown}, which is not {self.describe()}",
            f"{ORIGIN_HINT}; check --server and any proxy in between, and pass "
            "--ca-allow-origin ORIGIN only if the CA documents that host",
        )
