"""Output of the commands: text, and :func:`print_json` for every ``--json`` document (the
JSON forms themselves live beside each command)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import click

from certbot_like.idn import both_forms

if TYPE_CHECKING:
    from certbot_like.cli.runtime import Runtime
    from certbot_like.services.issue import ObtainResult


def days_until(moment: datetime.datetime) -> int:
    now = datetime.datetime.now(datetime.UTC)
    return int((moment - now).total_seconds() // 86400)


def print_obtain_result(runtime: Runtime, result: ObtainResult) -> None:
    """What ``obtain`` tells the operator: where the files are and when they expire."""
    echo = runtime.echo
    expiry = f"{result.not_after:%Y-%m-%d %H:%M} UTC (in {days_until(result.not_after)} days)"
    if result.action == "dry-run":
        echo(
            "The dry run was successful: the CA issued a test certificate for "
            f"{', '.join(map(both_forms, result.names))}; nothing was saved."
        )
        return
    if result.action == "kept":
        echo(f"Certificate {result.lineage} is not yet due for renewal; no action taken.")
    elif result.action == "csr":
        echo("Successfully received certificate.")
        for kind in ("cert", "chain", "fullchain"):
            echo(f"{kind.capitalize():9} saved at: {result.paths[kind]}")
        echo(f"This certificate expires on {expiry}.")
        return
    else:
        verb = "received" if result.action == "issued" else "renewed"
        echo(f"Successfully {verb} certificate {result.lineage}.")
    echo(f"Certificate is saved at: {result.paths['fullchain']}")
    echo(f"Key is saved at:         {result.paths['privkey']}")
    echo(f"Names:                   {', '.join(map(both_forms, result.names))}")
    echo(f"Key type:                {result.key_type}; issuer: {result.issuer}")
    echo(f"This certificate expires on {expiry}.")
    if result.installed_with:
        echo(f"Deployed with {result.installed_with}; the server was reloaded.")


# The version of every --json document's layout: raised when a key is removed, renamed or
# changes meaning (adding a key does not raise it). docs/json.md, docs/adr/0019.
JSON_SCHEMA_VERSION = 1


def print_json(doc: Mapping[str, Any], *, indent: int | None = 2) -> None:
    """Print *doc* on stdout as a JSON document, ``schema_version`` first."""
    click.echo(json.dumps({"schema_version": JSON_SCHEMA_VERSION, **doc}, indent=indent))


def print_json_stream(doc: Mapping[str, Any], key: str, items: Iterable[Mapping[str, Any]]) -> None:
    """Print *doc* with the list *key* filled from *items* as they come: one valid JSON
    document whose list holds one compact object per line, so memory does not grow with
    the number of items (``certificates --json`` over 100,000 lineages)."""
    head = json.dumps({"schema_version": JSON_SCHEMA_VERSION, **doc, key: []})
    click.echo(head[:-3] + "[", nl=False)  # the document without its closing "]}"
    separator = "\n"
    for item in items:
        click.echo(separator + json.dumps(item, separators=(",", ":")), nl=False)
        separator = ",\n"
    click.echo("\n]}")


def emit(runtime: Runtime, kw: Mapping[str, Any], doc: Mapping[str, Any], lines: list[str]) -> None:
    """*doc* as JSON on stdout with ``--json``, otherwise *lines* (unless ``--quiet``)."""
    if kw.get("as_json"):
        print_json(doc)
        return
    for line in lines:
        runtime.echo(line)
