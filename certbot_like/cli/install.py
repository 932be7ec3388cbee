"""``certbot-like install`` and ``certbot-like rollback``: installers on their own."""

from __future__ import annotations

from typing import Any

import click

from certbot_like.cli.command import CompatCommand
from certbot_like.cli.deploy import deploy_given, deploy_options, deploy_settings
from certbot_like.cli.options import cert_name_option, common_options, json_option, opt
from certbot_like.cli.output import print_json


def installer_choice(ctx: click.Context, kw: dict[str, Any]) -> Any:
    from certbot_like.cli.plugin_choice import build_choice, choose_plugin_names
    from certbot_like.errors import UsageError

    _, name = choose_plugin_names(kw, need_authenticator=False, both_roles=True)
    if name is None:
        raise UsageError("No installer chosen", "Pass --nginx, --apache or -i NAME")
    return build_choice(name, ctx, kw)


def _installer_named(kw: dict[str, Any]) -> bool:
    from certbot_like.cli.plugin_choice import choose_plugin_names

    return choose_plugin_names(kw, need_authenticator=False, both_roles=True)[1] is not None


def _deploy_only(runtime: Any, kw: dict[str, Any]) -> None:
    """``install --deploy-to ...`` without an installer: store the targets, write them.

    Raises:
        UsageError: no such lineage. DeployError, HookError: a target or the reload failed.
    """
    from certbot_like.cli.deploy import report_document, report_lines
    from certbot_like.cli.output import emit
    from certbot_like.errors import UsageError
    from certbot_like.services.deploy import redeploy

    settings = deploy_settings(kw)
    store = runtime.settings.store
    name = kw["cert_name"]
    if not store.has_lineage(name):
        raise UsageError(f"No certificate named {name!r}", "See `certbot-like certificates`")
    with runtime.locked():
        store.prepare_writes()
        params = store.read_lineage(name).params
        store.write_params(name, params.merged(settings.conf_values()))
        done = redeploy(runtime.settings, [name], runtime.hooks())
    emit(runtime, kw, report_document(done), report_lines(done))
    done.raise_first()


@click.command(
    "install",
    cls=CompatCommand,
    with_plugins=True,
    short_help="Install an existing certificate.",
    help="Deploy an existing lineage into a server with an installer plugin, test "
    "the configuration and reload the server; on any failure every changed "
    "file is restored. The installer is stored in the renewal conf, so "
    "renewals reload the server.\n\n\b\nExample:\n"
    "  certbot-like install --cert-name example.com --nginx --redirect",
)
@common_options
@cert_name_option(required=True)
@opt("--redirect/--no-redirect", default=False, help="Redirect HTTP to HTTPS (301).")
@opt("--hsts/--no-hsts", default=False, help="Send Strict-Transport-Security on HTTPS.")
@deploy_options
@json_option
@click.pass_context
def install_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.errors import UsageError
    from certbot_like.plugin_options import options_to_conf
    from certbot_like.services.deploy import redeploy
    from certbot_like.services.install import Enhancements, deploy_target, install
    from certbot_like.services.lineages import load_named

    runtime = build_runtime(ctx, kw)
    if deploy_given(kw) and not _installer_named(kw):
        _deploy_only(runtime, kw)
        return
    choice = installer_choice(ctx, kw)
    layout = runtime.settings.layout
    store = runtime.settings.store
    with runtime.locked():
        info = load_named(store, kw["cert_name"])
        if info is None or info.lineage is None:
            raise UsageError(
                f"No certificate named {kw['cert_name']!r}", "See `certbot-like certificates`"
            )
        if info.problems:
            raise UsageError(
                f"Certificate {info.name} is not usable: {'; '.join(info.problems)}",
                "Renew it first with `certbot-like renew --force-renewal`",
            )
        target = deploy_target(info.name, info.identifiers, info.live)
        install(
            layout,
            choice,
            target,
            runtime.display,
            runtime.hooks(),
            Enhancements(redirect=bool(kw.get("redirect")), hsts=bool(kw.get("hsts"))),
        )
        values: dict[str, object] = {"installer": choice.spec.name}
        if deploy_given(kw):
            values.update(deploy_settings(kw).conf_values())
        for key, value in options_to_conf(choice.options, set(choice.user_set)).items():
            if isinstance(value, (str, int, float, bool)):
                values[key] = str(value)
        store.write_params(info.name, info.lineage.params.merged(values))
        if deploy_given(kw):
            redeploy(runtime.settings, [info.name], runtime.hooks()).raise_first()
    if kw.get("as_json"):
        print_json({"lineage": info.name, "installer": choice.spec.name}, indent=None)
    else:
        runtime.echo(
            f"Installed certificate {info.name} with {choice.spec.name}; the server was reloaded."
        )


@click.command(
    "rollback",
    cls=CompatCommand,
    with_plugins=True,
    short_help="Undo the installer's last change.",
    help="Put back the files an installer changed in its most recent change "
    "(from the backups it keeps under --work-dir), test the configuration "
    "and reload the server.\n\n\b\nExample:\n  certbot-like rollback --nginx",
)
@common_options
@opt(
    "--checkpoints",
    type=click.IntRange(1, 1000),
    default=1,
    help="How many of the installer's changes to undo, most recent first.",
)
@click.pass_context
def rollback_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.services.install import rollback

    runtime = build_runtime(ctx, kw)
    choice = installer_choice(ctx, kw)
    with runtime.locked():
        description = rollback(
            runtime.settings.layout,
            choice,
            runtime.display,
            runtime.hooks(),
            checkpoints=int(kw.get("checkpoints") or 1),
        )
    runtime.echo(f"Rolled back: {description}")
