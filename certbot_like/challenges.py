"""The ACME challenge types certbot-like knows, and the one parser for their names.

``--preferred-challenges`` on the command line and ``pref_challs`` in a renewal conf go
through :func:`parse_challenge_types`, so both accept the same spellings. The reference is
certbot 5.8: a comma-separated list, each item stripped of whitespace, ``http`` and ``dns``
standing for ``http-01`` and ``dns-01``, and an unknown name refused. On top of that, names
are case-insensitive, ``tls-alpn`` stands for ``tls-alpn-01`` (which certbot-like supports),
empty items (``http-01,``) are ignored, and repeated types are kept once, in their first
place. Everything certbot accepts is accepted here with the same meaning.
"""

from __future__ import annotations

from collections.abc import Iterable

from certbot_like.errors import UsageError

CHALLENGE_TYPES = ("http-01", "dns-01", "tls-alpn-01")

_ALIASES = {
    "http": "http-01",
    "dns": "dns-01",
    "tls-alpn": "tls-alpn-01",
    **{kind: kind for kind in CHALLENGE_TYPES},
}


def parse_challenge_types(values: Iterable[str]) -> tuple[str, ...]:
    """The challenge types named in *values*, in order of preference, each once.

    Each value may hold several names separated by commas (``"dns-01, http"``); names are
    stripped and case-insensitive, and ``http``, ``dns`` and ``tls-alpn`` stand for
    ``http-01``, ``dns-01`` and ``tls-alpn-01``. Empty items are skipped, so no values (or
    only empty ones) give an empty tuple: no preference.

    Raises:
        UsageError: a name is not a challenge type certbot-like knows.
    """
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            word = part.strip().lower()
            if not word:
                continue
            kind = _ALIASES.get(word)
            if kind is None:
                raise UsageError(
                    f"Unknown challenge type {part.strip()!r}",
                    "Use http-01, dns-01 or tls-alpn-01 (or http, dns, tls-alpn), "
                    "comma-separated, e.g. --preferred-challenges dns-01,http-01",
                )
            if kind not in out:
                out.append(kind)
    return tuple(out)
