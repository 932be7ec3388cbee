"""Wait until the CA can see the TXT records: ask each authoritative nameserver directly.

For every record name: find its zone (SOA walk through the :class:`~.lookup.Lookup`), the
zone's NS records and their addresses, then query each address directly (no recursion,
UDP with a TCP fallback, short timeouts) until every expected value is served, polling every
:data:`POLL_INTERVAL` seconds up to the timeout. Querying the authoritative servers, not a
resolver, means no cache can hide a change and the wait ends as soon as the last secondary
has the record.

A nameserver none of whose addresses has ever answered (an IPv6 address on a host without
IPv6, a firewalled secondary) is not waited for once it failed :data:`UNREACHABLE_AFTER`
rounds and another nameserver serves the records: the CA's resolver would move on too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

from certbot_like.errors import PluginError

from .lookup import Lookup, Nameserver, reason

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.5
QUERY_TIMEOUT = 1.5
UNREACHABLE_AFTER = 3


class AnswerError(Exception):
    """A nameserver answered, but not usefully (REFUSED, SERVFAIL, not authoritative)."""


def txt_values(name: str, address: str, port: int, timeout: float = QUERY_TIMEOUT) -> set[str]:
    """The TXT values the server at *address*:*port* serves at *name* (empty if none).

    Raises:
        AnswerError: the answer is an error or not authoritative.
        dns.exception.DNSException: no answer in time, or a malformed one.
        OSError: the server cannot be reached.
    """
    query = dns.message.make_query(name, dns.rdatatype.TXT)
    query.flags &= ~dns.flags.RD
    response, _ = dns.query.udp_with_fallback(query, address, timeout=timeout, port=port)
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        raise AnswerError(dns.rcode.to_text(rcode))
    if not response.flags & dns.flags.AA:
        raise AnswerError("answer not authoritative (lame delegation?)")
    owner = dns.name.from_text(name)
    values: set[str] = set()
    for rrset in response.answer:
        if rrset.name == owner and rrset.rdtype == dns.rdatatype.TXT:
            values |= {b"".join(r.strings).decode("utf-8", "replace") for r in rrset}
    return values


@dataclass
class _Watch:
    """One (nameserver, record name) pair being waited for."""

    server: Nameserver
    name: str
    expected: frozenset[str]
    satisfied: bool = False
    answered: bool = False
    failed_rounds: int = 0
    last: str = "not asked yet"

    @property
    def unreachable(self) -> bool:
        return not self.answered and self.failed_rounds >= UNREACHABLE_AFTER

    def describe(self) -> str:
        return f"{self.server} for {self.name}: {self.last}"


def _check(watch: _Watch, port: int, timeout: float) -> None:
    answers: list[set[str]] = []
    problems: list[str] = []
    for address in watch.server.addresses:
        try:
            answers.append(txt_values(watch.name, address, port, timeout))
        except AnswerError as exc:
            problems.append(f"{address}: {exc}")
        except (dns.exception.DNSException, OSError) as exc:
            problems.append(f"{address}: {reason(exc)}")
    if answers:
        watch.answered = True
        missing = max(len(watch.expected - values) for values in answers)
        if missing == 0:
            # every address that answered serves all values (others may be unreachable)
            watch.satisfied = True
            watch.last = "ok" + (f" ({'; '.join(problems)})" if problems else "")
        else:
            watch.last = f"{missing} of {len(watch.expected)} TXT values not served yet"
    else:
        watch.failed_rounds += 1
        watch.last = "no usable answer (" + "; ".join(problems) + ")"


def _round(pending: list[_Watch], port: int, timeout: float) -> None:
    """Check every pending pair at once, each in a daemon thread.

    Daemon threads, not a pool: Ctrl-C interrupts the join at once and no query still
    in flight can hold the process at exit.
    """
    threads = [
        threading.Thread(target=_check, args=(w, port, timeout), name="dns-check", daemon=True)
        for w in pending
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _done(watches: list[_Watch]) -> bool:
    names = {w.name for w in watches}
    for name in names:
        mine = [w for w in watches if w.name == name]
        if not any(w.satisfied for w in mine):
            return False
        if not all(w.satisfied or w.unreachable for w in mine):
            return False
    return True


def wait_for_txt(
    expected: Mapping[str, set[str]],
    lookup: Lookup,
    *,
    port: int = 53,
    timeout: float = 120.0,
    interval: float = POLL_INTERVAL,
    query_timeout: float = QUERY_TIMEOUT,
    notify: Callable[[str], None] | None = None,
    timeout_hint: str = "",
) -> None:
    """Return once every value of *expected* (name -> TXT values) is served by its zone.

    Raises:
        PluginError: a zone or its nameservers cannot be found, or the records were not
            served everywhere within *timeout* seconds (the message names what is missing).
    """
    deadline = time.monotonic() + timeout
    zones: dict[str, list[Nameserver]] = {}
    watches: list[_Watch] = []
    for name, values in expected.items():
        zone = lookup.zone_for(name)
        if zone not in zones:
            zones[zone] = lookup.nameservers(zone)
        watches += [_Watch(server, name, frozenset(values)) for server in zones[zone]]
    logger.info(
        "Checking %d TXT record name(s) on the nameservers of %s",
        len(expected),
        ", ".join(f"{z} ({', '.join(s.name for s in servers)})" for z, servers in zones.items()),
    )
    told = False
    while True:
        budget = max(0.2, min(query_timeout, deadline - time.monotonic()))
        _round([w for w in watches if not w.satisfied], port, budget)
        if _done(watches):
            for watch in watches:
                if not watch.satisfied:
                    logger.warning("Not waiting for %s", watch.describe())
            return
        if time.monotonic() + interval > deadline:
            break
        if not told and notify is not None:
            notify(
                f"Waiting up to {timeout:g} s for the TXT records to reach the "
                f"nameservers of {', '.join(zones)}..."
            )
            told = True
        time.sleep(interval)
    stuck = [w for w in watches if not w.satisfied]
    shown = "; ".join(w.describe() for w in stuck[:3])
    more = f" (and {len(stuck) - 3} more)" if len(stuck) > 3 else ""
    raise PluginError(
        f"The TXT records were not served by every authoritative nameserver within "
        f"{timeout:g} s: {shown}{more}",
        timeout_hint
        or "Check that the DNS changes reach every nameserver of the zone, or raise "
        "--dns-propagation-timeout",
    )
