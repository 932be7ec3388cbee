"""Internationalised names end to end: a Unicode -d (or cli.ini ``domains``) reaches Pebble as
its A-label, the lineage is named as certbot 5.8 names it, and the output shows both forms.

Pebble resolves through the module's BIND, whose ``*.example.test`` answers 127.0.0.1, so
HTTP-01 for ``xn--...`` names reaches the standalone listener.
"""

from __future__ import annotations

import json
from pathlib import Path

import idna

from tests.harness.servers import Pebble
from tests.integration.checks import assert_lineage
from tests.integration.conftest import Client, unique_name
from tests.integration.dns_fixtures import bind, error_line, steady_pebble  # noqa: F401
from tests.integration.test_certbot_compat import certbot_bin, run_certbot  # noqa: F401

pebble = steady_pebble()


def idn_pair(word: str) -> tuple[str, str]:
    """(U-label name, A-label name) under example.test, unique per call."""
    unicode_name = f"{word}-{unique_name('n').replace('.', '-')}.example.test"
    return unicode_name, idna.encode(unicode_name, uts46=True).decode()


def test_a_unicode_name_is_issued_as_its_a_label_and_shown_in_both_forms(
    client: Client,
    pebble: Pebble,
) -> None:
    unicode_name, ascii_name = idn_pair("bücher")
    assert ascii_name.startswith("xn--")
    result = client.obtain(unicode_name)
    assert result.returncode == 0, result
    assert_lineage(client.live(ascii_name), {ascii_name}, pebble.root_pem())
    assert (client.config_dir / "renewal" / f"{ascii_name}.conf").is_file()
    assert f"Names:                   {ascii_name} ({unicode_name})" in result.stdout

    listed = client.run("certificates", register=False)
    assert f"Domains: {ascii_name} ({unicode_name})" in listed.stdout
    doc = json.loads(client.run("certificates", "--json", register=False).stdout)
    (cert,) = [c for c in doc["certificates"] if c["name"] == ascii_name]
    assert cert["names"] == [ascii_name] and cert["unicode_names"] == [unicode_name]

    revoked = client.run("revoke", "--cert-name", ascii_name, "--json", register=False)
    assert revoked.returncode == 0, revoked
    doc = json.loads(revoked.stdout)
    assert doc["names"] == [ascii_name] and doc["unicode_names"] == [unicode_name]


def test_a_unicode_name_in_cli_ini(client: Client, pebble: Pebble, tmp_path: Path) -> None:
    unicode_name, ascii_name = idn_pair("grüße")
    ini = tmp_path / "cli.ini"
    ini.write_text(f"domains = {unicode_name}\n", encoding="utf-8")
    result = client.run("obtain", "-c", str(ini), "--json", *client.standalone_args())
    assert result.returncode == 0, result
    doc = json.loads(result.stdout)
    assert doc["names"] == [ascii_name] and doc["unicode_names"] == [unicode_name]
    assert doc["lineage"] == ascii_name


def test_names_idna_refuses_are_one_line_before_any_order(
    client: Client,
    pebble: Pebble,
) -> None:
    orders = sum("order-plz" in line for line in pebble.request_lines())
    cases = {
        "snow\u2603.example.test": "codepoint U+2603",
        "\u0430pple.example.test": "mixes Cyrillic and Latin letters",
        "\u00fc" * 64 + ".example.test": "longer than 63 characters once converted",
        "exampl\uff45.test": "non-ASCII spelling of the ASCII name example.test",
    }
    for name, problem in cases.items():
        result = client.obtain(name)
        assert result.returncode == 2, result
        line = error_line(result)
        assert line.startswith("Error: Invalid domain name") and problem in line, line
    assert sum("order-plz" in line for line in pebble.request_lines()) == orders


def test_the_lineage_is_the_one_certbot_names_for_the_same_name(
    client: Client,
    pebble: Pebble,
    certbot_bin: Path,  # noqa: F811
) -> None:
    unicode_name, ascii_name = idn_pair("straße")
    common = [
        "certonly", "--server", pebble.directory_url, "--standalone",
        "--http-01-port", str(pebble.http_port), "--http-01-address", "127.0.0.1",
        "--agree-tos", "--register-unsafely-without-email",
    ]  # fmt: skip
    refused = run_certbot(certbot_bin, client, *common, "-d", unicode_name)
    assert refused.returncode != 0
    assert "Non-ASCII domain names not supported" in refused.stdout + refused.stderr
    made = run_certbot(certbot_bin, client, *common, "-d", ascii_name)
    assert made.returncode == 0, made.stdout + made.stderr
    assert client.live(ascii_name).is_dir()

    ours = client.obtain(unicode_name, extra=["--force-renewal"])
    assert ours.returncode == 0, ours
    assert_lineage(client.live(ascii_name), {ascii_name}, pebble.root_pem(), version=2)
    assert sorted(p.name for p in (client.config_dir / "live").iterdir() if p.is_dir()) == [
        ascii_name
    ]
