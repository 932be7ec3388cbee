"""A dead man's switch in the healthchecks.io convention: ``URL/start`` when a run begins,
``URL`` when it succeeded, ``URL/fail`` when something failed.

The monitoring service alerts when the success ping stops coming, so a timer that no longer
runs is noticed too. A ping that fails is logged and never fails the run. The URL (which
holds the check's secret id) is never printed.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)
PING_TIMEOUT = 10.0
MAX_BODY = 10000  # healthchecks.io keeps the first 10 kB of a ping's body


def ping_url(base: str, event: str) -> str:
    """``base`` for success, ``base/start`` or ``base/fail`` (query string kept at the end)."""
    if event == "success":
        return base
    path, sep, query = base.partition("?")
    return f"{path.rstrip('/')}/{event}{sep}{query}"


def ping(base: str, event: str, body: str = "", timeout: float = PING_TIMEOUT) -> str | None:
    """POST *body* to the ping URL for *event*; a one-line warning when it failed, else None."""
    import urllib.error
    import urllib.request

    if not base.lower().startswith(("http://", "https://")):
        return f"the {event} ping was not sent: the ping URL must start with https:// or http://"
    request = urllib.request.Request(  # noqa: S310  # the scheme is checked above
        ping_url(base, event),
        data=body.encode()[:MAX_BODY],
        method="POST",
        headers={"User-Agent": "certbot-like", "Content-Type": "text/plain; charset=utf-8"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            answer.read(1024)
    except urllib.error.HTTPError as exc:
        return f"the {event} ping was refused (HTTP {exc.code}); the run's result is unchanged"
    except (OSError, ValueError) as exc:
        logger.debug("ping %s failed: %s", event, type(exc).__name__)
        return f"the {event} ping could not be sent; the run's result is unchanged"
    return None
