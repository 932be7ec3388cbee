"""``certbot-like plugins``: what is installed, what each plugin does, what cannot run."""

from __future__ import annotations

from typing import Any

import click

from certbot_like.cli.command import CompatCommand
from certbot_like.cli.options import common_options, json_option
from certbot_like.cli.output import print_json


@click.command(
    "plugins",
    cls=CompatCommand,
    short_help="List plugins.",
    help="List the plugins found through the 'certbot_like.plugins' entry point, "
    "what each can do, why any cannot run on this machine, and the optional extras "
    "that are not installed.",
)
@click.option("--authenticators", is_flag=True, help="Only authenticators.")
@click.option("--installers", is_flag=True, help="Only installers.")
@json_option
@common_options
def plugins_cmd(authenticators: bool, installers: bool, as_json: bool, **_common: object) -> None:
    """(The common options are accepted, as with certbot, so scripts can pass them.)"""
    from certbot_like.extras import missing_extras
    from certbot_like.plugin_registry import discover

    specs, broken = discover()
    rows: list[dict[str, Any]] = []
    for name, spec in sorted(specs.items()):
        if authenticators and not spec.authenticator:
            continue
        if installers and not spec.installer:
            continue
        rows.append(
            {
                "name": name,
                "description": spec.description,
                "authenticator": spec.authenticator,
                "installer": spec.installer,
                "challenges": list(spec.challenge_types),
                "unavailable": spec.unavailable_reason(),
            }
        )
    for item in broken:
        rows.append(
            {
                "name": item.name,
                "description": item.reference,
                "authenticator": False,
                "installer": False,
                "challenges": [],
                "unavailable": item.reason,
            }
        )
    missing = [
        {
            "extra": e.name,
            "distribution": e.distribution,
            "for": e.feature,
            "install": e.install_hint,
        }
        for e in missing_extras()
    ]
    if as_json:
        print_json({"plugins": rows, "missing_extras": missing})
        return
    for row in rows:
        roles = ", ".join(r for r in ("authenticator", "installer") if row[r]) or "broken"
        click.echo(f"* {row['name']} ({roles})")
        click.echo(f"    {row['description']}")
        if row["challenges"]:
            click.echo(f"    Challenges: {', '.join(row['challenges'])}")
        if row["unavailable"]:
            click.echo(f"    UNAVAILABLE: {row['unavailable']}")
    for extra in missing:
        click.echo(
            f"Extra [{extra['extra']}] not installed: {extra['distribution']} "
            f"({extra['for']}); {extra['install']}"
        )
