"""Turning parsed flags into the frozen settings, display, hooks, log and locks of one run."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from certbot_like.display import TerminalDisplay
from certbot_like.errors import UsageError
from certbot_like.settings import (
    LE_PRODUCTION,
    LE_STAGING,
    AccountSettings,
    CaSettings,
    RunSettings,
)
from certbot_like.storage.layout import Layout

if TYPE_CHECKING:
    from certbot_like.hooks import SubprocessHookRunner

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What a command needs besides its own flags."""

    settings: RunSettings
    display: TerminalDisplay
    ctx: click.Context
    log_path: Path | None = None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the run lock on the config, work and logs directories (certbot's lock files).

        Raises:
            LockError: another certbot or certbot-like run holds one of them.
            StorageError: a directory cannot be created.
        """
        with self.settings.store.run_lock():
            yield

    def hooks(self, timeout: float = 300.0) -> SubprocessHookRunner:
        from certbot_like.hooks import SubprocessHookRunner

        return SubprocessHookRunner(timeout=timeout)

    def echo(self, message: str = "", *, err: bool = False) -> None:
        """Print unless ``--quiet`` (errors are printed by the error handler)."""
        if not self.settings.quiet:
            click.echo(message, err=err)


def choose_server(ctx: click.Context, kw: Mapping[str, Any]) -> str:
    """``--server``, ``--staging`` and ``--dry-run`` combined the way certbot does.

    Raises:
        UsageError: ``--server`` and ``--staging`` name different CAs.
    """
    server: str | None = kw.get("server")
    if kw.get("staging"):
        if server and server != LE_STAGING:
            raise UsageError("--staging conflicts with --server", "Give only one of them")
        return LE_STAGING
    if server:
        return str(server)
    if kw.get("dry_run"):
        return LE_STAGING
    return LE_PRODUCTION


def allowed_origins(values: Iterable[str]) -> tuple[str, ...]:
    """``--ca-allow-origin`` values (repeated or comma-separated), normalised.

    Raises:
        UsageError: a value is not an ``https://host[:port]`` origin.
    """
    from certbot_like.protocol.origin import parse_origin

    found: list[str] = []
    for value in values:
        for part in str(value).split(","):
            if not part.strip():
                continue
            try:
                origin = str(parse_origin(part))
            except ValueError as exc:
                raise UsageError(
                    f"--ca-allow-origin {part.strip()[:200]!r}: {exc}",
                    "Give an origin like https://acme.example.com:8443",
                ) from None
            if origin not in found:
                found.append(origin)
    return tuple(found)


def build_runtime(ctx: click.Context, kw: Mapping[str, Any], *, log: bool = True) -> Runtime:
    """Build settings from the common and account flags, set up the log.

    Raises:
        UsageError: conflicting or unsupported flags.
        StorageError: the log directory cannot be created.
    """
    if kw.get("force_interactive") and kw.get("non_interactive"):
        raise UsageError("--force-interactive conflicts with -n", "Give only one of them")
    layout = Layout(
        config_dir=Path(kw["config_dir"]).absolute(),
        work_dir=Path(kw["work_dir"]).absolute(),
        logs_dir=Path(kw["logs_dir"]).absolute(),
    )
    ca = CaSettings(
        server=choose_server(ctx, kw),
        ca_bundle=kw.get("ca_bundle"),
        allow_origins=allowed_origins(kw.get("ca_allow_origin") or ()),
        http_timeout=float(kw.get("http_timeout") or 30.0),
        issuance_timeout=float(kw.get("issuance_timeout") or 180.0),
        user_agent=user_agent(kw.get("user_agent"), kw.get("user_agent_comment")),
    )
    account = AccountSettings(
        emails=tuple(kw.get("email") or ()),
        register_without_email=bool(kw.get("register_unsafely_without_email")),
        agree_tos=bool(kw.get("agree_tos")),
        eab_kid=kw.get("eab_kid"),
        eab_hmac_key=kw.get("eab_hmac_key"),
        eab_hmac_alg=kw.get("eab_hmac_alg") or "HS256",
        account_id=kw.get("account_id"),
    )
    settings = RunSettings(
        layout=layout,
        ca=ca,
        account=account,
        non_interactive=bool(kw.get("non_interactive")),
        quiet=bool(kw.get("quiet")),
        dry_run=bool(kw.get("dry_run")),
        verbosity=int(kw.get("verbosity") or 0),
        store_url=_store_url(ctx, kw.get("store_url")),
        store_key_file=Path(kw["store_key_file"]).absolute() if kw.get("store_key_file") else None,
        node_name=kw.get("node_name") or "",
        store_lease=float(kw.get("store_lease") or 300.0),
    )
    display = TerminalDisplay(
        non_interactive=settings.non_interactive,
        quiet=settings.quiet,
        force_interactive=bool(kw.get("force_interactive")),
    )
    runtime = Runtime(settings=settings, display=display, ctx=ctx)
    if log:
        from certbot_like.logs import register_secret, setup_logging

        register_secret(account.eab_hmac_key)
        if settings.store_url:
            from urllib.parse import urlsplit

            register_secret(urlsplit(settings.store_url).password)
        runtime.log_path = setup_logging(
            layout.logs_dir, settings.verbosity, int(kw.get("max_log_backups", 10))
        )
        _console_logging(settings.verbosity, settings.quiet)
        logger.debug("certbot-like %s: %s", _version(), " ".join(_safe_argv()))
        from certbot_like.cli.certbot_flags import NOTES_KEY

        for note in ctx.meta.get(NOTES_KEY, []):
            logger.debug("%s", note)
    return runtime


def user_agent(replacement: str | None, comment: str | None) -> str:
    """The User-Agent for the CA: ``--user-agent`` or ours, then ``(--user-agent-comment)``.

    Raises:
        UsageError: a value with a line break or a parenthesis in the comment.
    """
    from certbot_like.protocol.http import USER_AGENT

    text = replacement or USER_AGENT
    for flag, value in (("--user-agent", replacement), ("--user-agent-comment", comment)):
        if value is not None and not value.isprintable():
            raise UsageError(f"{flag} must be one printable line", f"Fix the {flag} value")
    if comment and ("(" in comment or ")" in comment):
        raise UsageError(
            "--user-agent-comment may not contain parentheses", "Remove them from the comment"
        )
    return f"{text} ({comment})" if comment else text


def _store_url(ctx: click.Context, url: str | None) -> str | None:
    """``--store``, checked: a PostgreSQL URI without a password on the command line.

    Raises:
        UsageError: another scheme, or a password in a URL given on the command line.
    """
    if not url:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise UsageError(
            f"--store must be a postgresql:// URL, not {parts.scheme or url.split(':')[0]!r}",
            "Give postgresql://user@host:port/dbname, or drop --store for the file store",
        )
    source = ctx.get_parameter_source("store_url")
    on_command_line = source == click.core.ParameterSource.COMMANDLINE
    if on_command_line and (parts.password is not None or "password=" in parts.query):
        raise UsageError(
            "--store holds a password, and command lines are visible to every local user",
            "Remove it from the URL; put it in ~/.pgpass, PGPASSFILE or PGPASSWORD",
        )
    return url


def _version() -> str:
    from certbot_like import __version__

    return __version__


def _safe_argv() -> list[str]:
    """The command line for the log, with secret-bearing values masked."""
    out: list[str] = []
    mask_next = False
    for arg in sys.argv[1:]:
        if mask_next:
            out.append("***")
            mask_next = False
        elif arg in ("--eab-hmac-key",):
            out.append(arg)
            mask_next = True
        elif arg.startswith("--eab-hmac-key="):
            out.append("--eab-hmac-key=***")
        else:
            out.append(arg)
    return out


def _console_logging(verbosity: int, quiet: bool) -> None:
    """-v: INFO, -vv: DEBUG on stderr; without -v, warnings only for a person at a terminal
    (unattended runs print only renewals and errors)."""
    if quiet or (verbosity <= 0 and not sys.stderr.isatty()):
        return
    from certbot_like.logs import SecretFilter

    levels = {0: logging.WARNING, 1: logging.INFO}
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(levels.get(verbosity, logging.DEBUG))
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler.addFilter(SecretFilter())
    logging.getLogger().addHandler(handler)
