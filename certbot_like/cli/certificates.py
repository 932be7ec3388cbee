"""``certbot-like certificates``: every lineage with its names, expiry, key and problems."""

from __future__ import annotations

from typing import Any

import click

from certbot_like.cli.command import CompatCommand
from certbot_like.cli.options import cert_name_option, common_options, domains_option, json_option
from certbot_like.cli.output import print_json
from certbot_like.idn import both_forms, to_unicode


def lineage_document(info: Any, targets: list[tuple[Any, str]] | None = None) -> dict[str, Any]:
    """The JSON form of one lineage (with its deploy targets and their state)."""
    days = info.days_left()
    return {
        "name": info.name,
        "names": info.names,
        "unicode_names": [to_unicode(name) for name in info.names],
        "serial": info.serial,
        "key_type": info.key_type,
        "issuer": info.issuer,
        "not_before": info.not_before.isoformat() if info.not_before else None,
        "not_after": info.not_after.isoformat() if info.not_after else None,
        "days_left": None if days is None else round(days, 2),
        "version": info.version,
        "valid": not info.problems,
        "revoked": "REVOKED" in info.problems,
        "problems": info.problems,
        "paths": {k: str(v) for k, v in info.live.items()},
        "renewal_conf": info.location,
        "deploy_targets": [
            {"format": t.format, "path": str(t.path), "state": state}
            for t, state in (targets or [])
        ],
    }


def _print(infos: list[Any], targets: dict[str, list[tuple[Any, str]]], echo: Any) -> None:
    if not infos:
        echo("No certificates found.")
        return
    echo("Found the following certificates:")
    for info in infos:
        echo(f"  Certificate Name: {info.name}")
        if info.serial:
            echo(f"    Serial Number: {info.serial}")
            echo(f"    Key Type: {info.key_type}")
            echo(f"    Domains: {' '.join(map(both_forms, info.names))}")
            days = info.days_left() or 0.0
            state = (
                "INVALID: " + ", ".join(info.problems)
                if info.problems
                else (f"VALID: {int(days)} days" if days >= 1 else f"VALID: {int(days * 24)} hours")
            )
            echo(f"    Expiry Date: {info.not_after:%Y-%m-%d %H:%M:%S+00:00} ({state})")
            echo(f"    Issuer: {info.issuer}")
        else:
            echo(f"    INVALID: {'; '.join(info.problems)}")
        if info.lineage:
            echo(f"    Certificate Path: {info.live['fullchain']}")
            echo(f"    Private Key Path: {info.live['privkey']}")
        for target, state in targets.get(info.name, []):
            echo(f"    Deploy Target: {target} ({state})")


@click.command(
    "certificates",
    cls=CompatCommand,
    short_help="List certificates.",
    help="List every certificate lineage: names, expiry, days left, key type, "
    "paths, and anything wrong with it (missing files, key mismatch, expired).",
)
@common_options
@cert_name_option()
@domains_option
@json_option
@click.pass_context
def certificates_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.services.deploy import lineage_targets
    from certbot_like.services.lineages import all_lineages, inspect
    from certbot_like.services.obtain import identifiers_from

    runtime = build_runtime(ctx, kw)
    store = runtime.settings.store
    if kw.get("cert_name"):
        name = kw["cert_name"]
        infos = [inspect(store, name)] if store.has_lineage(name) else []
    else:
        infos = list(all_lineages(store))
    if kw.get("domains"):
        wanted = set(identifiers_from(kw["domains"]))
        infos = [i for i in infos if wanted <= set(i.identifiers)]
    targets = {
        i.name: lineage_targets(runtime.settings, i.name)
        for i in infos
        if i.params is not None and i.params.deploy_to
    }
    if kw.get("as_json"):
        docs = [lineage_document(i, targets.get(i.name)) for i in infos]
        print_json({"certificates": docs})
    else:
        _print(infos, targets, runtime.echo)
