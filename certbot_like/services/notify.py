"""Notifications after a ``renew`` run, through apprise (e-mail, Slack, Matrix, webhooks ...).

One message per run and per URL: which lineages failed and why, which recovered, which were
renewed, and which will expire before the next run could fix them. The same failure is not
sent again within ``repeat`` seconds (the renewal state remembers what was sent); a recovery
is sent once. URLs come from the command line or cli.ini (every lineage) and from each
lineage's renewal conf (``notify = URL, URL``: that lineage only).

A notification that cannot be sent is a warning, never a change to the run's outcome.
apprise is imported only when a message is actually sent. URLs carry tokens: they are
registered as secrets so the log never shows them, and messages never include them.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from certbot_like.errors import CertbotLikeError
from certbot_like.logs import register_secret, scrub
from certbot_like.services.due import Outcome, RenewReport
from certbot_like.services.health import HealthReport
from certbot_like.storage.renewal_state import RenewalState
from certbot_like.storage.store import Store

logger = logging.getLogger(__name__)
NOTIFY_ON = ("failure", "change", "always")  # also in cli/monitoring.py (start-up speed)
EXPIRY_HORIZON = 86400.0  # "before the next run could fix it": a day (two timer runs)
_TOKENS = re.compile(r"[A-Za-z0-9_-]{20,}")  # challenge tokens, order ids: vary per attempt


@dataclass(frozen=True)
class NotifySettings:
    """``--notify``, ``--notify-on`` and ``--notify-repeat`` of a run."""

    urls: tuple[str, ...] = ()
    on: str = "failure"
    repeat: float = 86400.0


@dataclass
class Message:
    """One notification: its URLs, title and body."""

    urls: list[str]
    title: str
    body: str


@dataclass
class _Digest:
    """What one recipient hears about (lineage names per kind)."""

    failed: list[str] = field(default_factory=list)
    still_failing: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    renewed: list[str] = field(default_factory=list)
    expiring: list[str] = field(default_factory=list)

    def worth_sending(self, on: str) -> bool:
        if on == "always":
            return True
        if self.failed or self.recovered:
            return True
        return on == "change" and bool(self.renewed)


def register_url_secrets(urls: Iterable[str]) -> None:
    """Keep *urls* and their credentials, path parts and query values out of the log."""
    for url in urls:
        register_secret(url)
        parts = urlsplit(url)
        for secret in (parts.username, parts.password, parts.netloc):
            register_secret(secret)
        for piece in parts.path.split("/"):
            register_secret(piece)
        for _, value in parse_qsl(parts.query):
            register_secret(value)


def describe_url(url: str, index: int) -> str:
    """A name for *url* that is safe to print: its scheme and position, no host or token."""
    scheme = url.split("://", 1)[0] if "://" in url else "?"
    where = f"#{index}" if index else "stored in a renewal conf"
    return f"notify URL {where} ({scheme}://...)"


def signature(reason: str | None) -> str:
    """A failure's identity across runs: its text without per-attempt tokens."""
    return _TOKENS.sub("…", reason or "failed")


def plan(
    store: Store,
    report: RenewReport,
    health: HealthReport,
    state: RenewalState,
    settings: NotifySettings,
    now: float,
) -> list[Message]:
    """The messages this run sends, updating *state*'s memory of what was notified."""
    by_url: dict[str, _Digest] = {url: _Digest() for url in settings.urls}
    expiring = {
        h.name
        for h in health.lineages
        if h.not_after is not None and h.not_after - now < EXPIRY_HORIZON
    }
    lines: dict[str, str] = {}
    for outcome in report.outcomes:
        if outcome.status not in ("renewed", "failed"):
            continue
        urls = _recipients(store, outcome.name, settings.urls)
        kind = _classify(outcome, state, settings, now, outcome.name in expiring) if urls else None
        if kind is None:
            continue
        lines[outcome.name] = _describe(outcome, kind)
        for url in urls:
            getattr(by_url.setdefault(url, _Digest()), kind).append(outcome.name)
    for name in sorted(expiring):
        lines.setdefault(f"expiring:{name}", _expiring_line(health, name, now))
        for url in _recipients(store, name, settings.urls):
            by_url.setdefault(url, _Digest()).expiring.append(name)
    host = socket.gethostname()
    grouped: dict[tuple[str, str], list[str]] = {}
    for url, digest in by_url.items():
        if not digest.worth_sending(settings.on):
            continue
        title, body = _render(digest, lines, report, host)
        grouped.setdefault((title, body), []).append(url)
    return [Message(urls, title, body) for (title, body), urls in grouped.items()]


def _classify(
    outcome: Outcome, state: RenewalState, settings: NotifySettings, now: float, expiring: bool
) -> str | None:
    st = state.lineages.get(outcome.name)
    if outcome.status == "failed":
        sig = signature(outcome.reason) + (" (expiring)" if expiring else "")
        if st is None:
            return "failed"
        repeat = (
            st.notified_error == sig
            and st.notified_at is not None
            and now - st.notified_at < settings.repeat
        )
        if repeat:
            return "still_failing"
        st.notified_error, st.notified_at = sig, now
        state.dirty = True
        return "failed"
    if outcome.status == "renewed":
        if st is not None and st.notified_error is not None:
            st.notified_error = st.notified_at = None
            state.dirty = True
            return "recovered"
        return "renewed"
    return None


def _recipients(store: Store, name: str, run_urls: tuple[str, ...]) -> list[str]:
    urls = list(run_urls)
    try:
        stored = store.read_lineage(name).params.notify
    except CertbotLikeError:
        stored = ()
    register_url_secrets(stored)
    urls += [u for u in stored if u not in urls]
    return urls


def _when(ts: float | None) -> str:
    import datetime

    if ts is None:
        return "unknown"
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _describe(outcome: Outcome, kind: str) -> str:
    if kind in ("failed", "still_failing"):
        return f"{outcome.name}: {outcome.reason or 'failed'}"
    return f"{outcome.name}: renewed, expires {_when(outcome.not_after)}"


def _expiring_line(health: HealthReport, name: str, now: float) -> str:
    found = next(h for h in health.lineages if h.name == name)
    return f"{name}: expires {_when(found.not_after)}"


def _render(
    digest: _Digest, lines: dict[str, str], report: RenewReport, host: str
) -> tuple[str, str]:
    counts = []
    if digest.failed or digest.still_failing:
        counts.append(f"{len(digest.failed) + len(digest.still_failing)} failed")
    if digest.recovered:
        counts.append(f"{len(digest.recovered)} recovered")
    if digest.renewed:
        counts.append(f"{len(digest.renewed)} renewed")
    title = f"certbot-like on {host}: " + (", ".join(counts) or "nothing to renew")
    sections = [
        ("Renewal failed", digest.failed, ""),
        ("Still failing (already notified)", digest.still_failing, ""),
        ("Recovered", digest.recovered, ""),
        ("Renewed", digest.renewed, ""),
        ("Will expire before the next run could fix it", digest.expiring, "expiring:"),
    ]
    body: list[str] = []
    for heading, names, prefix in sections:
        if names:
            body.append(f"{heading}:")
            body += [f"- {lines[prefix + n]}" for n in names]
    not_due = len(report.by_status("not-due"))
    body.append(f"{not_due} lineage(s) not due; exit code {report.exit_code()}.")
    return title, scrub("\n".join(body))


Sender = Callable[[str, str, str], bool]


def apprise_send(url: str, title: str, body: str) -> bool:
    """Send one message to one apprise URL; False when it could not be delivered.

    Raises:
        PluginError: apprise is not installed (the line names the ``notify`` extra).
    """
    from certbot_like.extras import EXTRAS

    if not EXTRAS["notify"].installed():
        from certbot_like.errors import PluginError

        raise PluginError(EXTRAS["notify"].missing_message())
    logging.getLogger("apprise").setLevel(logging.INFO)  # its debug output may echo URLs
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(url):
        return False
    return bool(notifier.notify(title=title, body=body))


def send_all(
    messages: list[Message], all_urls: list[str], send: Sender = apprise_send
) -> list[str]:
    """Send *messages*; the warnings (one line each) for URLs that failed."""
    warnings = []
    for message in messages:
        for url in message.urls:
            why = "see the log"
            try:
                ok = send(url, message.title, message.body)
            except CertbotLikeError as exc:  # apprise missing: say which extra adds it
                why, ok = exc.message, False
            except Exception:  # a notifier's bug must not fail the run
                logger.debug("notification error", exc_info=True)
                ok = False
            if not ok:
                index = all_urls.index(url) + 1 if url in all_urls else 0
                warnings.append(
                    f"{describe_url(url, index)}: the notification could not be sent "
                    f"(the renewal result is unchanged; {why})"
                )
    return warnings
