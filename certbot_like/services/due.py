"""When a certificate is due for renewal, without ARI (RFC 9773 is consulted first elsewhere).

Due when less than a third of its lifetime remains (half for lifetimes under ten days, as for
short-lived certificates), or when ``renew_before_expiry`` from the renewal conf says so.
Never a hard-coded "30 days".
"""

from __future__ import annotations

import datetime
import re

from certbot_like.errors import ConfigError

SHORT_LIVED = datetime.timedelta(days=10)
_INTERVAL = re.compile(r"^\s*(\d+)\s*(seconds?|minutes?|hours?|days?|weeks?|s|m|h|d|w)?\s*$", re.I)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_interval(text: str) -> datetime.timedelta:
    """``30 days`` / ``12 hours`` / ``45`` (days, as certbot) -> timedelta.

    Raises:
        ConfigError: not a number followed by an optional unit.
    """
    match = _INTERVAL.match(text)
    if not match:
        raise ConfigError(
            f"renew_before_expiry {text!r} is not an interval",
            "Write it like '30 days' or '12 hours'",
        )
    unit = (match.group(2) or "days")[0].lower()
    return datetime.timedelta(seconds=int(match.group(1)) * _UNITS[unit])


def renewal_moment(
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    renew_before_expiry: str | None = None,
) -> datetime.datetime:
    """The moment from which the certificate is due.

    Raises:
        ConfigError: *renew_before_expiry* is malformed.
    """
    if renew_before_expiry:
        return not_after - parse_interval(renew_before_expiry)
    lifetime = not_after - not_before
    fraction = 2 if lifetime < SHORT_LIVED else 3
    return not_after - lifetime / fraction


def is_due(
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    now: datetime.datetime | None = None,
    renew_before_expiry: str | None = None,
) -> bool:
    """True when the certificate should be renewed now.

    Raises:
        ConfigError: *renew_before_expiry* is malformed.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    return now >= renewal_moment(not_before, not_after, renew_before_expiry)
