"""ACME Renewal Information (RFC 9773): certificate ids and the renewalInfo resource.

``renewalInfo`` is fetched with a plain GET (no JWS), on the CA's allowed origins only. The
answer's ``suggestedWindow`` and ``Retry-After`` decide when to renew and when to ask again;
:func:`choose_moment` picks a uniformly random moment inside the window, as the RFC
recommends, so fleets spread out.
"""

from __future__ import annotations

import datetime
import logging
import random
from dataclasses import dataclass
from typing import Any

from certbot_like.errors import ProtocolViolation
from certbot_like.protocol.client import AcmeClient
from certbot_like.protocol.polling import parse_retry_after
from certbot_like.protocol.problems import clean_text

logger = logging.getLogger(__name__)
DEFAULT_RECHECK = datetime.timedelta(hours=6)
MIN_RECHECK = datetime.timedelta(minutes=1)
MAX_RECHECK = datetime.timedelta(days=1)


@dataclass(frozen=True)
class RenewalInfo:
    """A suggested window and when to ask again."""

    start: datetime.datetime
    end: datetime.datetime
    next_check: datetime.datetime
    explanation: str | None = None


def _parse_time(value: Any, what: str) -> datetime.datetime:
    if not isinstance(value, str):
        raise ProtocolViolation(f"The CA's renewalInfo has no {what} time")
    try:
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ProtocolViolation(
            f"The CA's renewalInfo {what} time {value[:40]!r} is not RFC 3339"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=datetime.UTC)


def fetch_renewal_info(
    client: AcmeClient, cert_id: str, now: datetime.datetime | None = None
) -> RenewalInfo | None:
    """GET ``renewalInfo/<cert_id>``; None when the CA does not offer ARI.

    Raises:
        AcmeError: the CA answered with an error.
        ProtocolViolation: the answer is malformed.
        ForeignOriginError: renewalInfo (or a redirect) is not on an allowed origin.
    """
    base = client.directory.renewal_info
    if base is None:
        return None
    now = now or datetime.datetime.now(datetime.UTC)
    resp = client.get(f"{base.rstrip('/')}/{cert_id}", what="the renewalInfo URL")
    if resp.status != 200:
        from certbot_like.protocol.problems import problem_error

        body: Any = None
        try:
            body = resp.json()
        except ProtocolViolation:
            pass
        raise problem_error(
            body,
            status=resp.status,
            retry_after=resp.header("Retry-After"),
            context="Fetching renewal information failed",
        )
    data = resp.json_object()
    window = data.get("suggestedWindow")
    if not isinstance(window, dict):
        raise ProtocolViolation("The CA's renewalInfo has no suggestedWindow")
    start, end = _parse_time(window.get("start"), "start"), _parse_time(window.get("end"), "end")
    if end < start:
        raise ProtocolViolation("The CA's renewalInfo window ends before it starts")
    seconds = parse_retry_after(resp.header("Retry-After"))
    delay = DEFAULT_RECHECK if seconds is None else datetime.timedelta(seconds=seconds)
    delay = min(max(delay, MIN_RECHECK), MAX_RECHECK)
    explanation = data.get("explanationURL")
    return RenewalInfo(
        start,
        end,
        now + delay,
        clean_text(explanation, 300) if isinstance(explanation, str) else None,
    )


def choose_moment(info: RenewalInfo, rng: random.Random | None = None) -> datetime.datetime:
    """A uniformly random moment in the suggested window (RFC 9773 section 4.2)."""
    span = (info.end - info.start).total_seconds()
    offset = (rng or random.SystemRandom()).uniform(0, span) if span > 0 else 0.0
    return info.start + datetime.timedelta(seconds=offset)
