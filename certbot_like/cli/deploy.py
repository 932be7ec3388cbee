"""``--deploy-to`` and its companions (obtain, install, reconfigure), and the ``deploy``
command that writes every target again from the current certificates."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from certbot_like.cli.command import CompatCommand
from certbot_like.cli.options import common_options, json_option, opt

if TYPE_CHECKING:
    from certbot_like.deploy.spec import DeploySettings
    from certbot_like.services.deploy import Redeployed

F = TypeVar("F", bound=Callable[..., Any])
FORMATS_HELP = "fullchain, cert, chain, key, combined (key + full chain), pkcs12, der"
DEPLOY_KEYS = (
    "deploy_to",
    "deploy_owner",
    "deploy_mode",
    "deploy_reload",
    "pkcs12_password_file",
    "pkcs12_legacy",
)

_DECORATORS: list[Callable[[Any], Any]] = [
    opt(
        "--deploy-to",
        multiple=True,
        metavar="FORMAT:PATH",
        help=f"Also write the certificate to PATH as FORMAT ({FORMATS_HELP}); repeatable, "
        "stored, rewritten on every renewal. Example: combined:/etc/haproxy/certs/site.pem",
    ),
    opt(
        "--deploy-owner",
        metavar="USER[:GROUP]",
        help="Owner of the deploy targets (stored), e.g. haproxy or postfix:ssl-cert.",
    ),
    opt(
        "--deploy-mode",
        metavar="OCTAL",
        help="Mode of the deploy targets (stored) [default: 0600 with the key, else 0644].",
    ),
    opt(
        "--deploy-reload",
        metavar="CMD",
        help="Run once per run after the targets changed, as a deploy hook "
        "(stored), e.g. 'systemctl reload haproxy'.",
    ),
    opt(
        "--pkcs12-password-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="File whose first line is the password of pkcs12 targets (stored).",
    ),
    opt(
        "--pkcs12-legacy",
        is_flag=True,
        default=None,
        help="Encrypt pkcs12 targets with 3DES/SHA-1 for old Java and Windows (stored; "
        "the default is AES-256 with PBKDF2).",
    ),
]


def deploy_options(func: F) -> F:
    """Add the deploy-target flags to a command."""
    for decorator in reversed(_DECORATORS):
        func = decorator(func)
    return func


def deploy_given(kw: Mapping[str, Any]) -> bool:
    """Whether any deploy flag was given."""
    return any(kw.get(k) not in (None, (), "") for k in DEPLOY_KEYS)


def deploy_settings(kw: Mapping[str, Any]) -> DeploySettings:
    """The deploy settings from the flags.

    Raises:
        UsageError: a bad target, owner or mode; pkcs12 without a password file.
    """
    if not deploy_given(kw):
        from certbot_like.deploy.settings import DeploySettings

        return DeploySettings()
    from certbot_like.deploy.spec import settings_from_flags
    from certbot_like.errors import UsageError

    if not kw.get("deploy_to"):
        raise UsageError(
            "--deploy-owner, --deploy-mode, --deploy-reload and the pkcs12 options need "
            "--deploy-to",
            "Add --deploy-to FORMAT:PATH",
        )
    return settings_from_flags(
        kw.get("deploy_to") or (),
        owner=kw.get("deploy_owner"),
        mode=kw.get("deploy_mode"),
        reload=kw.get("deploy_reload"),
        pkcs12_password_file=kw.get("pkcs12_password_file"),
        pkcs12_legacy=bool(kw.get("pkcs12_legacy")),
    )


def report_lines(done: Redeployed) -> list[str]:
    """One line per target: ``written``, ``unchanged`` or ``failed`` with the reason."""
    lines = []
    for report in done.reports:
        for result in report.results:
            why = f" ({result.error})" if result.error else ""
            lines.append(f"{report.lineage}: {result.status} {result.target}{why}")
    for lineage, error in done.reload_errors.items():
        lines.append(f"{lineage}: reload failed ({error})")
    return lines


def report_document(done: Redeployed) -> dict[str, Any]:
    return {
        "lineages": [
            {
                "lineage": r.lineage,
                "targets": [
                    {
                        "format": t.target.format,
                        "path": str(t.target.path),
                        "status": t.status,
                        "error": t.error,
                    }
                    for t in r.results
                ],
                "reload_error": done.reload_errors.get(r.lineage),
            }
            for r in done.reports
        ]
    }


@click.command(
    "deploy",
    cls=CompatCommand,
    short_help="Write the deploy targets again.",
    help="Write every --deploy-to target of the named lineages (all by default) again from "
    "the current certificate, with its owner and mode, without contacting the CA; then run "
    "each --deploy-reload command once if a target changed. For a service whose directory "
    "was wiped, or after changing a target's owner by hand.\n\n\b\nExample:\n"
    "  certbot-like deploy --cert-name example.com",
)
@common_options
@opt("--cert-name", "cert_names", multiple=True, metavar="NAME", help="Lineage (repeatable).")
@json_option
@click.pass_context
def deploy_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.cli.options import refuse_dry_run
    from certbot_like.cli.output import emit
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.errors import UsageError
    from certbot_like.services.deploy import redeploy

    runtime = build_runtime(ctx, kw)
    refuse_dry_run(kw, "deploy")
    store = runtime.settings.store
    names = list(kw.get("cert_names") or ()) or store.lineage_names()
    for name in names:
        if not store.has_lineage(name):
            raise UsageError(f"No certificate named {name!r}", "See `certbot-like certificates`")
    with runtime.locked():
        done = redeploy(runtime.settings, names, runtime.hooks())
    lines = report_lines(done) or ["No deploy targets are configured."]
    emit(runtime, kw, report_document(done), lines)
    done.raise_first()
