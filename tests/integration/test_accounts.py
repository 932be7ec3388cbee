"""Account commands against a real Pebble, and `plugins`."""

from __future__ import annotations

import json

from tests.integration.conftest import Client, unique_name


def show(client: Client) -> dict[str, object]:
    result = client.run("show-account", "--json", register=False)
    assert result.returncode == 0, result
    doc: dict[str, object] = json.loads(result.stdout)
    return doc


def test_register_show_update_and_unregister(client: Client) -> None:
    first = client.run(
        "register", "--json", "--agree-tos", "-m", "ops@example.test", register=False
    )
    assert first.returncode == 0, first
    registered = json.loads(first.stdout)
    assert registered["registered_now"] is True
    again = client.run(
        "register", "--json", "--agree-tos", "-m", "ops@example.test", register=False
    )
    assert json.loads(again.stdout)["registered_now"] is False, "one account per CA"

    doc = show(client)
    assert doc["id"] == registered["id"] and doc["uri"] == registered["uri"]
    assert doc["contact"] == ["mailto:ops@example.test"] and doc["status"] == "valid"

    updated = client.run("update-account", "-m", "new@example.test", register=False)
    assert updated.returncode == 0, updated
    assert show(client)["contact"] == ["mailto:new@example.test"]

    bad = client.run("update-account", "-m", "not an address", register=False)
    assert bad.returncode == 2 and "Invalid e-mail address" in bad.stderr

    gone = client.run("unregister", "--yes", register=False)
    assert gone.returncode == 0, gone
    after = client.obtain(unique_name("deactivated"))
    assert after.returncode == 5, after
    assert len(after.stderr.strip().splitlines()) == 1


def test_show_account_without_an_account_says_how_to_register(client: Client) -> None:
    result = client.run("show-account", register=False)
    assert result.returncode == 3, result
    assert "certbot-like register" in result.stderr


def test_plugins_lists_every_plugin_and_each_can_run_here(client: Client) -> None:
    result = client.run("plugins", "--json", register=False)
    assert result.returncode == 0, result
    plugins = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}
    assert set(plugins) >= {
        "standalone",
        "webroot",
        "manual",
        "nginx",
        "apache",
        "dns-rfc2136",
        "dns-acmedns",
        "dns-lexicon",
    }
    assert all(p["unavailable"] is None for p in plugins.values()), plugins
    assert plugins["nginx"]["authenticator"] and plugins["nginx"]["installer"]
    assert plugins["standalone"]["challenges"] == ["http-01", "tls-alpn-01"]
