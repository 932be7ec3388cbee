"""dns-lexicon: provider discovery and options, docs, and the real path to a real BIND9.

lexicon has no offline provider: the tests add one (``certbotliketest``, RFC 2136 to the test
BIND) to lexicon's provider package, so the plugin -> lexicon Client -> provider path runs
for real and only the provider's API calls are stand-ins.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from certbot_like_dns_lexicon import LexiconOptions
from certbot_like_dns_lexicon.authenticator import LexiconAuthenticator, is_secret_option
from certbot_like_dns_lexicon.providers import END, START, catalog, markdown, replace_block

from certbot_like.errors import ConfigError, PluginError
from tests.harness.bind import Bind
from tests.unit.dns_support import bind, dns_task, make_context  # noqa: F401

# Importing lexicon puts deprecated module stubs in sys.modules (lexicon.cli ...) that warn
# when anything walks sys.modules; lexicon is imported only by the tests that need it.
pytestmark = pytest.mark.filterwarnings("ignore:Module lexicon.* is deprecated:DeprecationWarning")

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "harness" / "lexicon_provider"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "dns.md"


@pytest.fixture
def test_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import lexicon._private.providers as lexicon_providers  # only where it is used: see below

    monkeypatch.setattr(
        lexicon_providers, "__path__", [*lexicon_providers.__path__, str(PROVIDER_DIR)]
    )
    for name in [n for n in os.environ if n.startswith("LEXICON_")]:
        monkeypatch.delenv(name)
    yield


def ini(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lexicon.ini"
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


def plugin_for(tmp_path: Path, **options: object) -> tuple[LexiconAuthenticator, list[str]]:
    context, registered, _ = make_context(tmp_path)
    options.setdefault("dns_resolver", "127.0.0.1")  # no dependence on the system resolver
    plugin = LexiconAuthenticator(LexiconOptions(**options), context)  # type: ignore[arg-type]
    return plugin, registered


def test_the_docs_list_every_provider_of_the_installed_lexicon() -> None:
    text = DOCS.read_text()
    assert START in text and END in text
    assert replace_block(text, markdown()) == text, (
        "run `python -m certbot_like_dns_lexicon.providers docs/dns.md`"
    )
    names = {info.name for info in catalog()}
    assert {"cloudflare", "ovh", "gandi", "route53", "hetzner", "digitalocean"} <= names
    cloudflare = next(info for info in catalog() if info.name == "cloudflare")
    assert "auth_token" in cloudflare.options


def test_unknown_provider_gets_suggestions(tmp_path: Path) -> None:
    plugin, _ = plugin_for(tmp_path, dns_lexicon_provider="cloudflair")
    with pytest.raises(PluginError) as err:
        plugin.prepare(["dns-01"])
    line = err.value.one_line()
    assert line.startswith(
        "dns-lexicon has no provider named 'cloudflair'. Did you mean cloudflare"
    )
    assert line.endswith("The provider names are listed in docs/dns.md.")
    plugin, _ = plugin_for(tmp_path)
    with pytest.raises(PluginError, match="needs --dns-lexicon-provider NAME"):
        plugin.prepare(["dns-01"])


def test_a_provider_without_its_extra_packages_says_what_to_install(tmp_path: Path) -> None:
    missing = next(info.name for info in catalog() if not info.available)
    plugin, _ = plugin_for(tmp_path, dns_lexicon_provider=missing)
    with pytest.raises(PluginError, match=rf"pip install 'dns-lexicon\[{missing}\]'"):
        plugin.prepare(["dns-01"])


def test_ini_keys_sections_and_environment_feed_the_provider_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ini(
        tmp_path,
        "dns_lexicon_cloudflare_token = tok-en-from-the-ini\n"
        "dns_lexicon_ovh_application_key = not-for-cloudflare\n"
        "[cloudflare]\nzone_id = 0123456789abcdef\n",
    )
    monkeypatch.setenv("LEXICON_CLOUDFLARE_AUTH_USERNAME", "ops@example.com")
    monkeypatch.setenv("LEXICON_CLOUDFLARE_AUTH_TOKEN", "token-from-the-environment")
    plugin, registered = plugin_for(
        tmp_path, dns_lexicon_provider="cloudflare", dns_lexicon_credentials=str(path)
    )
    plugin.prepare(["dns-01"])
    assert plugin.provider_options == {
        "auth_token": "tok-en-from-the-ini",
        "zone_id": "0123456789abcdef",
    }
    assert "tok-en-from-the-ini" in registered and "token-from-the-environment" in registered
    assert "ops@example.com" not in registered and "0123456789abcdef" not in registered
    assert is_secret_option("auth_secret_key") and not is_secret_option("auth_username")


def test_an_option_the_provider_does_not_have_is_a_config_error(tmp_path: Path) -> None:
    path = ini(tmp_path, "dns_lexicon_cloudflare_api_secret = x\n")
    plugin, _ = plugin_for(
        tmp_path, dns_lexicon_provider="cloudflare", dns_lexicon_credentials=str(path)
    )
    with pytest.raises(ConfigError) as err:
        plugin.prepare(["dns-01"])
    assert "has no option 'api_secret'" in err.value.one_line()
    assert "auth_username, auth_token, zone_id" in err.value.one_line()


def test_records_go_through_lexicon_to_bind_and_are_removed(
    tmp_path: Path,
    bind: Bind,  # noqa: F811
    test_provider: None,
) -> None:
    path = ini(
        tmp_path,
        "[certbotliketest]\n"
        f"auth_server = 127.0.0.1\nauth_port = {bind.port}\n"
        f"auth_key_name = {bind.key_name}\nauth_key_secret = {bind.secret}\n",
    )
    plugin, registered = plugin_for(
        tmp_path,
        dns_lexicon_provider="certbotliketest",
        dns_lexicon_credentials=str(path),
        dns_resolver=bind.address,
        dns_nameserver_port=bind.port,
    )
    plugin.prepare(["dns-01"])
    assert bind.secret in registered
    tasks = [dns_task("lex.example.test", "a"), dns_task("*.lex.example.test", "b")]
    tasks.append(dns_task("alias.example.test", "c"))
    plugin.perform(tasks)
    assert bind.txt("_acme-challenge.lex.example.test") == {tasks[0].dns_value, tasks[1].dns_value}
    assert bind.txt("_acme-challenge.alias.delegated.test") == {tasks[2].dns_value}
    plugin.cleanup(tasks)
    assert bind.txt("_acme-challenge.lex.example.test") == set()
    assert bind.txt("_acme-challenge.alias.delegated.test") == set()


def test_a_provider_failure_is_one_line_without_the_secret(
    tmp_path: Path,
    bind: Bind,  # noqa: F811
    test_provider: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("LEXICON_CERTBOTLIKETEST_AUTH_PORT", str(bind.port))
    monkeypatch.setenv("LEXICON_CERTBOTLIKETEST_AUTH_KEY_NAME", bind.key_name)
    monkeypatch.setenv("LEXICON_CERTBOTLIKETEST_AUTH_KEY_SECRET", wrong)
    plugin, _ = plugin_for(
        tmp_path,
        dns_lexicon_provider="certbotliketest",
        dns_resolver=bind.address,
        dns_nameserver_port=bind.port,
    )
    plugin.prepare(["dns-01"])
    with pytest.raises(PluginError) as err:
        plugin.perform([dns_task("bad.example.test")])
    line = err.value.one_line()
    assert line.startswith(
        "The lexicon provider certbotliketest failed to add a TXT record at "
        "_acme-challenge.bad.example.test (zone example.test): AuthenticationError:"
    )
    assert wrong not in line and "\n" not in line
    assert "LEXICON_CERTBOTLIKETEST_" in line
