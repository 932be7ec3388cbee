"""End to end: certbot's DNS plugin names (dns-cloudflare, dns-digitalocean, dns-dnsimple),
through lexicon's real providers, to fake provider APIs at the HTTP layer, to a real BIND9
that Pebble resolves through; and the takeover of lineages whose renewal confs certbot 5.8
wrote for those plugins.

The provider APIs are :mod:`tests.harness.provider_apis`; the certbot-like process reaches
them through the ``sitecustomize`` of ``tests/harness/lexicon_site`` (HTTPS requests to
``api.cloudflare.com`` & co. are sent to the fake).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.bind import DEFAULT_ZONES, Bind
from tests.harness.leaks import register_secret
from tests.harness.provider_apis import ENV_VARIABLE, ProviderApis
from tests.harness.servers import Pebble
from tests.integration.checks import assert_lineage
from tests.integration.conftest import Client, assert_no_secrets, unique_name
from tests.integration.dns_fixtures import ZONE_RECORDS, error_line, run, steady_pebble
from tests.integration.test_certbot_compat import certbot_bin, run_certbot  # noqa: F401

SITE = Path(__file__).resolve().parents[1] / "harness" / "lexicon_site"
ZONE = "example.test"
PUBLIC_ZONE = "example.net"
"""A zone under a public suffix: certbot's lexicon-based plugins guess zones from the public
suffix list, on which ``.test`` is not."""


@pytest.fixture(scope="module")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind]:
    """The module's BIND9: the DNS tests' zones plus :data:`PUBLIC_ZONE`."""
    zones = (*DEFAULT_ZONES, PUBLIC_ZONE)
    server = Bind(tmp_path_factory.mktemp("bind"), zones=zones, records=ZONE_RECORDS).start()
    yield server
    server.stop()


pebble = steady_pebble()


def _token() -> str:
    value = secrets.token_hex(20)
    register_secret(value)  # every CLI run's output and log is scanned for it
    return value


@pytest.fixture(scope="module")
def apis(bind: Bind) -> Iterator[ProviderApis]:
    tokens = {p: _token() for p in ("cloudflare", "digitalocean", "dnsimple")}
    tokens["route53"] = "AKIAFAKE" + secrets.token_hex(6).upper()  # the access key id
    server = ProviderApis(bind, tokens=tokens).start()
    server.cloudflare_global_key = ("ops@example.test", _token())
    yield server
    server.stop()


def through_fakes(client: Client, apis: ProviderApis) -> None:
    path = os.environ.get("PYTHONPATH")
    client.env["PYTHONPATH"] = f"{SITE}{os.pathsep}{path}" if path else str(SITE)
    client.env[ENV_VARIABLE] = apis.url


def aws_environment(client: Client, apis: ProviderApis) -> str:
    """boto3's settings for the fake Route 53, keys in the environment; returns the secret."""
    secret = _token()
    client.env["AWS_ENDPOINT_URL_ROUTE_53"] = apis.url
    client.env["AWS_CONFIG_FILE"] = str(client.root / "no-aws-config")
    client.env["AWS_SHARED_CREDENTIALS_FILE"] = str(client.root / "no-aws-credentials")
    # Only because of the endpoint override: Route 53's own endpoint is global.
    client.env["AWS_DEFAULT_REGION"] = "us-east-1"
    client.env["AWS_ACCESS_KEY_ID"] = apis.tokens["route53"]
    client.env["AWS_SECRET_ACCESS_KEY"] = secret
    return secret


def credentials(client: Client, plugin: str, lines: dict[str, str], mode: int = 0o600) -> Path:
    path = client.root / f"{plugin}.ini"
    path.write_text("".join(f"{key} = {value}\n" for key, value in lines.items()))
    path.chmod(mode)
    return path


def certbot_keys(plugin: str, apis: ProviderApis) -> dict[str, str]:
    """The credentials file certbot's plugin documents, for the fake's accepted token."""
    if plugin == "cloudflare":
        return {"dns_cloudflare_api_token": apis.tokens["cloudflare"]}
    if plugin == "digitalocean":
        return {"dns_digitalocean_token": apis.tokens["digitalocean"]}
    return {"dns_dnsimple_token": apis.tokens["dnsimple"]}


@pytest.mark.parametrize("plugin", ["cloudflare", "digitalocean", "dnsimple"])
def test_a_wildcard_through_certbots_plugin_name(
    client: Client,
    apis: ProviderApis,
    bind: Bind,
    pebble: Pebble,
    plugin: str,
) -> None:
    through_fakes(client, apis)
    ini = credentials(client, plugin, certbot_keys(plugin, apis))
    name = f"{unique_name(plugin[:5])}.{ZONE}"
    before = len(apis.seen(plugin))
    result = run(
        client,
        "obtain",
        "-d",
        name,
        "-d",
        f"*.{name}",
        f"--dns-{plugin}",
        f"--dns-{plugin}-credentials",
        str(ini),
        *bind.lookup_args(),
    )
    assert result.returncode == 0, result
    assert_lineage(client.live(name), {name, f"*.{name}"}, pebble.root_pem())
    seen = apis.seen(plugin)[before:]
    assert [r.method for r in seen].count("POST") == 2  # the apex's and the wildcard's values
    assert [r.method for r in seen].count("DELETE") == 2
    assert all(r.headers["Authorization"] == f"Bearer {apis.tokens[plugin]}" for r in seen)
    assert bind.txt(f"_acme-challenge.{name}") == set()
    conf = (client.config_dir / "renewal" / f"{name}.conf").read_text()
    assert f"authenticator = dns-{plugin}\n" in conf
    assert f"dns_{plugin}_credentials = {ini}\n" in conf
    assert_no_secrets(client, extra=(apis.tokens[plugin],))


@pytest.mark.parametrize("source", ["environment", "shared credentials file"])
def test_route53_with_boto3s_credentials(
    client: Client,
    apis: ProviderApis,
    bind: Bind,
    pebble: Pebble,
    source: str,
) -> None:
    """No credentials option, as certbot-dns-route53: boto3 finds the AWS keys itself."""
    through_fakes(client, apis)
    secret = aws_environment(client, apis)
    if source != "environment":
        del client.env["AWS_ACCESS_KEY_ID"], client.env["AWS_SECRET_ACCESS_KEY"]
        shared = client.root / "aws-credentials"
        shared.write_text(
            f"[default]\naws_access_key_id = {apis.tokens['route53']}\n"
            f"aws_secret_access_key = {secret}\n"
        )
        client.env["AWS_SHARED_CREDENTIALS_FILE"] = str(shared)
    name = f"{unique_name('r53')}.{ZONE}"
    before = len(apis.seen("route53"))
    result = run(
        client, "obtain", "-d", name, "-d", f"*.{name}", "--dns-route53", *bind.lookup_args()
    )
    assert result.returncode == 0, result
    assert_lineage(client.live(name), {name, f"*.{name}"}, pebble.root_pem())
    changes = [r for r in apis.seen("route53")[before:] if r.method == "POST"]
    assert len(changes) == 4  # CREATE, UPSERT (the second value), then two removals
    assert bind.txt(f"_acme-challenge.{name}") == set()
    conf = (client.config_dir / "renewal" / f"{name}.conf").read_text()
    assert "authenticator = dns-route53\n" in conf
    assert_no_secrets(client, extra=(secret,))


def test_cloudflare_global_api_key_and_email(
    client: Client,
    apis: ProviderApis,
    bind: Bind,
    pebble: Pebble,
) -> None:
    through_fakes(client, apis)
    assert apis.cloudflare_global_key is not None
    email, key = apis.cloudflare_global_key
    ini = credentials(
        client, "cf-global", {"dns_cloudflare_email": email, "dns_cloudflare_api_key": key}
    )
    name = f"{unique_name('cfkey')}.{ZONE}"
    before = len(apis.seen("cloudflare"))
    result = run(
        client, "obtain", "-d", name, "--dns-cloudflare", "--dns-cloudflare-credentials",
        str(ini), *bind.lookup_args(),
    )  # fmt: skip
    assert result.returncode == 0, result
    assert_lineage(client.live(name), {name}, pebble.root_pem())
    seen = apis.seen("cloudflare")[before:]
    assert seen and all(r.headers.get("X-Auth-Key") == key for r in seen)
    assert all(r.headers.get("X-Auth-Email") == email for r in seen)


def test_a_refused_token_is_one_line_without_the_token(
    client: Client,
    apis: ProviderApis,
    bind: Bind,
) -> None:
    through_fakes(client, apis)
    wrong = _token()
    ini = credentials(client, "do-wrong", {"dns_digitalocean_token": wrong}, mode=0o644)
    name = f"{unique_name('refused')}.{ZONE}"
    result = run(
        client, "obtain", "-d", name, "--dns-digitalocean", "--dns-digitalocean-credentials",
        str(ini), *bind.lookup_args(),
    )  # fmt: skip
    assert result.returncode == 4, result
    assert error_line(result).startswith(
        "Error: The lexicon provider digitalocean failed to add a TXT record at "
        f"_acme-challenge.{name} (zone {ZONE}): HTTPError: 401"
    )
    assert "--dns-digitalocean-credentials" in result.stderr  # the hint says where to look
    assert f"Unsafe permissions on credentials file {ini}: mode 0644" in result.stderr
    assert not client.live(name).exists()
    assert_no_secrets(client, extra=(wrong,))


def test_a_missing_credentials_key_is_refused_before_any_order(
    client: Client,
    apis: ProviderApis,
    pebble: Pebble,
) -> None:
    through_fakes(client, apis)
    ini = credentials(client, "dnsimple-empty", {"dns_dnsimple_other": "x"})
    orders = sum("order-plz" in line for line in pebble.request_lines())
    result = run(
        client, "obtain", "-d", f"nokey.{ZONE}", "--dns-dnsimple", "--dns-dnsimple-credentials",
        str(ini),
    )  # fmt: skip
    assert result.returncode == 3, result
    assert error_line(result) == (
        f"Error: {ini} has no dns_dnsimple_token (the dns-dnsimple credentials file). "
        "Add dns_dnsimple_token = ... as for certbot-dns-dnsimple (see docs/dns.md)."
    )
    assert sum("order-plz" in line for line in pebble.request_lines()) == orders


def _certbot_lineage(certbot: Path, client: Client, pebble: Pebble, name: str) -> Path:
    """A lineage certbot 5.8 made (standalone), its renewal conf then turned into the one
    certbot writes for a DNS plugin; returns the conf path."""
    made = run_certbot(
        certbot, client, "certonly", "--server", pebble.directory_url, "--standalone",
        "--http-01-port", str(pebble.http_port), "--http-01-address", "127.0.0.1",
        "--agree-tos", "--register-unsafely-without-email", "-d", name,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    return client.config_dir / "renewal" / f"{name}.conf"


def take_over(
    client: Client,
    apis: ProviderApis,
    bind: Bind,
    pebble: Pebble,
    certbot: Path,
    plugins: tuple[str, ...],
    zone: str = ZONE,
) -> dict[str, tuple[str, Path]]:
    """Lineages as certbot-dns-<plugin> leaves them, renewed by certbot-like: checks that
    each renewed through its plugin and that its [renewalparams] lost nothing; returns
    plugin -> (lineage name, renewal conf)."""
    lineages: dict[str, tuple[str, Path, str]] = {}
    for plugin in plugins:
        name = f"{unique_name('taken-' + plugin[:5])}.{zone}"
        conf = _certbot_lineage(certbot, client, pebble, name)
        # What certbot-dns-<plugin> leaves in [renewalparams]: its name and credentials path
        # (and the propagation wait when the operator gave one); dns-route53 has no option.
        keys = f"authenticator = dns-{plugin}\n"
        if plugin != "route53":
            ini = credentials(client, f"certbot-{plugin}", certbot_keys(plugin, apis))
            keys += f"dns_{plugin}_credentials = {ini}\n"
        if plugin == "dnsimple":
            keys += "dns_dnsimple_propagation_seconds = 0\n"
        text = conf.read_text().replace("authenticator = standalone\n", keys)
        assert keys in text
        conf.write_text(text)
        lineages[plugin] = (name, conf, text)

    renewed = client.run(
        "renew", "--force-renewal", "--no-random-sleep-on-renew", *bind.lookup_args(),
        register=False,
    )  # fmt: skip
    assert renewed.returncode == 0, renewed
    for plugin, (name, conf, before) in lineages.items():
        assert_lineage(client.live(name), {name}, pebble.root_pem(), version=2)
        params = conf.read_text().split("[renewalparams]", 1)[1].splitlines()
        for line in before.split("[renewalparams]", 1)[1].splitlines():
            assert line in params, f"{line!r} lost from {conf}"
        assert apis.seen(plugin), f"{plugin}'s API was not used"
    assert not apis.records
    return {plugin: (name, conf) for plugin, (name, conf, _) in lineages.items()}


def test_certbot_dns_plugin_lineages_renew_unchanged_and_certbot_still_reads_them(
    client: Client,
    apis: ProviderApis,
    bind: Bind,
    pebble: Pebble,
    certbot_bin: Path,  # noqa: F811
) -> None:
    through_fakes(client, apis)
    secret = aws_environment(client, apis)
    plugins = ("cloudflare", "digitalocean", "dnsimple", "route53")
    lineages = take_over(client, apis, bind, pebble, certbot_bin, plugins)

    listed = run_certbot(certbot_bin, client, "certificates")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for name, _ in lineages.values():
        assert f"Certificate Name: {name}" in listed.stdout
    assert "INVALID" not in listed.stdout and "parsefail" not in listed.stdout + listed.stderr
    tokens = [token for plugin, token in apis.tokens.items() if plugin != "route53"]
    assert_no_secrets(client, extra=(*tokens, secret))  # (an AWS access key id is no secret)


CERTBOT_DNS = Path(__file__).resolve().parents[2] / ".venv-certbot-dns" / "bin" / "certbot"


@pytest.fixture(scope="session")
def certbot_dns_bin() -> Path:
    """certbot 5.8 with certbot-dns-dnsimple and certbot-dns-route53 (`make certbot-venv`)."""
    path = Path(os.environ.get("CERTBOT_DNS_BIN", str(CERTBOT_DNS)))
    if not path.exists():
        pytest.fail(
            f"certbot with its DNS plugins is not installed at {path}; run `make certbot-venv`"
        )
    return path


def test_certbot_renews_them_again_with_its_own_plugins(
    client: Client,
    apis: ProviderApis,
    bind: Bind,
    pebble: Pebble,
    certbot_dns_bin: Path,
) -> None:
    through_fakes(client, apis)
    aws_environment(client, apis)
    plugins = ("dnsimple", "route53")
    lineages = take_over(client, apis, bind, pebble, certbot_dns_bin, plugins, PUBLIC_ZONE)
    seen = {plugin: len(apis.seen(plugin)) for plugin in lineages}

    # certbot's process gets the same redirection of the providers' APIs as ours.
    env = {**os.environ, **client.env, "REQUESTS_CA_BUNDLE": str(pebble.ca_bundle)}
    for plugin, (name, _) in lineages.items():
        again = subprocess.run(
            [
                str(certbot_dns_bin), "renew", "--force-renewal", "--no-random-sleep-on-renew",
                "--cert-name", name, "--config-dir", str(client.config_dir),
                "--work-dir", str(client.root / "certbot-work"),
                "--logs-dir", str(client.root / "certbot-logs"), "-n",
            ],
            capture_output=True, text=True, env=env, timeout=180, check=False,
        )  # fmt: skip
        assert again.returncode == 0, again.stdout + again.stderr
        assert_lineage(client.live(name), {name}, pebble.root_pem(), version=3)
        assert len(apis.seen(plugin)) > seen[plugin], f"certbot did not use {plugin}'s API"
    assert not apis.records
    listed = client.run("certificates", "--json", register=False)
    docs = json.loads(listed.stdout)["certificates"]
    assert {d["name"] for d in docs if d["valid"]} >= {name for name, _ in lineages.values()}


def test_an_unmapped_certbot_dns_plugin_says_what_to_do_and_reconfigure_moves_it(
    client: Client,
    apis: ProviderApis,
    bind: Bind,
    pebble: Pebble,
    certbot_bin: Path,  # noqa: F811
) -> None:
    through_fakes(client, apis)
    name = f"{unique_name('hetzner')}.{ZONE}"
    conf = _certbot_lineage(certbot_bin, client, pebble, name)
    conf.write_text(
        conf.read_text().replace(
            "authenticator = standalone\n",
            "authenticator = dns-hetzner\ndns_hetzner_credentials = /root/hetzner.ini\n",
        )
    )
    renewed = client.run("renew", "--force-renewal", "--no-random-sleep-on-renew", register=False)
    assert renewed.returncode != 0, renewed
    assert (
        "Unknown authenticator 'dns-hetzner': a DNS plugin certbot-like does not map. Use "
        "--dns-lexicon --dns-lexicon-provider hetzner with a --dns-lexicon-credentials file"
    ) in renewed.stderr

    client.env["LEXICON_CERTBOTLIKETEST_AUTH_SERVER"] = "127.0.0.1"
    client.env["LEXICON_CERTBOTLIKETEST_AUTH_PORT"] = str(bind.port)
    client.env["LEXICON_CERTBOTLIKETEST_AUTH_KEY_NAME"] = bind.key_name
    client.env["LEXICON_CERTBOTLIKETEST_AUTH_KEY_SECRET"] = bind.secret
    moved = client.run(
        "reconfigure", "--cert-name", name, "--dns-lexicon", "--dns-lexicon-provider",
        "certbotliketest", *bind.lookup_args(), register=False,
    )  # fmt: skip
    assert moved.returncode == 0, moved
    params = conf.read_text().split("[renewalparams]", 1)[1]
    assert "authenticator = dns-lexicon\n" in params
    assert "dns_lexicon_provider = certbotliketest\n" in params
    assert_lineage(client.live(name), {name}, pebble.root_pem(), version=1)  # a dry run
