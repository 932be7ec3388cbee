"""End to end: dns-lexicon, through lexicon's Client and a provider, to a real BIND9.

lexicon has no offline provider; the test one (``certbotliketest``, RFC 2136 to the test
BIND) is put in lexicon's provider package by a ``sitecustomize`` on the certbot-like
process's ``PYTHONPATH``. Everything from the CLI to the provider call is the real code.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.harness.bind import Bind
from tests.harness.servers import Pebble
from tests.integration.checks import assert_lineage
from tests.integration.conftest import Client, assert_no_secrets
from tests.integration.dns_fixtures import bind, error_line, pebble, run  # noqa: F401

SITE = Path(__file__).resolve().parents[1] / "harness" / "lexicon_site"


def use_test_provider(client: Client, bind: Bind) -> None:  # noqa: F811
    """Make the test provider visible; its server and port come from the environment."""
    path = os.environ.get("PYTHONPATH")
    client.env["PYTHONPATH"] = f"{SITE}{os.pathsep}{path}" if path else str(SITE)
    client.env["LEXICON_CERTBOTLIKETEST_AUTH_SERVER"] = "127.0.0.1"
    client.env["LEXICON_CERTBOTLIKETEST_AUTH_PORT"] = str(bind.port)


def test_wildcard_through_a_lexicon_provider_with_ini_and_environment(
    client: Client,
    bind: Bind,  # noqa: F811
    pebble: Pebble,  # noqa: F811
) -> None:
    use_test_provider(client, bind)
    client.env["LEXICON_CERTBOTLIKETEST_AUTH_KEY_NAME"] = bind.key_name
    ini = client.root / "lexicon.ini"
    ini.write_text(f"dns_lexicon_certbotliketest_key_secret = {bind.secret}\n")
    ini.chmod(0o600)
    name = "lexicon.example.test"
    result = run(
        client,
        "obtain",
        "-d",
        name,
        "-d",
        f"*.{name}",
        "--dns-lexicon",
        "--dns-lexicon-provider",
        "certbotliketest",
        "--dns-lexicon-credentials",
        str(ini),
        *bind.lookup_args(),
    )
    assert result.returncode == 0, result
    assert_lineage(client.live(name), {name, f"*.{name}"}, pebble.root_pem())
    assert bind.txt(f"_acme-challenge.{name}") == set()
    conf = (client.config_dir / "renewal" / f"{name}.conf").read_text()
    assert "dns_lexicon_provider = certbotliketest" in conf
    assert_no_secrets(client, extra=(bind.secret,))


def test_a_provider_refusing_the_credentials_is_one_line_without_the_secret(
    client: Client,
    bind: Bind,  # noqa: F811
) -> None:
    use_test_provider(client, bind)
    wrong = "d3JvbmctZG9lcy1ub3QtbWF0dGVyLXdyb25nLXNlY3JldA=="
    client.env["LEXICON_CERTBOTLIKETEST_AUTH_KEY_NAME"] = bind.key_name
    client.env["LEXICON_CERTBOTLIKETEST_AUTH_KEY_SECRET"] = wrong
    result = run(
        client,
        "obtain",
        "-d",
        "refused.example.test",
        "--dns-lexicon",
        "--dns-lexicon-provider",
        "certbotliketest",
        *bind.lookup_args(),
    )
    assert result.returncode == 4, result
    line = error_line(result)
    assert line.startswith(
        "Error: The lexicon provider certbotliketest failed to add a TXT record at "
        "_acme-challenge.refused.example.test (zone example.test): AuthenticationError"
    )
    assert not client.live("refused.example.test").exists()
    assert_no_secrets(client, extra=(wrong,))


def test_an_unknown_provider_is_refused_before_any_order(client: Client, pebble: Pebble) -> None:  # noqa: F811
    orders = sum("order-plz" in line for line in pebble.request_lines())
    result = run(
        client, "obtain", "-d", "x.example.test", "--dns-lexicon", "--dns-lexicon-provider", "ovhh"
    )
    assert result.returncode == 4, result
    assert "dns-lexicon has no provider named 'ovhh'. Did you mean ovh" in error_line(result)
    assert sum("order-plz" in line for line in pebble.request_lines()) == orders
