"""Waiting for the CA: Retry-After parsing and a backoff that starts fast.

The ``acme`` library sleeps a full second before every poll. We poll first after
:data:`FIRST_DELAY` (Pebble and Boulder usually finish a validation or an issuance within
tens of milliseconds), then back off geometrically up to :data:`MAX_DELAY`, and always
honour a sane ``Retry-After``. Absurd values (negative, garbage, a year) are clamped: the
wait never passes the caller's deadline.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator

FIRST_DELAY = 0.008
FACTOR = 2.0
MAX_DELAY = 5.0
MAX_RETRY_AFTER = 3600.0 * 24 * 7


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date).

    Returns None when absent or unusable (garbage, negative); caps absurd values at a week.
    """
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    delta = text.isascii() and text.isdigit()  # isdigit() alone accepts "²" and other digits
    if delta:
        seconds = float(int(text))
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - (now if now is not None else time.time())
    if seconds < 0:
        return 0.0 if not delta else None
    return min(seconds, MAX_RETRY_AFTER)


def backoff_delays(first: float = FIRST_DELAY) -> Iterator[float]:
    """first, 2*first, 4*first ... capped at :data:`MAX_DELAY`, forever."""
    delay = first
    while True:
        yield delay
        delay = min(delay * FACTOR, MAX_DELAY)


class Poller:
    """Sleeps between polls: Retry-After when the CA gave one, else the backoff schedule."""

    def __init__(self, deadline: float, first: float = FIRST_DELAY) -> None:
        self.deadline = deadline
        self._delays = backoff_delays(first)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def wait(self, retry_after: str | None = None) -> bool:
        """Sleep before the next poll.

        Returns False, without sleeping, when the deadline has passed or the CA asks for a
        wait beyond it (the caller reports a timeout); otherwise sleeps and returns True.
        """
        scheduled = next(self._delays)
        asked = parse_retry_after(retry_after)
        remaining = self.remaining()
        if remaining <= 0 or (asked is not None and asked > remaining):
            return False
        time.sleep(min(asked if asked is not None else scheduled, remaining))
        return True
