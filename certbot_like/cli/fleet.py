"""``certbot-like fleet``: many nodes sharing one certificate store in PostgreSQL.

``init`` creates or migrates the schema and the store key file, ``import`` copies this
node's files into the store, ``sync`` copies the store's new versions to this node (and
runs its deploy hooks), ``status`` shows nodes, lineages and leases. See docs/fleet.md.
"""

from __future__ import annotations

from typing import Any

import click

from certbot_like.cli.command import CompatCommand, SubcommandGroup
from certbot_like.cli.options import (
    common_options,
    domains_option,
    json_option,
    opt,
    refuse_dry_run,
)
from certbot_like.cli.output import emit

DEFAULT_LISTEN = "127.0.0.1:8402"  # serve-challenges' default, which route-challenges targets


@click.group(
    "fleet",
    cls=SubcommandGroup,
    help="Many machines, one certificate store in PostgreSQL (--store): each certificate "
    "is renewed once, by one node, and deployed on all of them. See docs/fleet.md.",
)
def fleet_cmd() -> None:
    """The ``fleet`` command group."""


def _setup(ctx: click.Context, kw: dict[str, Any], command: str) -> Any:
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.services.fleet import require_fleet_store

    runtime = build_runtime(ctx, kw)
    refuse_dry_run(kw, f"fleet {command}")
    return runtime, require_fleet_store(runtime.settings)


@fleet_cmd.command(
    "init",
    cls=CompatCommand,
    short_help="Create or migrate the store's schema.",
    help="Create or migrate the store's schema (versioned, idempotent) and create the store "
    "key file (--store-key-file, 0600) when it is missing. Copy that file to every node.",
)
@common_options
@json_option
@click.pass_context
def init_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.services.fleet import init

    runtime, store = _setup(ctx, kw, "init")
    result = init(store)
    doc = {
        "schema_before": result.schema_before,
        "schema": result.schema_after,
        "key_created": result.key_created,
        "key_file": result.key_file,
    }
    if result.schema_before == result.schema_after:
        lines = [f"The store {store.description} is at schema version {result.schema_after}."]
    else:
        lines = [
            f"The store {store.description} moved from schema version "
            f"{result.schema_before} to {result.schema_after}."
        ]
    if result.key_created:
        lines.append(f"Created the store key {result.key_file}: copy it to every node (0600).")
    emit(runtime, kw, doc, lines)


@fleet_cmd.command(
    "import",
    cls=CompatCommand,
    short_help="Copy this node's accounts and lineages into the store.",
    help="Copy this node's accounts and lineages (every version, renewal settings and stored "
    "hooks) into the store. Idempotent; a lineage the store already holds differently is "
    "named and left alone (exit 3).",
)
@common_options
@json_option
@click.pass_context
def import_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.services.fleet import import_local

    runtime, store = _setup(ctx, kw, "import")
    with runtime.locked():
        result = import_local(store)
    doc = {
        "accounts": result.accounts,
        "imported": result.imported,
        "already_present": result.present,
        "conflicts": result.conflicts,
    }
    lines = [
        f"Imported {len(result.imported)} lineage(s) and {len(result.accounts)} account(s); "
        f"{len(result.present)} were already in the store."
    ]
    emit(runtime, kw, doc, lines)
    if result.conflicts:
        from certbot_like.errors import ConfigError

        raise ConfigError(
            f"The store holds other certificates under the name(s) {', '.join(result.conflicts)};"
            " those were left alone",
            "Rename or delete one side (certbot-like delete --cert-name NAME), then import again",
        )


@fleet_cmd.command(
    "sync",
    cls=CompatCommand,
    short_help="Bring this node's files up to date from the store.",
    help="Write the versions other nodes stored into this node's config directory (archive, "
    "atomic live/ swap), then run the deploy hooks and installer reloads of the lineages that "
    "changed here. `renew` does the same at its start and end.",
)
@common_options
@json_option
@click.pass_context
def sync_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.services.fleet import sync

    runtime, store = _setup(ctx, kw, "sync")
    with runtime.locked():
        result = sync(
            store,
            runtime.hooks(),
            runtime.display,
            directory_hooks=not kw.get("no_directory_hooks"),
        )
    doc = {
        "updated": result.updated,
        "deleted": result.deleted,
        "accounts": result.accounts,
        "left_alone": result.left_alone,
        "problems": result.problems,
    }
    lines = [f"Updated {name}" for name in result.updated]
    lines += [f"Deleted {name} (deleted from the store)" for name in result.deleted]
    lines += [f"Wrote account {account} to this node's accounts/" for account in result.accounts]
    lines = lines or ["Everything is up to date."]
    problems = [*result.left_alone, *result.problems]
    emit(runtime, kw, doc, [*lines, *(f"Problem: {p}" for p in problems)])
    if result.exit_code:
        raise SystemExit(result.exit_code)


@fleet_cmd.command(
    "status",
    cls=CompatCommand,
    short_help="Nodes, lineages and leases of the fleet.",
    help="Show the nodes (version, last run, last sync, lag), the lineages (current version, "
    "renewed by which node and when, next renewal) and the leases held, and by whom.",
)
@common_options
@json_option
@click.pass_context
def status_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.storage.pg_fleet import fleet_status

    runtime, store = _setup(ctx, kw, "status")
    status = fleet_status(store)
    lines = ["Nodes:"]
    lines += [
        f"  {n['name']}  version {n['version']}  last run {n['last_run'] or '-'}  "
        f"last sync {n['last_sync'] or '-'}  lag {n['lag_seconds']} s"
        for n in status.nodes
    ] or ["  (none yet)"]
    lines.append("Lineages:")
    lines += [
        f"  {x['name']}  version {x['version']}  renewed by {x['renewed_by'] or '-'} at "
        f"{x['renewed_at'] or '-'}  next renewal {x['next_renewal'] or '-'}"
        for x in status.lineages
    ] or ["  (none)"]
    lines.append("Leases:")
    lines += [
        f"  {x['lineage']}  held by {x['holder']} until {x['expires_at']}"
        + ("  (expired)" if x["expired"] else "")
        for x in status.locks
    ] or ["  (none held)"]
    emit(runtime, kw, status.to_json(), lines)


@fleet_cmd.command(
    "serve-challenges",
    cls=CompatCommand,
    short_help="Answer HTTP-01 challenges from the store.",
    help="Answer /.well-known/acme-challenge/TOKEN from the store until stopped, so an "
    "HTTP-01 validation published by the fleet-http authenticator passes whichever node the "
    "load balancer picks. Run it on every node (a systemd service: docs/fleet.md).",
)
@common_options
@opt("--listen", metavar="ADDR:PORT", default=DEFAULT_LISTEN, help="Where to listen.")
@click.pass_context
def serve_challenges_cmd(ctx: click.Context, /, **kw: Any) -> None:
    import signal

    from certbot_like.services.fleet_challenges import serve

    runtime, store = _setup(ctx, kw, "serve-challenges")

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    runtime.echo(f"Answering HTTP-01 challenges from {store.description} on {kw['listen']}")
    try:
        serve(store, kw["listen"])
    except KeyboardInterrupt:
        runtime.echo("Stopped.")


@fleet_cmd.command(
    "route-challenges",
    cls=CompatCommand,
    with_plugins=True,
    short_help="Route the challenge path of nginx or Apache to serve-challenges.",
    help="In the nginx server blocks or Apache VirtualHosts that serve the names on the "
    "HTTP port, send /.well-known/acme-challenge/ to this node's `fleet serve-challenges` "
    "(--listen, its default too), then test the configuration and reload; on any failure "
    "every changed file is restored. Running it again changes nothing; a site that already "
    "sends the path elsewhere is named and left alone (exit 4). Undo with `rollback`."
    "\n\n\b\nExample:\n  certbot-like fleet route-challenges --nginx -d example.com",
)
@common_options
@domains_option
@opt(
    "--listen",
    metavar="ADDR:PORT",
    default=DEFAULT_LISTEN,
    help="Where this node's serve-challenges listens.",
)
@json_option
@click.pass_context
def route_challenges_cmd(ctx: click.Context, /, **kw: Any) -> None:
    from certbot_like.cli.install import installer_choice
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.errors import UsageError
    from certbot_like.services.fleet_challenges import upstream_for
    from certbot_like.services.install import route_challenges
    from certbot_like.services.obtain import identifiers_from

    runtime = build_runtime(ctx, kw)
    refuse_dry_run(kw, "fleet route-challenges")
    names = [i.value for i in identifiers_from(kw.get("domains") or ())]
    wildcards = [n for n in names if n.startswith("*.")]
    if wildcards:
        raise UsageError(
            f"{wildcards[0]} is a wildcard, which HTTP-01 cannot validate",
            "Route the names themselves (or use DNS-01 for wildcards)",
        )
    upstream = upstream_for(kw["listen"])
    choice = installer_choice(ctx, kw)
    with runtime.locked():
        changed = route_challenges(
            runtime.settings.layout, choice, names, upstream, runtime.display, runtime.hooks()
        )
    doc = {"installer": choice.spec.name, "upstream": upstream, "changed": changed}
    lines = [f"Routed {line}" for line in changed] or [
        f"{choice.spec.name} already routes the challenge path of "
        f"{', '.join(names)} to {upstream}; nothing changed."
    ]
    if changed:
        lines.append(f"{choice.spec.name} was reloaded.")
    emit(runtime, kw, doc, lines)
