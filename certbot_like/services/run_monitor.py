"""What ``renew`` does for monitoring at its start and its end: the dead man's switch pings,
the run record, notifications and the metrics file.

Nothing here changes the run's outcome or exit code: each failure becomes a one-line
warning for the terminal.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from certbot_like.errors import CertbotLikeError
from certbot_like.services.due import RenewReport
from certbot_like.services.health import evaluate
from certbot_like.services.notify import (
    Message,
    NotifySettings,
    Sender,
    apprise_send,
    plan,
    register_url_secrets,
    send_all,
)
from certbot_like.services.ping import ping
from certbot_like.services.run_record import record_run
from certbot_like.storage.store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitorSettings:
    """``--metrics-file``, ``--notify*`` and ``--ping-url`` of a renew run."""

    metrics_file: Path | None = None
    notify: NotifySettings = field(default_factory=NotifySettings)
    ping_url: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.metrics_file or self.notify.urls or self.ping_url)

    def register_secrets(self) -> None:
        register_url_secrets([*self.notify.urls, *([self.ping_url] if self.ping_url else [])])


def start_run(settings: MonitorSettings) -> list[str]:
    """Ping ``/start``; the warnings."""
    if not settings.ping_url:
        return []
    warning = ping(settings.ping_url, "start")
    return [warning] if warning else []


def finish_run(
    store: Store,
    settings: MonitorSettings,
    report: RenewReport | None,
    error: CertbotLikeError | None,
    started: float,
    duration: float,
    send: Sender = apprise_send,
) -> list[str]:
    """Record the run, notify, write metrics and ping; the warnings (one line each).

    *report* is None when the run stopped with *error* before judging any lineage.
    """
    import time

    warnings: list[str] = []
    events = report is not None and any(o.status in ("renewed", "failed") for o in report.outcomes)
    if not (settings.active or events):
        return warnings
    code = error.exit_code if error else (report.exit_code() if report else 0)
    try:
        health = evaluate(store, save=False)
    except CertbotLikeError as exc:
        warnings.append(f"monitoring skipped: {exc.one_line()}")
        health = None
    messages: list[Message] = []
    if health is not None and health.state is not None:
        state = health.state
        if settings.active:
            record_run(state, started, duration, code)
        if report is not None:
            messages = plan(store, report, health, state, settings.notify, time.time())
        with contextlib.suppress(CertbotLikeError):
            store.save_state(state, None)
    if error is not None and settings.notify.urls:
        messages.append(_run_failed(settings, error))
    warnings += send_all(messages, list(settings.notify.urls), send)
    if settings.metrics_file and health is not None:
        from certbot_like.services.metrics import write_metrics

        try:
            last_run = health.state.last_run if health.state else None
            write_metrics(settings.metrics_file, health, last_run)
        except CertbotLikeError as exc:
            warnings.append(f"metrics not written: {exc.one_line()}")
    if settings.ping_url:
        event = "fail" if code else "success"
        warning = ping(settings.ping_url, event, _ping_body(report, error))
        if warning:
            warnings.append(warning)
    return warnings


def _run_failed(settings: MonitorSettings, error: CertbotLikeError) -> Message:
    import socket

    from certbot_like.logs import scrub

    return Message(
        list(settings.notify.urls),
        f"certbot-like on {socket.gethostname()}: the renew run failed",
        scrub(f"The run stopped before renewing anything: {error.one_line()}"),
    )


def _ping_body(report: RenewReport | None, error: CertbotLikeError | None) -> str:
    from certbot_like.logs import scrub

    if error is not None:
        return scrub(error.one_line())
    assert report is not None
    lines = [
        f"{len(report.by_status('renewed'))} renewed, {len(report.by_status('failed'))} failed, "
        f"{len(report.by_status('not-due'))} not due; exit code {report.exit_code()}"
    ]
    lines += [f"{o.name}: {o.reason}" for o in report.by_status("failed")]
    return scrub("\n".join(lines))
