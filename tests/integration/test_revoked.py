"""A certificate revoked through certbot-like, its lineage kept: `certificates` says REVOKED
(text and --json), certbot 5.8 still reads the lineage, and `renew` replaces it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.harness.servers import Pebble
from tests.integration.conftest import Client, unique_name
from tests.integration.test_certbot_compat import certbot_bin, run_certbot  # noqa: F401

RENEW = ("--no-random-sleep-on-renew", "--json")


def listing(client: Client, name: str) -> dict[str, object]:
    result = client.run("certificates", "--cert-name", name, "--json", register=False)
    assert result.returncode == 0, result
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1
    entry: dict[str, object] = doc["certificates"][0]
    return entry


def test_revoked_and_kept_is_listed_revoked_until_renewed(
    client: Client,
    pebble: Pebble,
    certbot_bin: Path,  # noqa: F811
) -> None:
    name, other = unique_name("revoked"), unique_name("kept")
    assert client.obtain(name).returncode == 0
    assert client.obtain(other).returncode == 0
    assert listing(client, name)["revoked"] is False

    result = client.run("revoke", "--cert-name", name, "--no-delete-after-revoke")
    assert result.returncode == 0, result
    entry = listing(client, name)
    assert entry["revoked"] is True and entry["valid"] is False
    assert entry["problems"] == ["REVOKED"]
    assert listing(client, other)["revoked"] is False
    text = client.run("certificates", register=False).stdout
    blocks = {b.split("\n", 1)[0]: b for b in text.split("Certificate Name: ")[1:]}
    assert "(INVALID: REVOKED)" in blocks[name]
    assert "REVOKED" not in blocks[other]

    theirs = run_certbot(certbot_bin, client, "certificates", "--cert-name", name)
    assert theirs.returncode == 0, theirs.stderr
    assert f"Certificate Name: {name}" in theirs.stdout

    renewed = client.run("renew", *RENEW, register=False)
    assert renewed.returncode == 0, renewed
    report = json.loads(renewed.stdout)
    assert [o["name"] for o in report["renewed"]] == [name]
    assert [o["name"] for o in report["not_due"]] == [other]
    after = listing(client, name)
    assert after["revoked"] is False and after["valid"] is True
