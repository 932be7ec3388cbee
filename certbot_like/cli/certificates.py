"""``certbot-like certificates``: every lineage with its names, expiry, key and problems."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import click

from certbot_like.cli.command import CompatCommand
from certbot_like.cli.options import cert_name_option, common_options, domains_option, json_option
from certbot_like.cli.output import print_json_stream
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


def lineage_text(info: Any, targets: list[tuple[Any, str]]) -> str:
    """The lines ``certificates`` prints for one lineage (certbot's layout of them)."""
    lines = [f"  Certificate Name: {info.name}"]
    if info.serial:
        days = info.days_left() or 0.0
        state = (
            "INVALID: " + ", ".join(info.problems)
            if info.problems
            else (f"VALID: {int(days)} days" if days >= 1 else f"VALID: {int(days * 24)} hours")
        )
        lines += [
            f"    Serial Number: {info.serial}",
            f"    Key Type: {info.key_type}",
            f"    Domains: {' '.join(map(both_forms, info.names))}",
            f"    Expiry Date: {info.not_after:%Y-%m-%d %H:%M:%S+00:00} ({state})",
            f"    Issuer: {info.issuer}",
        ]
    else:
        lines.append(f"    INVALID: {'; '.join(info.problems)}")
    if info.lineage:
        live = info.lineage.live
        lines.append(f"    Certificate Path: {live['fullchain']}")
        lines.append(f"    Private Key Path: {live['privkey']}")
    lines += [f"    Deploy Target: {target} ({state})" for target, state in targets]
    return "\n".join(lines)


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
    settings = runtime.settings
    store = settings.store
    if kw.get("cert_name"):
        name = kw["cert_name"]
        found = iter([inspect(store, name)] if store.has_lineage(name) else [])
    else:
        found = all_lineages(store)  # one lineage at a time: printed as it is read
    wanted = set(identifiers_from(kw["domains"])) if kw.get("domains") else None

    def selected() -> Iterator[tuple[Any, list[tuple[Any, str]]]]:
        for info in found:
            if wanted is not None and not wanted <= set(info.identifiers):
                continue
            params = info.params
            yield info, lineage_targets(settings, info.name) if params and params.deploy_to else []

    items = selected()
    first = next(items, None)  # lists the store (and fails) before anything is printed
    rest = itertools.chain([first] if first else [], items)
    if kw.get("as_json"):
        print_json_stream({}, "certificates", (lineage_document(i, t) for i, t in rest))
        return
    if first is None:
        runtime.echo("No certificates found.")
        return
    runtime.echo("Found the following certificates:")
    for info, targets in rest:
        runtime.echo(lineage_text(info, targets))
