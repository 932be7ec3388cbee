"""Account commands: register, show-account, update-account, unregister, and the ``account``
group with ``account rollover``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from certbot_like.cli.command import CompatCommand, SubcommandGroup
from certbot_like.cli.options import (
    account_options,
    common_options,
    json_option,
    opt,
    refuse_dry_run,
)
from certbot_like.cli.output import emit, print_json

if TYPE_CHECKING:
    from certbot_like.cli.runtime import Runtime
    from certbot_like.services.accounts import Session

ROLLOVER_HELP = """Replace the account's key with a new ECDSA P-256 key (RFC 8555 key change).

The account, its URL and its certificates stay; its id (a hash of the key) changes, and the
renewal confs that name it are updated. The new key is saved before the CA is asked, so an
interruption never loses the working key: run the command again to finish."""


def _account_document(session: Session) -> dict[str, Any]:
    account = session.account
    return {
        "id": account.account_id,
        "uri": account.uri,
        "server": account.server,
        "contact": account.body.get("contact") or [],
        "status": account.body.get("status"),
        "created": account.meta.get("creation_dt"),
    }


def _print_account(runtime: Runtime, doc: dict[str, Any]) -> None:
    runtime.echo(f"Account id:  {doc['id']}")
    runtime.echo(f"Account URL: {doc['uri']}")
    runtime.echo(f"Server:      {doc['server']}")
    contacts = ", ".join(c.removeprefix("mailto:") for c in doc["contact"]) or "(none)"
    runtime.echo(f"E-mail:      {contacts}")
    if doc.get("status"):
        runtime.echo(f"Status:      {doc['status']}")


@click.command(
    "register",
    cls=CompatCommand,
    short_help="Register an ACME account.",
    help="Register an account with the CA (with --email, --agree-tos and, where "
    "the CA requires it, --eab-kid/--eab-hmac-key). Does nothing when an "
    "account for this CA exists already.",
)
@common_options
@account_options
@json_option
@click.pass_context
def register_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.services.accounts import load_session

    runtime = build_runtime(ctx, kw)
    with runtime.locked():
        session = load_session(
            runtime.settings.store, runtime.settings.ca, runtime.settings.account, runtime.display
        )
    doc = _account_document(session)
    doc["registered_now"] = session.registered_now
    if kw.get("as_json"):
        print_json(doc)
        return
    if not session.registered_now:
        runtime.echo("An account for this CA exists already; nothing to do.")
    _print_account(runtime, doc)


@click.command(
    "show-account",
    cls=CompatCommand,
    short_help="Show the ACME account.",
    help="Show the account stored for the CA, as the CA reports it.",
)
@common_options
@account_options
@json_option
@click.pass_context
def show_account_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.services.accounts import load_session, refresh

    runtime = build_runtime(ctx, kw)
    session = load_session(
        runtime.settings.store,
        runtime.settings.ca,
        runtime.settings.account,
        runtime.display,
        register=False,
    )
    refresh(session)
    doc = _account_document(session)
    if kw.get("as_json"):
        print_json(doc)
    else:
        _print_account(runtime, doc)


@click.command(
    "update-account",
    cls=CompatCommand,
    short_help="Change the contact e-mail.",
    help="Replace the account's contact addresses with the --email values.",
)
@common_options
@account_options
@click.pass_context
def update_account_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.errors import UsageError
    from certbot_like.services.accounts import load_session, update_contact

    runtime = build_runtime(ctx, kw)
    if not kw.get("email"):
        raise UsageError("No new e-mail address given", "Pass --email you@example.com")
    with runtime.locked():
        session = load_session(
            runtime.settings.store,
            runtime.settings.ca,
            runtime.settings.account,
            runtime.display,
            register=False,
        )
        update_contact(session, runtime.settings.store, tuple(kw["email"]))
    runtime.echo("The account's contact address was updated.")


@click.command(
    "unregister",
    cls=CompatCommand,
    short_help="Deactivate the ACME account.",
    help="Deactivate the account at the CA. This cannot be undone; certificates "
    "stay valid, but the account can no longer renew them.",
)
@common_options
@account_options
@opt("--yes", "assume_yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def unregister_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.errors import UsageError
    from certbot_like.services.accounts import deactivate, load_session

    runtime = build_runtime(ctx, kw)
    if (
        not kw.get("assume_yes")
        and not runtime.settings.non_interactive
        and not runtime.display.confirm(
            "Deactivate the account at the CA? This cannot be undone.",
            default=False,
            flag_hint="Pass -n or --yes to confirm",
        )
    ):
        raise UsageError("Cancelled; the account is still active", "Pass --yes to confirm")
    with runtime.locked():
        session = load_session(
            runtime.settings.store,
            runtime.settings.ca,
            runtime.settings.account,
            runtime.display,
            register=False,
        )
        deactivate(session)
    runtime.echo(f"Account {session.account.account_id} is deactivated.")


# -- account rollover ------------------------------------------------------------------------


@click.group(
    "account",
    cls=SubcommandGroup,
    short_help="Account key management (rollover).",
    help="Manage the ACME account itself. `account rollover` replaces its key.",
)
def account_cmd() -> None:
    """The ``account`` command group."""


@account_cmd.command(
    "rollover", cls=CompatCommand, help=ROLLOVER_HELP, short_help="Replace the account key."
)
@common_options
@account_options
@json_option
@click.pass_context
def rollover_cmd(ctx: click.Context, /, **kw: Any) -> None:
    import dataclasses

    from certbot_like.cli.runtime import build_runtime
    from certbot_like.services.accounts import load_session
    from certbot_like.services.rollover import pending_rollover, rollover

    runtime = build_runtime(ctx, kw)
    refuse_dry_run(kw, "account rollover")
    settings = runtime.settings
    with runtime.locked():
        account = settings.account
        if not account.account_id:
            waiting = pending_rollover(settings.store, settings.ca.server)
            if waiting:
                account = dataclasses.replace(account, account_id=waiting)
        session = load_session(
            settings.store, settings.ca, account, runtime.display, register=False
        )
        try:
            result = rollover(session, settings.store)
        finally:
            session.close()
    verb = "Finished the interrupted key rollover" if result.resumed else "Rolled over the key"
    lines = [
        f"{verb} of account {result.account_uri}.",
        f"Account id: {result.old_id} -> {result.new_id}",
    ]
    if result.lineages:
        lines.append(f"Renewal confs updated: {', '.join(result.lineages)}")
    doc = {
        "account_uri": result.account_uri,
        "old_id": result.old_id,
        "new_id": result.new_id,
        "lineages": list(result.lineages),
        "resumed": result.resumed,
    }
    emit(runtime, kw, doc, lines)
