"""The drop-in takeover of a certbot installation, end to end (issue 15's "Done when").

certbot 5.8 itself, with its own plugins (``CERTBOT_DNS_BIN``: certbot with certbot-nginx,
certbot-apache, certbot-dns-rfc2136, -dnsimple, -route53 and -digitalocean), makes a
configuration directory as a certbot user has one: lineages made with webroot, standalone,
manual (auth and cleanup hooks), nginx and apache (installer and authenticator, a real nginx
and a real apache2), rfc2136 (a real BIND9) and three provider DNS plugins (their APIs
answered by the fakes of :mod:`tests.harness.provider_apis`), executable hooks in
``renewal-hooks/{pre,deploy,post}`` and a ``cli.ini``. Then

1. ``certbot-like renew --force-renewal`` as a cron line runs it renews every lineage, each
   through its own plugin; the directory hooks run in certbot's order; nginx and apache serve
   the new certificates; every renewal conf keeps every line certbot wrote;
2. certbot 5.8 renews the same tree again, and lists every certificate as VALID.

The CA validates http-01 on one port, as on a real machine: a forwarder by ``Host`` name
(:class:`tests.harness.balancer.ByHost`) sends each name to the server that answers for it
(nginx for the nginx, webroot and manual names, apache2, or the standalone port).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from tests.harness.apache import ApacheServer, make_tree, world_readable_dir
from tests.harness.authz import deactivate_valid_authorizations
from tests.harness.balancer import ByHost
from tests.harness.bind import Bind
from tests.harness.nginx import NginxServer, peer_certificate
from tests.harness.provider_apis import ProviderApis
from tests.harness.servers import Pebble, free_port
from tests.integration.checks import assert_lineage, load_chain
from tests.integration.conftest import Client, assert_no_secrets, unique_name
from tests.integration.dns_fixtures import steady_pebble
from tests.integration.test_dns_certbot_plugins import (  # noqa: F401  (fixtures)
    PUBLIC_ZONE,
    ZONE,
    apis,
    aws_environment,
    bind,
    certbot_dns_bin,
    certbot_keys,
    credentials,
    through_fakes,
)

pebble = steady_pebble()

CLI_INI = """\
# as a certbot user keeps it in /etc/letsencrypt/cli.ini
max-log-backups = 3
rsa-key-size = 2048
agree-tos = True
register-unsafely-without-email = True
non-interactive = True
"""

HOOK = """#!/bin/sh
case "{stage}" in
  deploy) echo "deploy $(basename "$RENEWED_LINEAGE") [$RENEWED_DOMAINS]" >> {log} ;;
  *) echo "{stage}" >> {log} ;;
esac
"""

AUTH_HOOK = """#!/bin/sh
mkdir -p {root}/.well-known/acme-challenge
printf %s "$CERTBOT_VALIDATION" > {root}/.well-known/acme-challenge/$CERTBOT_TOKEN
echo "auth $CERTBOT_DOMAIN" >> {log}
"""

CLEANUP_HOOK = """#!/bin/sh
rm -f {root}/.well-known/acme-challenge/$CERTBOT_TOKEN
echo "cleanup $CERTBOT_DOMAIN" >> {log}
"""

SITE = """\
server {{
    listen {{http}};
    server_name {name};
    root {root};
}}
"""

APACHE_CTL = """#!/bin/sh
# certbot-apache calls `CTL graceful` and `CTL configtest` as apache2ctl takes them
case "$1" in
  graceful) exec {ctl} -k graceful ;;
  configtest) exec {ctl} -t ;;
  *) exec {ctl} "$@" ;;
esac
"""


def http_name(prefix: str) -> str:
    """A fresh name under the BIND zone (its wildcard A record is 127.0.0.1)."""
    return f"{unique_name(prefix).removesuffix('.test')}.{ZONE}"


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


@dataclass
class Servers:
    """The machine's web servers and the port the CA's http-01 validation reaches."""

    nginx: NginxServer
    apache: ApacheServer
    apache_name: str
    standalone_port: int
    routes: dict[str, int]
    base: Path


@pytest.fixture(scope="module")
def servers(pebble: Pebble) -> Iterator[Servers]:
    base = world_readable_dir("certbot-like-takeover-")
    nginx = NginxServer.create(base / "nginx", free_port(), free_port())
    nginx.write_site("default", "server {\n    listen {http} default_server;\n    return 404;\n}\n")
    names = {key: http_name(key.lower()) for key in ("A", "B", "C", "OLD", "D", "E")}
    apache = make_tree("debian", base / "apache", names, free_port())
    for site in ("legacy.conf", "parked.conf"):  # files certbot's Augeas cannot read
        for folder in ("sites-enabled", "sites-available"):
            (apache.root / folder / site).unlink(missing_ok=True)
    for module in ("ssl.load", "ssl.conf", "socache_shmcb.load"):  # a2enmod ssl, done before
        (apache.root / "mods-enabled" / module).symlink_to(f"../mods-available/{module}")
    routes: dict[str, int] = {names["A"]: apache.http_port}
    router = ByHost("127.0.0.1", pebble.http_port, routes)
    nginx.start()
    apache.start()
    yield Servers(nginx, apache, names["A"], free_port(), routes, base)
    nginx.stop()
    apache.stop()
    router.close()
    shutil.rmtree(base, ignore_errors=True)


@dataclass
class Tree:
    """The certbot-made configuration directory: lineage name -> authenticator."""

    client: Client
    cli_ini: Path
    hook_log: Path
    lineages: dict[str, str]
    env: dict[str, str]

    def dirs(self) -> list[str]:
        root = self.client.root
        return [
            "--config-dir", str(self.client.config_dir), "--work-dir", str(root / "work"),
            "--logs-dir", str(root / "logs"),
        ]  # fmt: skip

    def certbot(self, binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """certbot 5.8 with the cli.ini, as its user runs it."""
        cmd = [str(binary), *args, *self.dirs(), "-c", str(self.cli_ini)]
        return subprocess.run(
            cmd, capture_output=True, text=True, env=self.env, timeout=180, check=False
        )

    def params(self) -> dict[str, list[str]]:
        """Each lineage's renewal conf, as lines."""
        renewal = self.client.config_dir / "renewal"
        return {name: (renewal / f"{name}.conf").read_text().splitlines() for name in self.lineages}


def make_tree_with_certbot(
    client: Client, servers: Servers, fakes: ProviderApis, dns: Bind, certbot: Path
) -> Tree:
    """Every kind of lineage, made by certbot 5.8 with its own plugins."""
    through_fakes(client, fakes)
    aws_environment(client, fakes)
    env = {**os.environ, **client.env, "REQUESTS_CA_BUNDLE": str(client.pebble.ca_bundle)}
    cli_ini = client.config_dir / "cli.ini"
    cli_ini.parent.mkdir(parents=True)
    cli_ini.write_text(CLI_INI)
    tree = Tree(client, cli_ini, client.root / "hooks.log", {}, env)
    nginx, apache = servers.nginx, servers.apache
    common = ["--server", client.pebble.directory_url]

    def make(authenticator: str, name: str, *args: str, verb: str = "certonly") -> None:
        made = tree.certbot(certbot, verb, *common, "-d", name, *args)
        assert made.returncode == 0, f"certbot {authenticator}: {made.stdout}{made.stderr}"
        tree.lineages[name] = authenticator

    webroot = client.root / "webroot"
    webroot.mkdir()
    name = http_name("webroot")
    nginx.write_site(name, SITE.format(name=name, root=webroot))
    manual_root = client.root / "manual"
    manual = http_name("manual")
    nginx.write_site(manual, SITE.format(name=manual, root=manual_root))
    site = http_name("nginx")
    nginx.write_site(site, SITE.format(name=site, root=nginx.prefix / "www"))
    subprocess.run([str(nginx.ctl), "-s", "reload"], check=True, capture_output=True)
    for each in (name, manual, site):
        servers.routes[each] = nginx.http_port
    make("webroot", name, "--webroot", "-w", str(webroot))

    standalone = http_name("standalone")
    servers.routes[standalone] = servers.standalone_port
    make(
        "standalone", standalone, "--standalone", "--http-01-port",
        str(servers.standalone_port), "--http-01-address", "127.0.0.1",
    )  # fmt: skip

    log = tree.hook_log
    auth = executable(client.root / "auth.sh", AUTH_HOOK.format(root=manual_root, log=log))
    cleanup = executable(client.root / "clean.sh", CLEANUP_HOOK.format(root=manual_root, log=log))
    make(
        "manual", manual, "--manual", "--preferred-challenges", "http",
        "--manual-auth-hook", str(auth), "--manual-cleanup-hook", str(cleanup),
    )  # fmt: skip

    make(
        "nginx", site, "--nginx", "--nginx-server-root", str(nginx.prefix),
        "--nginx-ctl", str(nginx.ctl), "--http-01-port", str(nginx.http_port),
        "--https-port", str(nginx.https_port), "--no-redirect", verb="run",
    )  # fmt: skip

    ctl = executable(apache.root / "certbot-apachectl", APACHE_CTL.format(ctl=apache.ctl))
    make(
        "apache", servers.apache_name, "--apache", "--apache-server-root", str(apache.root),
        "--apache-vhost-root", str(apache.root / "sites-available"), "--apache-ctl", str(ctl),
        "--http-01-port", str(apache.http_port), "--https-port", str(apache.https_port),
        "--no-redirect", verb="run",
    )  # fmt: skip

    # certbot-apache writes its SSL VirtualHost on *:443 whatever --https-port says; the
    # operator of a server on another port edits it, as this test does.
    for ssl_site in (apache.root / "sites-available").glob("*-le-ssl.conf"):
        ssl_site.write_text(ssl_site.read_text().replace("*:443>", f"*:{apache.https_port}>"))
    subprocess.run([str(ctl), "graceful"], check=True, capture_output=True)
    serves(apache.https_port, servers.apache_name, client.live(servers.apache_name))
    serves(nginx.https_port, site, client.live(site))

    rfc2136 = dns.credentials(client.root / "rfc2136.ini")
    make(
        "dns-rfc2136", http_name("rfc2136"), "--dns-rfc2136", "--dns-rfc2136-credentials",
        str(rfc2136), "--dns-rfc2136-propagation-seconds", "0",
    )  # fmt: skip

    for plugin in ("dnsimple", "digitalocean"):
        ini = credentials(client, plugin, certbot_keys(plugin, fakes))
        make(
            f"dns-{plugin}", f"{unique_name(plugin[:5]).removesuffix('.test')}.{PUBLIC_ZONE}",
            f"--dns-{plugin}", f"--dns-{plugin}-credentials", str(ini),
            f"--dns-{plugin}-propagation-seconds", "0",
        )  # fmt: skip
    make(
        "dns-route53", f"{unique_name('r53').removesuffix('.test')}.{PUBLIC_ZONE}", "--dns-route53"
    )

    hooks = client.config_dir / "renewal-hooks"
    for stage in ("pre", "deploy", "post"):
        executable(hooks / stage / f"10-{stage}", HOOK.format(stage=stage, log=log))
    return tree


def serves(port: int, name: str, live: Path, timeout: float = 10) -> None:
    """Poll until the TLS handshake on *port* for SNI *name* presents the lineage's cert."""
    want = load_chain(live / "cert.pem")[0].public_bytes(encoding=Encoding.DER)
    deadline = time.monotonic() + timeout
    while (seen := peer_certificate(port, name)) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen == want, f"{name} on port {port} does not serve {live / 'cert.pem'}"


def hook_lines(tree: Tree) -> list[str]:
    """The hook log without the manual hooks' lines (their place is the authorization's)."""
    lines = tree.hook_log.read_text().splitlines()
    return [line for line in lines if not line.startswith(("auth ", "cleanup "))]


def assert_certbots_hook_order(tree: Tree) -> None:
    """The pre directory hook once before any renewal, a deploy hook for every lineage, the
    post hook once at the end."""
    lines = hook_lines(tree)
    assert lines[0] == "pre" and lines[-1] == "post", lines
    deployed = sorted(lines[1:-1])
    assert deployed == sorted(f"deploy {name} [{name}]" for name in tree.lineages), lines


def test_certbot_tree_is_taken_over_and_certbot_still_renews_it(
    servers: Servers,
    apis: ProviderApis,  # noqa: F811
    bind: Bind,  # noqa: F811
    pebble: Pebble,
    certbot_dns_bin: Path,  # noqa: F811
) -> None:
    # Apache's children (www-data) read certbot-apache's challenge files in the work dir.
    client = Client(pebble, servers.base / "certbot")
    tree = make_tree_with_certbot(client, servers, apis, bind, certbot_dns_bin)
    before = tree.params()
    seen = {p: len(apis.seen(p)) for p in ("dnsimple", "digitalocean", "route53")}
    tree.hook_log.write_text("")
    # Every DNS plugin must really answer a challenge: Pebble reuses one valid
    # authorization in a hundred even with PEBBLE_AUTHZREUSE=0 (tests/harness/authz.py).
    deactivate_valid_authorizations(pebble.directory_url, pebble.ca_bundle, client.config_dir)

    # The cron line, with certbot-like in certbot's place; the test's DNS resolver is given
    # through the environment (a real machine's resolver finds the zones itself).
    env = {
        **tree.env,
        "CERTBOT_LIKE_DNS_RESOLVER": bind.address,
        "CERTBOT_LIKE_DNS_NAMESERVER_PORT": str(bind.port),
    }
    renewed = client.run_raw(
        ["renew", "-n", "--no-random-sleep-on-renew", "--force-renewal", *tree.dirs(),
         "-c", str(tree.cli_ini)],
        env=env, timeout=180,
    )  # fmt: skip
    assert renewed.returncode == 0, renewed
    for name in tree.lineages:
        assert_lineage(client.live(name), {name}, pebble.root_pem(), version=2)
    assert_certbots_hook_order(tree)
    manual = next(n for n, a in tree.lineages.items() if a == "manual")
    assert f"auth {manual}" in tree.hook_log.read_text()  # the manual lineage's own hooks
    for plugin, count in seen.items():
        assert len(apis.seen(plugin)) > count, f"{plugin}'s API was not used"
    assert not apis.records
    nginx_name = next(n for n, a in tree.lineages.items() if a == "nginx")
    serves(servers.nginx.https_port, nginx_name, client.live(nginx_name))
    serves(servers.apache.https_port, servers.apache_name, client.live(servers.apache_name))
    after = tree.params()
    lost = [
        f"{name}: {line}"
        for name, lines in before.items()
        for line in lines
        # (the writer's version, which certbot rewrites on renewal too)
        if line not in after[name] and not line.startswith("version = ")
    ]
    assert not lost, f"lines certbot wrote lost from renewal confs: {lost}"

    # certbot 5.8 renews what certbot-like renewed.
    tree.hook_log.write_text("")
    again = tree.certbot(certbot_dns_bin, "renew", "--force-renewal", "--no-random-sleep-on-renew")
    assert again.returncode == 0, again.stdout + again.stderr
    for name in tree.lineages:
        assert_lineage(client.live(name), {name}, pebble.root_pem(), version=3)
    assert_certbots_hook_order(tree)
    serves(servers.nginx.https_port, nginx_name, client.live(nginx_name))
    serves(servers.apache.https_port, servers.apache_name, client.live(servers.apache_name))
    listed = tree.certbot(certbot_dns_bin, "certificates")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for name in tree.lineages:
        assert f"Certificate Name: {name}" in listed.stdout
    assert listed.stdout.count("(VALID:") == len(tree.lineages), listed.stdout
    assert_no_secrets(client, extra=tuple(t for p, t in apis.tokens.items() if p != "route53"))
