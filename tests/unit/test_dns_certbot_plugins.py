"""certbot's DNS plugin names: for every plugin, certbot's flags, conf keys and credentials
keys, mapped onto the lexicon provider certbot's own plugin uses.

The expected keys are written out here from certbot 5.8's plugins
(``certbot-dns-*/src/certbot_dns_*/_internal/dns_*.py``), not taken from the code under test.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest
from certbot_like_dns_lexicon.certbot_auth import create
from certbot_like_dns_lexicon.certbot_names import CERTBOT_PLUGINS, SPECS, route53_unavailable

from certbot_like.errors import ConfigError, PluginError
from certbot_like.plugin_options import field_kinds
from certbot_like.plugin_registry import plugins
from tests.unit.dns_support import make_context

pytestmark = pytest.mark.filterwarnings("ignore:Module lexicon.* is deprecated:DeprecationWarning")

# plugin -> (lexicon provider, certbot's credentials file, the lexicon options expected)
EXPECTED: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    "dns-cloudflare": (
        "cloudflare",
        {"dns_cloudflare_api_token": "cf-token-0123456789"},
        {"auth_token": "cf-token-0123456789"},
    ),
    "dns-digitalocean": (
        "digitalocean",
        {"dns_digitalocean_token": "do-token-0123456789"},
        {"auth_token": "do-token-0123456789"},
    ),
    "dns-dnsimple": (
        "dnsimple",
        {"dns_dnsimple_token": "dnsimple-0123456789"},
        {"auth_token": "dnsimple-0123456789"},
    ),
    "dns-dnsmadeeasy": (
        "dnsmadeeasy",
        {
            "dns_dnsmadeeasy_api_key": "dme-key-0123456789",
            "dns_dnsmadeeasy_secret_key": "dme-secret-012345",
        },
        {"auth_username": "dme-key-0123456789", "auth_token": "dme-secret-012345"},
    ),
    "dns-gehirn": (
        "gehirn",
        {
            "dns_gehirn_api_token": "gehirn-token-01234",
            "dns_gehirn_api_secret": "gehirn-secret-0123",
        },
        {"auth_token": "gehirn-token-01234", "auth_secret": "gehirn-secret-0123"},
    ),
    "dns-linode": (
        "linode4",
        {"dns_linode_key": "linode-key-0123456789", "dns_linode_version": "4"},
        {"auth_token": "linode-key-0123456789"},
    ),
    "dns-luadns": (
        "luadns",
        {"dns_luadns_email": "ops@example.com", "dns_luadns_token": "lua-token-0123456"},
        {"auth_username": "ops@example.com", "auth_token": "lua-token-0123456"},
    ),
    "dns-nsone": (
        "nsone",
        {"dns_nsone_api_key": "ns1-key-0123456789"},
        {"auth_token": "ns1-key-0123456789"},
    ),
    "dns-ovh": (
        "ovh",
        {
            "dns_ovh_endpoint": "ovh-eu",
            "dns_ovh_application_key": "ovh-appkey-012345",
            "dns_ovh_application_secret": "ovh-appsecret-0123",
            "dns_ovh_consumer_key": "ovh-consumer-01234",
        },
        {
            "auth_entrypoint": "ovh-eu",
            "auth_application_key": "ovh-appkey-012345",
            "auth_application_secret": "ovh-appsecret-0123",
            "auth_consumer_key": "ovh-consumer-01234",
        },
    ),
    "dns-sakuracloud": (
        "sakuracloud",
        {
            "dns_sakuracloud_api_token": "sakura-token-0123",
            "dns_sakuracloud_api_secret": "sakura-secret-012",
        },
        {"auth_token": "sakura-token-0123", "auth_secret": "sakura-secret-012"},
    ),
}
PUBLIC = {"ops@example.com", "ovh-eu", "4"}


def write_ini(tmp_path: Path, values: dict[str, str], mode: int = 0o600) -> Path:
    path = tmp_path / "certbot.ini"
    path.write_text(
        "# as certbot's docs show it\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
    )
    os.chmod(path, mode)
    return path


def authenticator(tmp_path: Path, name: str, **options: Any) -> tuple[Any, list[str], Any]:
    context, registered, display = make_context(tmp_path)
    return create(SPECS[name].options(**options), context), registered, display


def test_every_certbot_dns_plugin_is_registered_with_certbots_flags() -> None:
    found = plugins()
    for plugin in CERTBOT_PLUGINS:
        spec = found[plugin.name]
        flags = {flag for kind in field_kinds(spec.options) for flag in kind.flags}
        prefix = "--" + plugin.name
        if plugin.name == "dns-route53":  # certbot-dns-route53 has no options at all
            assert not {f for f in flags if f.startswith(prefix)}
            continue
        assert {prefix + "-credentials", prefix + "-propagation-seconds"} <= flags
        fields = {kind.name for kind in field_kinds(spec.options)}
        stem = plugin.name.replace("-", "_")
        assert {stem + "_credentials", stem + "_propagation_seconds"} <= fields
    assert set(EXPECTED) | {"dns-google", "dns-route53"} == {p.name for p in CERTBOT_PLUGINS}
    assert "dns-rfc2136" in found  # certbot's name, its own plugin


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_certbots_credentials_keys_map_onto_the_lexicon_provider(tmp_path: Path, name: str) -> None:
    provider, values, options = EXPECTED[name]
    path = write_ini(tmp_path, values)
    plugin, registered, _ = authenticator(
        tmp_path, name, **{name.replace("-", "_") + "_credentials": str(path)}
    )
    plugin.setup()
    assert plugin.provider == provider
    assert plugin.provider_options == options
    secrets = {v for v in values.values() if v not in PUBLIC}
    assert secrets <= set(registered)
    assert not PUBLIC & set(registered)
    assert (
        plugin.option_prefix + "_propagation_seconds"
        == name.replace("-", "_") + "_propagation_seconds"
    )


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - {"dns-cloudflare"}))
def test_each_missing_key_is_named(tmp_path: Path, name: str) -> None:
    _, values, _ = EXPECTED[name]
    required = [k for k in values if k != "dns_linode_version"]
    for key in required:
        path = write_ini(tmp_path, {k: v for k, v in values.items() if k != key})
        plugin, _, _ = authenticator(
            tmp_path, name, **{name.replace("-", "_") + "_credentials": str(path)}
        )
        with pytest.raises(ConfigError) as err:
            plugin.setup()
        assert err.value.message == f"{path} has no {key} (the {name} credentials file)"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"dns_cloudflare_api_token": "tok-0123456789"}, {"auth_token": "tok-0123456789"}),
        (
            {"dns_cloudflare_email": "a@example.com", "dns_cloudflare_api_key": "key-0123456789"},
            {"auth_username": "a@example.com", "auth_token": "key-0123456789"},
        ),
        ({"dns_cloudflare_email": "a@example.com"}, "has no dns_cloudflare_api_key"),
        ({"dns_cloudflare_api_key": "key-0123456789"}, "has no dns_cloudflare_email"),
        ({}, "has no dns_cloudflare_api_token"),
        (
            {"dns_cloudflare_api_token": "tok-0123456789", "dns_cloudflare_api_key": "k"},
            "are not needed with an API token",
        ),
    ],
)
def test_cloudflare_token_or_global_key_as_certbot_checks(
    tmp_path: Path, values: dict[str, str], expected: dict[str, str] | str
) -> None:
    path = write_ini(tmp_path, values)
    plugin, _, _ = authenticator(tmp_path, "dns-cloudflare", dns_cloudflare_credentials=str(path))
    if isinstance(expected, dict):
        plugin.setup()
        assert plugin.provider_options == expected
        return
    with pytest.raises(ConfigError) as err:
        plugin.setup()
    assert expected in err.value.message


def test_a_credentials_file_others_can_read_warns_as_certbot_does(tmp_path: Path) -> None:
    path = write_ini(tmp_path, {"dns_nsone_api_key": "ns1-key-0123456789"}, mode=0o644)
    plugin, _, display = authenticator(tmp_path, "dns-nsone", dns_nsone_credentials=str(path))
    plugin.setup()
    assert any(
        "Unsafe permissions on credentials file" in m and "0644" in m for m in display.messages
    )


def test_no_credentials_flag_is_one_line(tmp_path: Path) -> None:
    plugin, _, _ = authenticator(tmp_path, "dns-ovh")
    with pytest.raises(ConfigError) as err:
        plugin.setup()
    assert err.value.message == "The dns-ovh plugin needs --dns-ovh-credentials FILE"


def test_google_takes_certbots_service_account_file(tmp_path: Path) -> None:
    path = tmp_path / "google.json"
    key = "-----BEGIN PRIVATE KEY-----\nnot-a-real-key-0123456789\n-----END PRIVATE KEY-----\n"
    account = {"type": "service_account", "project_id": "proj-1", "private_key": key}
    path.write_text(json.dumps(account))
    path.chmod(0o600)
    plugin, registered, _ = authenticator(
        tmp_path, "dns-google", dns_google_credentials=str(path), dns_google_project="proj-1"
    )
    plugin.setup()
    assert plugin.provider == "googleclouddns"
    assert plugin.provider_options == {"auth_service_account_info": f"file::{path}"}
    assert key in registered
    without, _, _ = authenticator(tmp_path, "dns-google")
    with pytest.raises(PluginError) as err:
        without.setup()
    assert "Application Default Credentials are not supported" in err.value.message


def test_route53_uses_boto3s_own_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if importlib.util.find_spec("boto3") is None:
        assert route53_unavailable() == "boto3 is not installed; pip install 'dns-lexicon[route53]'"
        return
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-0123456789")
    plugin, registered, _ = authenticator(tmp_path, "dns-route53")
    plugin.setup()
    assert plugin.provider == "route53" and plugin.provider_options == {}
    assert "aws-secret-0123456789" in registered


def test_a_certbot_dns_plugin_we_do_not_map_says_what_to_do() -> None:
    from certbot_like.errors import UsageError
    from certbot_like.plugin_catalog import get

    with pytest.raises(UsageError) as err:
        get("dns-hetzner", "authenticator")
    assert err.value.one_line() == (
        "Unknown authenticator 'dns-hetzner': a DNS plugin certbot-like does not map. Use "
        "--dns-lexicon --dns-lexicon-provider hetzner with a --dns-lexicon-credentials file if "
        "dns-lexicon supports that provider (docs/dns.md lists them), e.g. through "
        "`certbot-like reconfigure`."
    )
