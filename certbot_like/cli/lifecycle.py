"""Lifecycle commands of a certificate: revoke, delete, reconfigure."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click

from certbot_like.cli.command import CompatCommand
from certbot_like.cli.options import (
    F,
    account_options,
    cert_name_option,
    common_options,
    json_option,
    opt,
    refuse_dry_run,
    stored_settings_options,
    was_set,
)
from certbot_like.cli.output import emit
from certbot_like.idn import both_forms, to_unicode

REVOKE_HELP = """Revoke a certificate at the CA that issued it.

\b
Name it by lineage (--cert-name) or by file (--cert-path; the lineage holding that
certificate is found). The request is signed with the account key, or with the
certificate's own key when --key-path is given (no account needed: the way to revoke a
certificate whose key leaked when the account is lost).

\b
Reasons (--reason): unspecified, keyCompromise, affiliationChanged, superseded,
cessationOfOperation.

Afterwards certbot-like offers to delete the lineage; without a terminal (-n) it is kept
unless --delete-after-revoke is given."""

DELETE_HELP = """Delete a certificate lineage: renewal/NAME.conf, live/NAME and archive/NAME.

The certificate is not revoked (see `revoke`). Asks for confirmation on a terminal; -n
confirms."""

RECONFIGURE_HELP = """Change how a certificate renews, after a dry run proves the change works.

\b
Examples:
  certbot-like reconfigure --cert-name example.com --webroot -w /var/www/html
  certbot-like reconfigure --cert-name example.com --deploy-hook 'systemctl reload nginx'

The new settings (authenticator and its options, hooks, preferred challenges ...) are
tried with a dry-run renewal against the lineage's CA (pre- and post-hooks run; the deploy
hook only with --run-deploy-hooks). Only when it succeeds is renewal/NAME.conf rewritten;
otherwise nothing changes. An empty value (--pre-hook '') removes a stored hook."""

# -- revoke ----------------------------------------------------------------------------------


@click.command("revoke", cls=CompatCommand, help=REVOKE_HELP, short_help="Revoke a certificate.")
@common_options
@account_options
@cert_name_option()
@opt(
    "--cert-path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The certificate to revoke (PEM or DER), instead of --cert-name.",
)
@opt(
    "--key-path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Sign with this private key of the certificate instead of the account key.",
)
@opt(
    "--reason",
    default="unspecified",
    metavar="REASON",
    help="unspecified, keyCompromise, affiliationChanged, superseded or "
    "cessationOfOperation (any case).",
)
@opt(
    "--delete-after-revoke/--no-delete-after-revoke",
    default=None,
    help="Delete (or keep) the lineage after revoking, without asking.",
)
@json_option
@click.pass_context
def revoke_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.services import revoke as revoking

    runtime = build_runtime(ctx, kw)
    refuse_dry_run(kw, "revoke")
    request = revoking.RevokeRequest(
        cert_name=kw.get("cert_name") or None,
        cert_path=Path(kw["cert_path"]) if kw.get("cert_path") else None,
        key_path=Path(kw["key_path"]) if kw.get("key_path") else None,
        reason=revoking.parse_reason(str(kw.get("reason") or "unspecified")),
        server_override=kw.get("server") if was_set(ctx, "server") else None,
        bundle_override=kw.get("ca_bundle") if was_set(ctx, "ca_bundle") else None,
        delete_after=kw.get("delete_after_revoke"),
    )
    with runtime.locked():
        result = revoking.revoke_certificate(runtime.settings, request, runtime.display)
    names = ", ".join(map(both_forms, result.names)) or "no names"
    lines = [f"Revoked certificate {result.serial} ({names}), reason {result.reason_name}."]
    if result.note:
        lines.append(f"It was {result.note}.")
    if result.deleted:
        lines.append(f"Deleted certificate {result.lineage}.")
    elif result.lineage:
        lines.append(
            f"Kept certificate {result.lineage}; delete it with "
            f"`certbot-like delete --cert-name {result.lineage}`."
        )
    doc = {
        "serial": result.serial,
        "names": list(result.names),
        "unicode_names": [to_unicode(name) for name in result.names],
        "reason": result.reason_name,
        "reason_code": result.reason,
        "lineage": result.lineage,
        "deleted": result.deleted,
    }
    emit(runtime, kw, doc, lines)


# -- delete ----------------------------------------------------------------------------------


@click.command(
    "delete", cls=CompatCommand, help=DELETE_HELP, short_help="Delete a certificate lineage."
)
@common_options
@cert_name_option()
@json_option
@click.pass_context
def delete_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.errors import UsageError
    from certbot_like.services.delete import delete_lineage

    runtime = build_runtime(ctx, kw)
    refuse_dry_run(kw, "delete")
    if not kw.get("cert_name"):
        raise UsageError("No certificate name given", "Pass --cert-name NAME (see `certificates`)")
    with runtime.locked():
        result = delete_lineage(
            runtime.settings.store,
            kw["cert_name"],
            runtime.display,
            confirmed=runtime.settings.non_interactive,
        )
    doc = {"deleted": result.name, "removed": [str(p) for p in result.removed]}
    emit(runtime, kw, doc, [f"Deleted certificate {result.name}."])


# -- reconfigure -----------------------------------------------------------------------------


def reconfigure_options(func: F) -> F:
    """The settings ``reconfigure`` may change (plugin flags come from CompatCommand)."""
    from certbot_like.cli.deploy import deploy_options

    notify = opt(
        "--notify",
        multiple=True,
        metavar="URL",
        help="This certificate's own apprise notification URLs, replacing the stored ones "
        "(its renewal conf then becomes readable by root only).",
    )
    return cert_name_option()(stored_settings_options(deploy_options(notify(func))))


@click.command(
    "reconfigure",
    cls=CompatCommand,
    with_plugins=True,
    help=RECONFIGURE_HELP,
    short_help="Change a certificate's renewal settings.",
)
@common_options
@account_options
@reconfigure_options
@json_option
@click.pass_context
def reconfigure_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.cli.deploy import (
        deploy_given,
        deploy_settings,
        report_document,
        report_lines,
    )
    from certbot_like.cli.renew import _overrides
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.errors import UsageError
    from certbot_like.services.deploy import redeploy
    from certbot_like.services.reconfigure import reconfigure

    if kw.get("notify"):  # before the log records the command line
        from certbot_like.services.notify import register_url_secrets

        register_url_secrets(kw["notify"])
    runtime = build_runtime(ctx, kw)
    if not kw.get("cert_name"):
        raise UsageError("No certificate name given", "Pass --cert-name NAME (see `certificates`)")
    overrides = _overrides(ctx, kw)
    if kw.get("notify"):
        urls = [u for u in kw["notify"] if u]
        overrides = dataclasses.replace(overrides, params=overrides.params.merged({"notify": urls}))
    if deploy_given(kw):
        given = {k: v for k, v in deploy_settings(kw).conf_values().items() if v is not None}
        overrides = dataclasses.replace(overrides, params=overrides.params.merged(given))
    hook_timeout = float(kw.get("hook_timeout") or 300.0)
    with runtime.locked():
        result = reconfigure(
            runtime.settings,
            kw["cert_name"],
            overrides,
            runtime.display,
            runtime.hooks(hook_timeout),
            server_override=kw.get("server") if was_set(ctx, "server") else None,
            bundle_override=kw.get("ca_bundle") if was_set(ctx, "ca_bundle") else None,
            run_deploy_hooks=bool(kw.get("run_deploy_hooks")),
        )
        deployed = (
            redeploy(runtime.settings, [result.name], runtime.hooks(hook_timeout))
            if deploy_given(kw) and not runtime.settings.dry_run
            else None
        )
    # notification URLs carry tokens: say that they changed, not what they are
    shown = {
        k: (o, n) if k != "notify" else ("(hidden)" if o else o, "(hidden)" if n else n)
        for k, (o, n) in result.changes.items()
    }
    lines = [f"The dry run with the new settings succeeded for {result.name}."]
    if result.changes:
        lines.append(f"Updated {result.conf_path}:")
        for key, (old, new) in shown.items():
            lines.append(
                f"  {key}: {old if old is not None else '(none)'} -> "
                f"{new if new is not None else '(none)'}"
            )
    else:
        lines.append(f"Nothing changed in {result.conf_path}.")
    doc = {
        "lineage": result.name,
        "renewal_conf": str(result.conf_path),
        "changes": {k: {"old": o, "new": n} for k, (o, n) in shown.items()},
    }
    if deployed is not None:
        lines += report_lines(deployed)
        doc["deploy"] = report_document(deployed)
    emit(runtime, kw, doc, lines)
    if deployed is not None:
        deployed.raise_first()
    if deployed is not None:
        deployed.raise_first()
